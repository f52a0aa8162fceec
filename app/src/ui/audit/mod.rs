//! The audit log area, for admins and owners (`Permission::ReadAudit`, the
//! rule the server enforces): the filtered list with its exports
//! (`/audit`), one entry with every field (`/audit/:seq`), and the check of
//! the hash chain (`/audit/verify`). The whole state of the list is in its
//! URL, and its filters are a GET form, so everything works without
//! JavaScript.
mod detail;
mod list;
mod verify;

pub use detail::AuditEntryPage;
pub use list::AuditLogPage;
pub use verify::AuditVerifyPage;

use leptos::prelude::*;

use crate::model::audit::{AuditActorOut, AuditFilter};
use crate::model::AppError;
use crate::ui::components::{item_load_error, NotFound};

/// The link to the list with `filter`, continuing at `before`.
pub(crate) fn list_href(filter: &AuditFilter, before: Option<i64>) -> String {
    let query = filter.to_query(before);
    if query.is_empty() {
        "/audit".to_owned()
    } else {
        format!("/audit?{query}")
    }
}

/// The list of everything this actor did.
pub(crate) fn actor_href(actor: &AuditActorOut) -> String {
    list_href(
        &AuditFilter {
            actor_kind: Some(actor.kind.clone()),
            actor_id: actor.id.map(|id| id.to_string()),
            ..AuditFilter::default()
        },
        None,
    )
}

/// The list of everything done to this resource.
pub(crate) fn resource_href(resource_type: &str, resource_id: Option<&str>) -> String {
    list_href(
        &AuditFilter {
            resource_type: Some(resource_type.to_owned()),
            resource_id: resource_id.map(str::to_owned),
            ..AuditFilter::default()
        },
        None,
    )
}

/// "Success" or "Failed", in words (not a colour alone).
#[component]
pub(crate) fn OutcomeBadge(outcome: String) -> impl IntoView {
    let (class, label) = if outcome == "failure" {
        ("badge danger", "Failed")
    } else {
        ("badge", "Success")
    };
    view! { <span class=class>{label}</span> }
}

/// An error loading an audit page's data, as the page shows it: a redirect
/// to log in, a real 404 with a way back, or the message (a refusal says
/// which role would be needed).
pub(crate) fn load_error(error: AppError) -> AnyView {
    let not_found = NotFound {
        heading: None,
        message: "There is no such entry in this organization's audit log. ",
        back: ("/audit", "Back to the audit log"),
    };
    item_load_error(error, not_found, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn links_keep_only_the_filters_that_are_set() {
        assert_eq!(list_href(&AuditFilter::default(), None), "/audit");
        assert_eq!(
            list_href(&AuditFilter::default(), Some(51)),
            "/audit?before=51"
        );
        let actor = AuditActorOut {
            kind: "user".into(),
            id: Some(Uuid::from_u128(1)),
            name: None,
            email: None,
        };
        assert_eq!(
            actor_href(&actor),
            format!("/audit?actor_kind=user&actor_id={}", Uuid::from_u128(1))
        );
        assert_eq!(
            resource_href("code", Some("A 1")),
            "/audit?resource_type=code&resource_id=A%201"
        );
    }
}
