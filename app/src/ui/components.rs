//! Small building blocks shared by every area's pages.
use std::sync::Arc;

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::model::flash::Flash;
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

/// A labelled text field with its hint and its error underneath, tied
/// together for screen readers. `TextArea` is its several-line sibling.
#[component]
pub fn TextField(
    #[prop(into)] label: String,
    /// Words after the label in a quieter style, such as "(optional)".
    #[prop(optional)]
    label_note: Option<&'static str>,
    name: &'static str,
    /// `field-<name>` unless given: two forms on a page may send the same
    /// name, and other markup may refer to the field.
    #[prop(optional, into)]
    id: Option<String>,
    #[prop(default = "text")] kind: &'static str,
    /// Left to the browser unless given.
    #[prop(optional)]
    autocomplete: Option<&'static str>,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    /// What the field starts with; it follows a value that changes (a
    /// filter that follows the address).
    #[prop(optional, into)]
    value: Option<Signal<String>>,
    #[prop(optional)] maxlength: Option<u32>,
    #[prop(optional)] min: Option<i32>,
    #[prop(optional)] max: Option<i32>,
    #[prop(default = true)] required: bool,
    /// Whether what was typed into a form the server refused fills the
    /// field again. Off where the caller fills the form from it itself (it
    /// may merge it with newer values), or where another form of the page
    /// sends the same name.
    #[prop(default = true)]
    keep_typed: bool,
) -> impl IntoView {
    let ids = FieldIds::new(id, name, hint.is_some());
    // Never a password: the server does not send one back.
    let typed = typed_value_of(name, keep_typed && kind != "password");
    let shown = move || first_value(typed.clone(), value.and_then(|v| v.try_get()));
    // Whole numbers only in this app: the keypad without a decimal point.
    let inputmode = (kind == "number").then_some("numeric");
    view! {
        <div class="field">
            <label for=ids.id.clone()>{label}{label_note.map(label_note_view)}</label>
            <input
                id=ids.id.clone()
                name=name
                type=kind
                inputmode=inputmode
                min=min.map(|n| n.to_string())
                max=max.map(|n| n.to_string())
                maxlength=maxlength.map(|n| n.to_string())
                autocomplete=autocomplete
                required=required
                aria-invalid=move || error.try_get().flatten().is_some().to_string()
                aria-describedby=described_by(ids.hint.clone(), ids.error.clone(), error)
                value=shown
            />
            {field_hint(hint, ids.hint)}
            <FieldError id=ids.error error/>
        </div>
    }
}

/// A labelled text of several lines, with its hint and its error, as
/// `TextField`.
#[component]
pub fn TextArea(
    #[prop(into)] label: String,
    name: &'static str,
    #[prop(optional, into)] id: Option<String>,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    /// What the text starts with.
    #[prop(optional, into)]
    value: Option<String>,
    #[prop(optional)] maxlength: Option<u32>,
    #[prop(default = 3)] rows: u32,
    #[prop(default = true)] required: bool,
    #[prop(default = true)] keep_typed: bool,
) -> impl IntoView {
    let ids = FieldIds::new(id, name, hint.is_some());
    let text = first_value(typed_value_of(name, keep_typed), value).unwrap_or_default();
    // As markup, not as a child: the framework writes a textarea's
    // children unescaped, so a `</textarea>` or `&amp;` typed in would be
    // read as markup. Escaped, the browser's parser and `innerHTML` both
    // give back exactly the text.
    let text = escape_text(&text);
    view! {
        <div class="field">
            <label for=ids.id.clone()>{label}</label>
            <textarea
                id=ids.id.clone()
                name=name
                rows=rows.to_string()
                maxlength=maxlength.map(|n| n.to_string())
                required=required
                aria-invalid=move || error.try_get().flatten().is_some().to_string()
                aria-describedby=described_by(ids.hint.clone(), ids.error.clone(), error)
                inner_html=text
            ></textarea>
            {field_hint(hint, ids.hint)}
            <FieldError id=ids.error error/>
        </div>
    }
}

/// The ids of a field and of what describes it.
struct FieldIds {
    id: String,
    hint: Option<String>,
    error: String,
}

impl FieldIds {
    fn new(id: Option<String>, name: &str, has_hint: bool) -> Self {
        let id = id.unwrap_or_else(|| format!("field-{name}"));
        FieldIds {
            hint: has_hint.then(|| format!("{id}-hint")),
            error: format!("{id}-error"),
            id,
        }
    }
}

fn label_note_view(note: &'static str) -> AnyView {
    view! { " " <span class="muted">{note}</span> }.into_any()
}

fn field_hint(hint: Option<String>, id: Option<String>) -> Option<AnyView> {
    let (hint, id) = hint.zip(id)?;
    Some(view! { <p class="field-hint" id=id>{hint}</p> }.into_any())
}

/// A field's error under it, while it has one (also under the controls
/// that are not text: a select, a group of checkboxes).
#[component]
pub fn FieldError(id: String, error: Signal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || error.try_get().flatten().is_some()>
            <p class="field-error" id=id.clone() role="alert">{move || error.try_get().flatten()}</p>
        </Show>
    }
}

/// What was typed into field `name` of the form the server refused, when
/// this page is its answer and `wanted`.
fn typed_value_of(name: &str, wanted: bool) -> Option<String> {
    wanted
        .then(|| typed_into(crate::ui::flash::page_flash(), name))
        .flatten()
}

/// What was typed into field `name` of a form the server refused, when
/// this page is its answer and that form sent the field (another form of
/// the page must not lose its value to it).
fn typed_into(flash: Option<Flash>, name: &str) -> Option<String> {
    let flash = flash?;
    let form = flash.typed()?;
    form.has(name).then(|| form.value(name))
}

/// What a field shows: what was typed, else the value it was given.
fn first_value(typed: Option<String>, value: Option<String>) -> Option<String> {
    typed.or(value)
}

/// `text` as HTML text.
fn escape_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The ids that describe a field: its hint, and its error while it has
/// one; no attribute at all rather than an empty reference list.
pub fn described_by(
    hint_id: Option<String>,
    error_id: String,
    error: Signal<Option<String>>,
) -> impl Fn() -> Option<String> + Send + Sync + 'static {
    move || {
        let has_error = error.try_get().flatten().is_some();
        let ids: Vec<&str> = hint_id
            .as_deref()
            .into_iter()
            .chain(has_error.then_some(error_id.as_str()))
            .collect();
        (!ids.is_empty()).then(|| ids.join(" "))
    }
}

/// A column heading of a `DataTable`.
#[derive(Debug, Clone)]
pub struct Header {
    text: Oco<'static, str>,
    hidden: bool,
}

impl Header {
    /// A heading for screen readers only: a column of buttons needs no
    /// visible one, but a table read aloud names every column.
    pub fn hidden(text: &'static str) -> Self {
        Header {
            text: text.into(),
            hidden: true,
        }
    }
}

impl From<&'static str> for Header {
    fn from(text: &'static str) -> Self {
        Header {
            text: text.into(),
            hidden: false,
        }
    }
}

impl From<String> for Header {
    fn from(text: String) -> Self {
        Header {
            text: text.into(),
            hidden: false,
        }
    }
}

/// The column headings of a `DataTable`, in order: `["Name", "Email"]`,
/// or `Header`s where one is hidden or written at run time.
pub struct Headers(Vec<Header>);

impl<H: Into<Header>, const N: usize> From<[H; N]> for Headers {
    fn from(headers: [H; N]) -> Self {
        Headers(headers.into_iter().map(Into::into).collect())
    }
}

/// A table of rows under column headings, built the same way on every
/// page. The caller builds each row (`<tr>`, with the `data-*` attributes
/// tests find it by); the table adds the rest.
#[component]
pub fn DataTable(
    /// Classes beside `table`.
    #[prop(optional)]
    class: Option<&'static str>,
    #[prop(optional)] testid: Option<&'static str>,
    #[prop(optional, into)] caption: Option<String>,
    /// The caption for screen readers only, where a heading above already
    /// names the table to the eye.
    #[prop(optional)]
    caption_hidden: bool,
    #[prop(into)] headers: Headers,
    rows: Vec<AnyView>,
    /// What shows instead of the table when there are no rows; without it
    /// an empty table shows.
    #[prop(optional)]
    empty: Option<&'static str>,
    /// Below the table or the empty message: the links to other pages.
    #[prop(optional)]
    pager: Option<AnyView>,
    /// Inside a box that scrolls sideways, for tables wider than a phone.
    #[prop(optional)]
    scroll: bool,
) -> impl IntoView {
    let body = match empty.filter(|_| rows.is_empty()) {
        Some(message) => view! { <p class="notice" role="status">{message}</p> }.into_any(),
        None => {
            let caption = caption.map(|text| caption_view(text, caption_hidden));
            let class = class.map_or_else(|| "table".to_owned(), |extra| format!("table {extra}"));
            let table = view! {
                <table class=class data-testid=testid>
                    {caption}
                    <thead>
                        <tr>{headers.0.into_iter().map(header_cell).collect_view()}</tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            };
            if scroll {
                view! { <div class="table-scroll">{table}</div> }.into_any()
            } else {
                table.into_any()
            }
        }
    };
    view! {
        {body}
        {pager}
    }
}

fn caption_view(text: String, hidden: bool) -> AnyView {
    if hidden {
        view! { <caption class="visually-hidden">{text}</caption> }.into_any()
    } else {
        view! { <caption>{text}</caption> }.into_any()
    }
}

fn header_cell(header: Header) -> impl IntoView {
    let text = if header.hidden {
        view! { <span class="visually-hidden">{header.text}</span> }.into_any()
    } else {
        header.text.into_any()
    };
    view! { <th scope="col">{text}</th> }
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

    fn no_error() -> Signal<Option<String>> {
        Signal::stored(None)
    }

    #[test]
    fn a_field_starts_with_its_value_and_keeps_its_limits() {
        let html = render(|| {
            view! { <TextField label="Code" name="code" value="S72.0" maxlength=32 autocomplete="off" error=no_error()/> }
        });
        assert!(
            html.contains(r#"<label for="field-code">Code</label>"#),
            "{html}"
        );
        assert!(html.contains(r#"id="field-code""#), "{html}");
        assert!(html.contains(r#"name="code""#), "{html}");
        assert!(html.contains(r#"type="text""#), "{html}");
        assert!(html.contains(r#"value="S72.0""#), "{html}");
        assert!(html.contains(r#"maxlength="32""#), "{html}");
        assert!(html.contains(r#"autocomplete="off""#), "{html}");
        assert!(html.contains(" required"), "{html}");
    }

    #[test]
    fn a_field_without_a_value_or_limits_says_nothing_of_them() {
        let html = render(|| view! { <TextField label="Your name" name="name"/> });
        for absent in [
            "value=",
            "maxlength=",
            "autocomplete=",
            "aria-describedby=",
            "<textarea",
        ] {
            assert!(!html.contains(absent), "{absent}: {html}");
        }
    }

    #[test]
    fn an_optional_field_is_not_required_and_says_so_beside_its_label() {
        let html = render(|| {
            view! { <TextField label="Category" label_note="(optional)" name="category" required=false/> }
        });
        assert!(!html.contains("required"), "{html}");
        assert!(
            html.contains(r#"Category <span class="muted">(optional)</span></label>"#),
            "{html}"
        );
    }

    #[test]
    fn a_textarea_holds_its_value_as_plain_text_even_markup() {
        // Not stripped of hydration comments: inside a textarea one would be
        // text the person sees.
        let html = Owner::new().with(|| {
            view! {
                <TextArea label="Description" name="description" id="edit-description" maxlength=1000 value="Fracture <of> femur &amp; hip</textarea>"/>
            }
            .to_html()
        });
        assert!(html.contains(r#"rows="3""#), "{html}");
        assert!(html.contains(r#"id="edit-description""#), "{html}");
        assert!(html.contains(r#"<label for="edit-description">"#), "{html}");
        assert!(html.contains(r#"maxlength="1000""#), "{html}");
        assert!(
            html.contains(">Fracture &lt;of&gt; femur &amp;amp; hip&lt;/textarea&gt;</textarea>"),
            "{html}"
        );
        assert!(!html.contains("<input"), "{html}");
    }

    #[test]
    fn a_hint_and_an_error_describe_the_field() {
        let html = render(|| {
            view! {
                <TextField label="Password" name="password" kind="password" hint="At least 10 characters." error=Signal::stored(Some("Too short.".to_owned()))/>
            }
        });
        assert!(
            html.contains(r#"aria-describedby="field-password-hint field-password-error""#),
            "{html}"
        );
        assert!(html.contains(r#"aria-invalid="true""#), "{html}");
        assert!(
            html.contains(
                r#"id="field-password-hint" class="field-hint">At least 10 characters.</p>"#
            ),
            "{html}"
        );
        assert!(
            html.contains(
                r#"id="field-password-error" role="alert" class="field-error">Too short.</p>"#
            ),
            "{html}"
        );
    }

    #[test]
    fn a_number_field_keeps_its_range_and_whole_number_keypad() {
        let html = render(|| {
            view! { <TextField label="Max retries" name="max_retries" kind="number" min=0 max=10 value="5" required=false/> }
        });
        assert!(html.contains(r#"type="number""#), "{html}");
        assert!(html.contains(r#"inputmode="numeric""#), "{html}");
        assert!(html.contains(r#"min="0""#), "{html}");
        assert!(html.contains(r#"max="10""#), "{html}");
        assert!(html.contains(r#"value="5""#), "{html}");
    }

    #[test]
    fn what_was_typed_into_a_refused_form_wins_over_the_value() {
        let flash = crate::model::flash::typed([("code", Some("S72.0X".to_owned()))]);
        let typed = typed_into(Some(flash.clone()), "code");
        assert_eq!(typed.as_deref(), Some("S72.0X"));
        assert_eq!(
            first_value(typed, Some("S72.0".to_owned())).as_deref(),
            Some("S72.0X")
        );
        // A field that form did not send keeps the value it was given.
        let other = typed_into(Some(flash), "body");
        assert_eq!(other, None);
        assert_eq!(
            first_value(other, Some("Kept".to_owned())).as_deref(),
            Some("Kept")
        );
    }

    fn member_row(email: &'static str) -> AnyView {
        view! { <tr data-email=email><td>"Ada"</td><td>{email}</td><td></td></tr> }.into_any()
    }

    fn members_table(rows: Vec<AnyView>) -> String {
        render(move || {
            view! {
                <DataTable
                    class="members"
                    testid="members"
                    caption="Members"
                    caption_hidden=true
                    headers=[Header::from("Name"), "Email".into(), Header::hidden("Actions")]
                    rows
                    empty="No members yet."
                    pager=view! { <nav class="pager">"Next"</nav> }.into_any()
                    scroll=true
                />
            }
        })
    }

    #[test]
    fn a_table_has_its_headings_then_the_rows_it_was_given() {
        let html = members_table(vec![
            member_row("ada@example.com"),
            member_row("bob@example.com"),
        ]);
        assert!(
            html.starts_with(r#"<div class="table-scroll"><table "#),
            "{html}"
        );
        assert!(html.contains(r#"class="table members""#), "{html}");
        assert!(html.contains(r#"data-testid="members""#), "{html}");
        assert!(
            html.contains(r#"<caption class="visually-hidden">Members</caption>"#),
            "{html}"
        );
        assert!(
            html.contains(concat!(
                r#"<thead><tr><th scope="col">Name</th><th scope="col">Email</th>"#,
                r#"<th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>"#
            )),
            "{html}"
        );
        let ada = html
            .find(r#"<tr data-email="ada@example.com">"#)
            .expect(&html);
        let bob = html
            .find(r#"<tr data-email="bob@example.com">"#)
            .expect(&html);
        assert!(ada < bob, "{html}");
        assert!(
            html.ends_with(r#"</tbody></table></div><nav class="pager">Next</nav>"#),
            "{html}"
        );
        assert!(!html.contains("No members yet."), "{html}");
    }

    #[test]
    fn a_table_without_rows_says_so_above_its_pager() {
        let html = members_table(Vec::new());
        assert_eq!(
            html,
            r#"<p role="status" class="notice">No members yet.</p><nav class="pager">Next</nav>"#
        );
    }

    #[test]
    fn a_table_without_an_empty_message_shows_its_headings_alone() {
        let html = render(|| {
            view! { <DataTable headers=["Version 1", "Version 2"] caption="Compared" rows=Vec::new()/> }
        });
        assert_eq!(
            html,
            concat!(
                r#"<table class="table"><caption>Compared</caption><thead><tr><th scope="col">Version 1</th>"#,
                r#"<th scope="col">Version 2</th></tr></thead><tbody></tbody></table>"#
            )
        );
    }
}
