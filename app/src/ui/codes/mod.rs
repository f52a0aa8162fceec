//! The codes area: the list (`/codes`), a new code (`/codes/new`), a code
//! with its edit form, history and comments (`/codes/:id`), the file
//! import (`/codes/import`) and the import history with undo
//! (`/codes/imports`). Links and buttons follow the role from
//! `model::roles`, the same matrix the server enforces.
mod actions;
mod detail;
pub mod diff;
mod history;
mod import;
mod imports;
mod list;
mod new;

pub use detail::CodePage;
pub use import::ImportCodesPage;
pub use imports::{ImportsPage, UndoImportPage};
pub use list::CodesPage;
pub use new::NewCodePage;

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::model::codes::{CodeContent, Severity};
use crate::model::{AppError, Permission};
use crate::ui::components::{
    described_by, field_error, item_load_error, FieldError, NotFound, TextArea, TextField,
};
use crate::ui::layout::current_user;

/// What the viewer is and may do here, from the layout's current user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Viewer {
    pub user_id: Option<crate::model::UserId>,
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

    /// What was typed into a code form the server refused.
    pub fn from_typed(form: crate::model::flash::Typed<'_>) -> Self {
        Draft {
            code: form.value("code"),
            description: form.value("description"),
            category: form.value("category"),
            severity: form.value("severity"),
            active: form.has("active"),
            comment: form.value("comment"),
        }
    }

    /// The form's values on this page: what was typed, when the server
    /// refused it and this page is the answer, else `otherwise`.
    pub fn typed_or(otherwise: impl FnOnce() -> Draft) -> Draft {
        crate::ui::flash::refused_form(|form| Some(Draft::from_typed(form)))
            .unwrap_or_else(otherwise)
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

/// Who changed a field since the version an edit was based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldFate {
    Untouched,
    /// Only the user: their value stays.
    Yours,
    /// Only someone else: their value goes into the form.
    Theirs,
    /// Both, differently: the user must choose.
    Both,
}

impl FieldFate {
    fn of<T: PartialEq>(base: &T, yours: &T, theirs: &T) -> Self {
        match (yours != base, theirs != base) {
            (false, false) => FieldFate::Untouched,
            (true, false) => FieldFate::Yours,
            (false, true) => FieldFate::Theirs,
            (true, true) if yours == theirs => FieldFate::Untouched,
            (true, true) => FieldFate::Both,
        }
    }

    /// The words the conflict view shows for it (not a colour alone).
    pub fn label(self) -> Option<&'static str> {
        match self {
            FieldFate::Untouched => None,
            FieldFate::Yours => Some("your change"),
            FieldFate::Theirs => Some("changed by someone else, taken into the form"),
            FieldFate::Both => Some("both changed: choose"),
        }
    }
}

/// A refused edit merged onto the current version: each field the user
/// left as it was in `base` takes the current value, each field they
/// changed keeps theirs. Returns the merged values and each field's fate
/// (code, description, category, severity, active).
pub fn merge(base: &Draft, yours: &Draft, theirs: &Draft) -> (Draft, [FieldFate; 5]) {
    fn pick<T: PartialEq + Clone>(base: &T, yours: &T, theirs: &T) -> (T, FieldFate) {
        let fate = FieldFate::of(base, yours, theirs);
        let value = if fate == FieldFate::Theirs {
            theirs
        } else {
            yours
        };
        (value.clone(), fate)
    }
    let severity_of = |d: &Draft| d.severity.trim().to_ascii_lowercase();
    let (code, f_code) = pick(&base.code.trim(), &yours.code.trim(), &theirs.code.trim());
    let (description, f_description) = pick(
        &base.description.trim(),
        &yours.description.trim(),
        &theirs.description.trim(),
    );
    let (category, f_category) = pick(
        &base.category.trim(),
        &yours.category.trim(),
        &theirs.category.trim(),
    );
    let (severity, f_severity) = pick(
        &severity_of(base),
        &severity_of(yours),
        &severity_of(theirs),
    );
    let (active, f_active) = pick(&base.active, &yours.active, &theirs.active);
    let merged = Draft {
        code: code.to_owned(),
        description: description.to_owned(),
        category: category.to_owned(),
        severity,
        active,
        comment: yours.comment.clone(),
    };
    (
        merged,
        [f_code, f_description, f_category, f_severity, f_active],
    )
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
    // `values` already holds what a refused form typed, merged after a
    // conflict with what others saved since (`keep_typed=false`).
    view! {
        <TextField
            id=id("code")
            label="Code"
            name="code"
            maxlength=32
            autocomplete="off"
            value=code
            hint="For example S72.0: letters, digits and . - _ / : +"
            error=field_error(error, "code")
            keep_typed=false
        />
        <TextArea
            id=id("description")
            label="Description"
            name="description"
            maxlength=1000
            value=description
            error=field_error(error, "description")
            keep_typed=false
        />
        <TextField
            id=id("category")
            label="Category"
            label_note="(optional)"
            name="category"
            maxlength=200
            required=false
            value=category
            error=field_error(error, "category")
            keep_typed=false
        />
        <div class="field">
            <label for=id("severity")>"Severity"</label>
            <select id=id("severity") name="severity" aria-describedby=described_by(None, id("severity-error"), field_error(error, "severity"))>
                {default_severity_choice
                    .then(|| view! { <option value="" selected=severity.is_empty()>"Organization default"</option> })}
                {Severity::ALL
                    .into_iter()
                    .map(|s| view! { <option value=s.as_str() selected=severity == s.as_str()>{s.label()}</option> })
                    .collect_view()}
            </select>
            <FieldError error=field_error(error, "severity") id=id("severity-error")/>
        </div>
        <div class="field checkbox">
            <input id=id("active") name="active" type="checkbox" checked=active/>
            <label for=id("active")>"Active"</label>
        </div>
        <TextField
            id=id("comment")
            label="Why this change"
            label_note="(optional, kept in the history)"
            name="comment"
            maxlength=1000
            required=false
            value=comment
            error=field_error(error, "comment")
            keep_typed=false
        />
    }
}

/// An error loading a page's data, as the page shows it: a redirect to log
/// in, a real 404 with a way back, or the message.
pub(crate) fn load_error(e: AppError) -> AnyView {
    let not_found = NotFound {
        heading: None,
        message: "There is no such code in this organization. ",
        back: ("/codes", "Back to the codes"),
    };
    item_load_error(e, not_found, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(description: &str, category: &str, severity: &str, active: bool) -> Draft {
        Draft {
            code: "S72.0".into(),
            description: description.into(),
            category: category.into(),
            severity: severity.into(),
            active,
            comment: "why".into(),
        }
    }

    #[test]
    fn a_merge_keeps_the_users_changes_and_takes_everyone_elses() {
        let base = draft("Fracture of femur", "Injury", "high", true);
        let yours = draft("Closed fracture of femur", "Injury", "high", true);
        let theirs = draft("Fracture of femur", "Injuries of the hip", "high", false);
        let (merged, fates) = merge(&base, &yours, &theirs);
        assert_eq!(merged.description, "Closed fracture of femur");
        assert_eq!(merged.category, "Injuries of the hip");
        assert!(!merged.active);
        assert_eq!(merged.comment, "why");
        assert_eq!(
            fates,
            [
                FieldFate::Untouched,
                FieldFate::Yours,
                FieldFate::Theirs,
                FieldFate::Untouched,
                FieldFate::Theirs
            ]
        );
    }

    #[test]
    fn a_field_both_changed_keeps_the_users_value_and_asks_them_to_choose() {
        let base = draft("Fracture", "Injury", "low", true);
        let yours = draft("Open fracture", "Injury", "HIGH", true);
        let theirs = draft("Closed fracture", "Injury", "high", true);
        let (merged, fates) = merge(&base, &yours, &theirs);
        assert_eq!(merged.description, "Open fracture");
        assert_eq!(fates[1], FieldFate::Both);
        // The same change made twice is no conflict.
        assert_eq!(fates[3], FieldFate::Untouched);
        assert_eq!(merged.severity, "high");
    }
}
