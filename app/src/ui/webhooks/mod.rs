//! The webhooks area: the endpoints with "Add endpoint" (`/webhooks`), an
//! endpoint with its settings, controls and delivery log (`/webhooks/:id`),
//! and one delivery with every attempt
//! (`/webhooks/:id/deliveries/:delivery_id`). Members and up see them
//! (`Permission::ReadWebhooks`); forms and buttons show for managers and up
//! (`Permission::ManageWebhooks`), the rule the server enforces.
mod delivery;
mod detail;
mod fields;
mod list;
mod log;

pub use delivery::WebhookDeliveryPage;
pub use detail::WebhookPage;
pub use list::WebhooksPage;

use crate::model::EndpointId;
use leptos::prelude::*;
use std::str::FromStr;

use crate::model::codes::encode_query_value;
use crate::model::webhooks::{DeliveryOut, EndpointHealth, EndpointOut};
use crate::model::{AppError, ErrorCode};
use crate::ui::components::{item_load_error, NotFound};

/// Health at a glance: the share of the last day's attempts that
/// succeeded, in words.
pub(crate) fn health_text(health: &EndpointHealth) -> String {
    let Some(percent) = health.success_percent() else {
        return "No recent attempts".to_owned();
    };
    let total = health.succeeded + health.failed;
    let noun = if total == 1 { "attempt" } else { "attempts" };
    format!("{percent}% of {total} {noun} succeeded (24 h)")
}

/// "Enabled"/"Disabled": words, not a colour.
pub(crate) fn enabled_label(enabled: bool) -> &'static str {
    if enabled {
        "Enabled"
    } else {
        "Disabled"
    }
}

/// What the receiver last answered: its HTTP status, else why there was no
/// answer, else nothing yet.
pub(crate) fn last_response(delivery: &DeliveryOut) -> String {
    match (delivery.last_status_code, &delivery.last_error) {
        (Some(code), _) => format!("HTTP {code}"),
        (None, Some(error)) => error.clone(),
        (None, None) => "—".to_owned(),
    }
}

/// The enabled badge, with the reason when the system turned it off.
#[component]
pub(crate) fn EnabledBadge(endpoint: EndpointOut) -> impl IntoView {
    let class = if endpoint.enabled {
        "badge"
    } else {
        "badge inactive"
    };
    view! {
        <span class=class>{enabled_label(endpoint.enabled)}</span>
        {endpoint.disabled_reason.map(|reason| view! { " " <span class="disabled-reason">{reason}</span> })}
    }
}

/// The link to an endpoint's page, showing its log with `status` only and
/// continuing after `before`.
pub(crate) fn log_href(
    endpoint_id: EndpointId,
    status: Option<&str>,
    before: Option<&str>,
) -> String {
    let pairs: Vec<String> = [("status", status), ("before", before)]
        .into_iter()
        .filter_map(|(name, value)| {
            value
                .filter(|v| !v.is_empty())
                .map(|v| format!("{name}={}", encode_query_value(v)))
        })
        .collect();
    if pairs.is_empty() {
        format!("/webhooks/{endpoint_id}")
    } else {
        format!("/webhooks/{endpoint_id}?{}", pairs.join("&"))
    }
}

/// The headers of a request as sent, one per line.
#[component]
pub(crate) fn RequestHeaders(headers: Vec<(String, String)>) -> impl IntoView {
    view! {
        <dl class="headers mono" data-testid="request-headers">
            {headers
                .into_iter()
                .map(|(name, value)| view! { <dt>{name}</dt><dd>{value}</dd> })
                .collect_view()}
        </dl>
    }
}

/// The id in a route parameter, or the not-found error the page shows for
/// an address that cannot name anything.
pub(crate) fn parse_id<Id: FromStr>(raw: Option<String>) -> Result<Id, AppError> {
    raw.and_then(|s| s.parse().ok())
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, "There is no such webhook endpoint."))
}

/// An error loading a webhook page's data, as the page shows it: a
/// redirect to log in, a real 404 with a way back, or the message.
pub(crate) fn load_error(error: AppError) -> AnyView {
    let not_found = NotFound {
        heading: Some("Not found"),
        message: "There is no such webhook endpoint or delivery in this organization. ",
        back: ("/webhooks", "Back to the webhooks"),
    };
    item_load_error(error, not_found, Some("Webhooks"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::webhooks::DeliveryStatus;
    use crate::model::DeliveryId;

    fn health(succeeded: i64, failed: i64) -> EndpointHealth {
        EndpointHealth {
            succeeded,
            failed,
            waiting: 0,
        }
    }

    #[test]
    fn health_says_the_share_of_recent_attempts_that_succeeded() {
        assert_eq!(
            health_text(&health(49, 1)),
            "98% of 50 attempts succeeded (24 h)"
        );
        assert_eq!(
            health_text(&health(1, 0)),
            "100% of 1 attempt succeeded (24 h)"
        );
    }

    #[test]
    fn health_without_recent_attempts_says_so() {
        assert_eq!(health_text(&health(0, 0)), "No recent attempts");
    }

    #[test]
    fn the_log_link_keeps_only_the_filters_that_are_set() {
        let id = EndpointId::from_u128(7);
        assert_eq!(log_href(id, None, None), format!("/webhooks/{id}"));
        assert_eq!(log_href(id, Some(""), None), format!("/webhooks/{id}"));
        assert_eq!(
            log_href(id, Some("dead"), Some("1700000000000000_abc")),
            format!("/webhooks/{id}?status=dead&before=1700000000000000_abc")
        );
        assert_eq!(
            log_href(id, None, Some("a b&c")),
            format!("/webhooks/{id}?before=a%20b%26c")
        );
    }

    #[test]
    fn the_last_response_is_the_status_else_the_error_else_a_dash() {
        let mut delivery = DeliveryOut {
            id: DeliveryId::from_u128(1),
            endpoint_id: EndpointId::from_u128(2),
            message_id: "msg_1".into(),
            event_type: "code.created".into(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: None,
            last_status_code: None,
            last_error: None,
            created_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
            updated_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        };
        assert_eq!(last_response(&delivery), "—");
        delivery.last_error = Some("connection refused".into());
        assert_eq!(last_response(&delivery), "connection refused");
        delivery.last_status_code = Some(500);
        assert_eq!(last_response(&delivery), "HTTP 500");
    }

    #[test]
    fn an_id_that_is_no_uuid_is_not_found() {
        assert_eq!(
            parse_id::<EndpointId>(Some("nope".into()))
                .unwrap_err()
                .code,
            ErrorCode::NotFound
        );
        assert_eq!(
            parse_id::<EndpointId>(Some(EndpointId::from_u128(3).to_string())).unwrap(),
            EndpointId::from_u128(3)
        );
        assert!(parse_id::<EndpointId>(None).is_err());
    }
}
