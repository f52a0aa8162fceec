//! The codes area: the list (`/codes`), a new code (`/codes/new`), a code
//! with its edit form, history and comments (`/codes/:id`), and the file
//! import (`/codes/import`). Links and buttons follow the role from
//! `model::roles`, the same matrix the server enforces.
mod detail;
pub mod diff;
mod history;
mod import;
mod list;
mod new;

pub use detail::CodePage;
pub use import::ImportCodesPage;
pub use list::CodesPage;
pub use new::NewCodePage;

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::model::codes::{CodeContent, Severity};
use crate::model::{AppError, ErrorCode, Permission};
use crate::ui::layout::current_user;

/// What the viewer is and may do here, from the layout's current user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Viewer {
    pub user_id: Option<uuid::Uuid>,
    pub role: Option<crate::model::Role>,
}

impl Viewer {
    pub async fn load() -> Self {
        let user = current_user().await;
        Viewer {
            user_id: user.as_ref().map(|u| u.id),
            role: user.and_then(|u| u.organization).map(|o| o.role),
        }
    }

    pub fn can(self, permission: Permission) -> bool {
        self.role.is_some_and(|r| r.can(permission))
    }
}

/// A moment as people read it, with the exact time for machines.
pub(crate) fn when(at: DateTime<Utc>) -> impl IntoView {
    view! { <time datetime=at.to_rfc3339()>{at.format("%Y-%m-%d %H:%M UTC").to_string()}</time> }
}

/// "Yes"/"No" for the active flag: words, not a colour.
pub(crate) fn active_label(active: bool) -> &'static str {
    if active {
        "Active"
    } else {
        "Inactive"
    }
}

/// What a code form holds: a code's values, or what the user typed (which
/// may not be valid yet, so plain strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub code: String,
    pub description: String,
    pub category: String,
    /// A severity's name; empty for the organization's default.
    pub severity: String,
    pub active: bool,
    pub comment: String,
}

impl Draft {
    /// An empty form for a new code: active, default severity.
    pub fn new_code() -> Self {
        Draft {
            code: String::new(),
            description: String::new(),
            category: String::new(),
            severity: String::new(),
            active: true,
            comment: String::new(),
        }
    }
}

impl From<&CodeContent> for Draft {
    fn from(c: &CodeContent) -> Self {
        Draft {
            code: c.code.to_string(),
            description: c.description.clone(),
            category: c.category.clone(),
            severity: c.severity.as_str().to_owned(),
            active: c.active,
            comment: String::new(),
        }
    }
}

/// The fields of a code, as a form shows them, filled in from `values`.
#[component]
pub(crate) fn CodeFields(
    /// Prefix of the ids, so two forms on a page never share one.
    prefix: &'static str,
    values: Draft,
    /// Offer "the organization's default" (a new code) rather than
    /// requiring one of the four.
    default_severity_choice: bool,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let id = move |name: &str| format!("{prefix}-{name}");
    let Draft {
        code,
        description,
        category,
        severity,
        active,
        comment,
    } = values;
    let severity = severity.trim().to_ascii_lowercase();
    view! {
        <div class="field">
            <label for=id("code")>"Code"</label>
            <input
                id=id("code")
                name="code"
                type="text"
                required
                maxlength="32"
                autocomplete="off"
                value=code
                aria-invalid=move || invalid(error, "code")
                aria-describedby=described_by(error, "code", id("code-error"), Some(id("code-hint")))
            />
            <p class="field-hint" id=id("code-hint")>"For example S72.0: letters, digits and . - _ / : +"</p>
            <FieldError error field="code" id=id("code-error")/>
        </div>
        <div class="field">
            <label for=id("description")>"Description"</label>
            <textarea
                id=id("description")
                name="description"
                required
                maxlength="1000"
                rows="3"
                aria-invalid=move || invalid(error, "description")
                aria-describedby=described_by(error, "description", id("description-error"), None)
            >
                {description}
            </textarea>
            <FieldError error field="description" id=id("description-error")/>
        </div>
        <div class="field">
            <label for=id("category")>"Category " <span class="muted">"(optional)"</span></label>
            <input
                id=id("category")
                name="category"
                type="text"
                maxlength="200"
                value=category
                aria-invalid=move || invalid(error, "category")
                aria-describedby=described_by(error, "category", id("category-error"), None)
            />
            <FieldError error field="category" id=id("category-error")/>
        </div>
        <div class="field">
            <label for=id("severity")>"Severity"</label>
            <select id=id("severity") name="severity" aria-describedby=described_by(error, "severity", id("severity-error"), None)>
                {default_severity_choice
                    .then(|| view! { <option value="" selected=severity.is_empty()>"Organization default"</option> })}
                {Severity::ALL
                    .into_iter()
                    .map(|s| view! { <option value=s.as_str() selected=severity == s.as_str()>{s.label()}</option> })
                    .collect_view()}
            </select>
            <FieldError error field="severity" id=id("severity-error")/>
        </div>
        <div class="field checkbox">
            <input id=id("active") name="active" type="checkbox" checked=active/>
            <label for=id("active")>"Active"</label>
        </div>
        <div class="field">
            <label for=id("comment")>"Why this change " <span class="muted">"(optional, kept in the history)"</span></label>
            <input
                id=id("comment")
                name="comment"
                type="text"
                maxlength="1000"
                value=comment
                aria-invalid=move || invalid(error, "comment")
                aria-describedby=described_by(error, "comment", id("comment-error"), None)
            />
            <FieldError error field="comment" id=id("comment-error")/>
        </div>
    }
}

/// The ids that describe a field: its hint, and its error while it has one.
fn described_by(
    error: Signal<Option<AppError>>,
    field: &'static str,
    error_id: String,
    hint_id: Option<String>,
) -> impl Fn() -> String + Send + Sync + 'static {
    move || {
        let has_error = error.get().and_then(|e| e.message_for(field)).is_some();
        hint_id
            .iter()
            .chain(has_error.then_some(&error_id))
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn invalid(error: Signal<Option<AppError>>, field: &str) -> String {
    error
        .get()
        .is_some_and(|e| e.field.as_deref() == Some(field))
        .to_string()
}

/// The message of `error` when it is about `field`, under that field.
#[component]
pub(crate) fn FieldError(
    error: Signal<Option<AppError>>,
    field: &'static str,
    id: String,
) -> impl IntoView {
    let message = move || error.get().and_then(|e| e.message_for(field));
    view! {
        <Show when=move || message().is_some()>
            <p class="field-error" id=id.clone() role="alert">{message}</p>
        </Show>
    }
}

/// An error loading a page's data, as the page shows it: a redirect to log
/// in, or the message.
pub(crate) fn load_error(e: AppError) -> AnyView {
    use leptos_router::components::Redirect;
    match e.code {
        ErrorCode::Unauthenticated => view! { <Redirect path="/login"/> }.into_any(),
        ErrorCode::NotFound => {
            #[cfg(feature = "ssr")]
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(http::StatusCode::NOT_FOUND);
            }
            view! {
                <div class="form-error" role="alert">
                    "There is no such code in this organization. "
                    <a href="/codes">"Back to the codes"</a>
                </div>
            }
            .into_any()
        }
        _ => view! { <div class="form-error" role="alert">{e.message}</div> }.into_any(),
    }
}
