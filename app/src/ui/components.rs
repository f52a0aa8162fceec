//! Small building blocks shared by every area's pages.
use std::sync::Arc;

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::model::{AppError, ErrorCode};
use crate::ui::resource::PageResource;

/// Waits for `resource` and renders `children` with its value: the one way a
/// page shows data it loads. While loading it says so; an error is shown as
/// an alert (under `error_heading`, so the page keeps its `h1`), except
/// "not signed in", which sends the visitor to the log-in page (a real 302
/// on the server, as every page renders with `SsrMode::Async`).
///
/// ```ignore
/// <Loaded resource=data error_heading="Members" let:page>
///     <MemberTable page/>
/// </Loaded>
/// ```
#[component]
pub fn Loaded<T, F, V>(
    resource: PageResource<Result<T, AppError>>,
    /// The page's heading, shown above an error when the loaded view would
    /// have carried it.
    #[prop(optional)]
    error_heading: Option<&'static str>,
    children: F,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    // The Transition may run its child again when the resource changes (after
    // an action), so every run needs its own handle on `children`.
    let children = Arc::new(children);
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let children = Arc::clone(&children);
                Suspend::new(async move {
                    match resource.await {
                        Ok(value) => children(value).into_any(),
                        Err(error) => view! { <LoadError error heading=error_heading/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// What a page shows when its data could not be loaded.
#[component]
pub fn LoadError(
    error: AppError,
    #[prop(default = None)] heading: Option<&'static str>,
) -> impl IntoView {
    if error.code == ErrorCode::Unauthenticated {
        return view! { <Redirect path="/login"/> }.into_any();
    }
    view! {
        {heading.map(|heading| view! { <h1>{heading}</h1> })}
        <div class="form-error" role="alert">{error.message}</div>
    }
    .into_any()
}

/// What an item's page says when the item is not there.
pub struct NotFound {
    /// The page's `h1`, where the loaded view would have carried it.
    pub heading: Option<&'static str>,
    /// Why, ending with a space before the way back.
    pub message: &'static str,
    /// The way back to the item's list: its address and the link's text.
    pub back: (&'static str, &'static str),
}

/// An error loading an item's page: what `LoadError` shows, except that a
/// missing item gets a real 404 status and a way back to its list.
pub fn item_load_error(
    error: AppError,
    not_found: NotFound,
    heading: Option<&'static str>,
) -> AnyView {
    if error.code != ErrorCode::NotFound {
        return view! { <LoadError error heading/> }.into_any();
    }
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    let (href, label) = not_found.back;
    view! {
        {not_found.heading.map(|heading| view! { <h1>{heading}</h1> })}
        <div class="form-error" role="alert">{not_found.message}<a href=href>{label}</a></div>
    }
    .into_any()
}

/// A moment in time, written the same way on every page: `2026-11-23 08:52
/// UTC`, or with `date_only` the day alone (the full time then shows on
/// hover). Always UTC and never relative ("3 minutes ago"): the server
/// renders it, so it cannot know the reader's zone or keep "ago" current.
#[component]
pub fn DateTime(
    at: chrono::DateTime<chrono::Utc>,
    #[prop(optional)] date_only: bool,
) -> impl IntoView {
    let full = at.format("%Y-%m-%d %H:%M UTC").to_string();
    let (text, title) = if date_only {
        (at.format("%Y-%m-%d").to_string(), Some(full))
    } else {
        (full, None)
    };
    view! { <time datetime=at.to_rfc3339() title=title>{text}</time> }
}

/// Around the routed page: an error thrown while the page renders (an `Err`
/// in a view) shows a friendly message in place of the page instead of a
/// blank or half-drawn one. Errors a page expects (failed loads, failed
/// actions) are shown by `Loaded` and `FormError` next to what failed.
#[component]
pub fn PageErrorBoundary(children: Children) -> impl IntoView {
    view! {
        <ErrorBoundary fallback=|errors| view! { <PageError errors/> }>
            {children()}
        </ErrorBoundary>
    }
}

#[component]
fn PageError(errors: ArcRwSignal<Errors>) -> impl IntoView {
    let messages = move || {
        errors.with(|errors| {
            errors
                .iter()
                .map(|(_, error)| view! { <li>{error.to_string()}</li> })
                .collect_view()
        })
    };
    view! {
        <main class="page narrow">
            <h1>"Something went wrong"</h1>
            <div class="form-error" role="alert">
                <p>"This page could not be shown. Reload it, or try again in a moment."</p>
                <ul>{messages}</ul>
            </div>
            <p><a href="/dashboard">"Go to your dashboard"</a></p>
        </main>
    }
}

/// The error of the last run of a server action, if it failed.
///
/// This and the other readers of a form's state below read with `try_`:
/// a page drawn again after a form answered disposes the old form while
/// its last updates may still be on their way, and those then read
/// nothing instead of failing.
pub fn action_error<I, O>(action: ServerAction<I>) -> Signal<Option<AppError>>
where
    I: leptos::server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    let answer = action.value();
    Signal::derive(move || answer.try_get().flatten().and_then(Result::err))
}

/// The message for one field out of an action's error.
pub fn field_error(error: Signal<Option<AppError>>, field: &'static str) -> Signal<Option<String>> {
    Signal::derive(move || error.try_get().flatten().and_then(|e| e.message_for(field)))
}

/// A labelled input with its error underneath, tied together for screen
/// readers.
#[component]
pub fn TextField(
    #[prop(into)] label: String,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("field-{name}");
    // What was typed, when the server refused the form and this page is its
    // answer; never a password.
    let typed = (kind != "password")
        .then(|| crate::ui::flash::typed_value(name))
        .flatten();
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = {
        let (error_id, hint_id) = (error_id.clone(), hint_id.clone());
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if error.try_get().flatten().is_some() {
                ids.push(error_id.clone());
            }
            // No attribute at all rather than an empty reference list.
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=kind
                value=typed
                autocomplete=autocomplete
                required
                aria-invalid=move || error.try_get().flatten().is_some().to_string()
                aria-describedby=described_by
            />
            {hint.map(|hint| view! { <p class="field-hint" id=hint_id>{hint}</p> })}
            <Show when=move || error.try_get().flatten().is_some()>
                <p class="field-error" id=error_id.clone() role="alert">{move || error.try_get().flatten()}</p>
            </Show>
        </div>
    }
}

/// An error that concerns the whole form, not one field.
#[component]
pub fn FormError(error: Signal<Option<AppError>>) -> impl IntoView {
    let message = move || error.try_get().flatten().and_then(|e| e.form_message());
    view! {
        <Show when=move || message().is_some()>
            <div class="form-error" role="alert">{message}</div>
        </Show>
    }
}

/// A submit button that says it is working while the action runs. On a
/// server-rendered page (everywhere but an island) `pending` stays false:
/// the browser shows its own progress while the form posts.
#[component]
pub fn SubmitButton(
    label: &'static str,
    pending_label: &'static str,
    #[prop(into)] pending: Signal<bool>,
) -> impl IntoView {
    view! {
        <button type="submit" class="primary" disabled=move || pending.try_get().unwrap_or(false) aria-busy=move || pending.try_get().unwrap_or(false).to_string()>
            {move || if pending.try_get().unwrap_or(false) { pending_label } else { label }}
        </button>
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// The server's HTML without the empty comments (`<!>`) Leptos leaves
    /// for hydration: where they fall is the framework's business (they
    /// move with `erase_components`), what the page says is ours.
    fn render<V: IntoView + 'static>(view: impl FnOnce() -> V) -> String {
        Owner::new().with(|| view().to_html()).replace("<!>", "")
    }

    fn moment() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 23, 8, 52, 7)
            .unwrap()
    }

    #[test]
    fn a_moment_is_written_in_utc_beside_its_machine_readable_form() {
        let html = render(|| view! { <DateTime at=moment()/> });
        assert!(
            html.contains(r#"datetime="2026-11-23T08:52:07+00:00""#),
            "{html}"
        );
        assert!(html.contains(">2026-11-23 08:52 UTC</time>"), "{html}");
        assert!(!html.contains("title="), "{html}");
    }

    #[test]
    fn a_date_only_moment_shows_the_day_and_keeps_the_time_on_hover() {
        let html = render(|| view! { <DateTime at=moment() date_only=true/> });
        assert!(html.contains(">2026-11-23</time>"), "{html}");
        assert!(html.contains(r#"title="2026-11-23 08:52 UTC""#), "{html}");
    }

    #[test]
    fn an_error_thrown_while_a_page_renders_shows_a_friendly_message_instead() {
        let html = render(|| {
            view! {
                <PageErrorBoundary>
                    <p>"Before"</p>
                    {Err::<&'static str, _>(AppError::new(ErrorCode::Internal, "The codes could not be read."))}
                </PageErrorBoundary>
            }
        });
        assert!(html.contains("<h1>Something went wrong</h1>"), "{html}");
        assert!(html.contains(r#"role="alert""#), "{html}");
        assert!(html.contains("The codes could not be read."), "{html}");
        assert!(!html.contains("Before"), "{html}");
    }

    #[test]
    fn a_page_that_renders_without_error_is_shown_as_it_is() {
        let html = render(|| {
            view! {
                <PageErrorBoundary>
                    <p>"All fine"</p>
                    {Ok::<&'static str, AppError>(" and loaded")}
                </PageErrorBoundary>
            }
        });
        assert!(html.contains("All fine"), "{html}");
        assert!(html.contains("and loaded"), "{html}");
        assert!(!html.contains("Something went wrong"), "{html}");
    }

    #[test]
    fn a_failed_load_keeps_the_page_heading_above_the_alert() {
        let error = AppError::new(
            ErrorCode::Forbidden,
            "Only platform administrators may see this.",
        );
        let html = render(move || view! { <LoadError error heading=Some("Organizations")/> });
        assert!(html.contains("<h1>Organizations</h1>"), "{html}");
        assert!(
            html.contains("Only platform administrators may see this."),
            "{html}"
        );
    }
}
