//! Webhook endpoints, deliveries and attempts, as the browser and the
//! server share them. Form input becomes an `EndpointDraft` at the edge;
//! past it, no code handles an unchecked timeout or event type.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{DeliveryId, EndpointId};

use super::codes::{clean_text, optional_number};
use super::AppError;

pub const MAX_URL_LEN: usize = 2048;
pub const MAX_DESCRIPTION_LEN: usize = 500;
pub const DEFAULT_TIMEOUT_SECONDS: i32 = 15;
pub const MAX_TIMEOUT_SECONDS: i32 = 300;
pub const DEFAULT_MAX_RETRIES: i32 = 8;
pub const MAX_RETRIES: i32 = 10;
/// Requests sent to one endpoint at once: few, so a small receiver's listen
/// queue is never overrun.
pub const DEFAULT_MAX_IN_FLIGHT: i32 = 4;
pub const MAX_IN_FLIGHT: i32 = 32;
/// Deliveries on one page of the log.
pub const DELIVERY_PAGE_SIZE: i64 = 50;

/// Every event an endpoint can subscribe to. `webhook.test` is sent only
/// by "Send test event", to the endpoint tested.
pub const EVENT_TYPES: [&str; 12] = [
    "code.created",
    "code.updated",
    "code.deleted",
    "code.restored",
    "comment.created",
    "release.published",
    "member.invited",
    "member.joined",
    "member.role_changed",
    "member.removed",
    "audit.logged",
    "webhook.test",
];

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(
    feature = "ssr",
    sqlx(type_name = "webhook_delivery_status", rename_all = "lowercase")
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum DeliveryStatus {
    /// Not tried yet.
    Pending,
    /// Tried and failed; will be tried again.
    Retrying,
    Succeeded,
    /// Failed on every try allowed: dead-lettered, until replayed.
    Dead,
    /// The endpoint was disabled when the event happened.
    Skipped,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 5] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Retrying,
        DeliveryStatus::Succeeded,
        DeliveryStatus::Dead,
        DeliveryStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Skipped => "skipped",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "Pending",
            DeliveryStatus::Retrying => "Retrying",
            DeliveryStatus::Succeeded => "Succeeded",
            DeliveryStatus::Dead => "Failed",
            DeliveryStatus::Skipped => "Skipped",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether a replay may send it again (it is not on its way already).
    pub fn replayable(self) -> bool {
        matches!(
            self,
            DeliveryStatus::Succeeded | DeliveryStatus::Dead | DeliveryStatus::Skipped
        )
    }
}

/// How one attempt ended, or that it has not yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(
    feature = "ssr",
    sqlx(type_name = "webhook_attempt_outcome", rename_all = "lowercase")
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum AttemptOutcome {
    /// On the wire: the answer is not recorded yet.
    Sending,
    /// The receiver answered 2xx.
    Succeeded,
    /// Another answer, or none (refused, timed out, broken connection).
    Failed,
    /// Its worker stopped before it recorded the answer, and the delivery
    /// was taken up again: whether the receiver got it is unknown.
    Interrupted,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Sending => "sending",
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Interrupted => "interrupted",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AttemptOutcome::Sending => "Sending",
            AttemptOutcome::Succeeded => "Succeeded",
            AttemptOutcome::Failed => "Failed",
            AttemptOutcome::Interrupted => "Interrupted",
        }
    }
}

/// An endpoint's settings as a form or an API client sends them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndpointForm {
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// Empty: every event type.
    #[serde(default)]
    pub event_types: Vec<String>,
    #[serde(default)]
    pub timeout_seconds: Option<String>,
    #[serde(default)]
    pub max_retries: Option<String>,
    #[serde(default)]
    pub max_in_flight: Option<String>,
}

/// Checked settings (the URL's syntax and reachability are the server's
/// SSRF guard's to judge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointDraft {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub timeout_seconds: i32,
    pub max_retries: i32,
    pub max_in_flight: i32,
}

impl EndpointForm {
    pub fn check(&self) -> Result<EndpointDraft, AppError> {
        let url = clean_text("url", &self.url, MAX_URL_LEN, true)?;
        let description = clean_text("description", &self.description, MAX_DESCRIPTION_LEN, false)?;
        let mut event_types = Vec::new();
        for raw in &self.event_types {
            let event = raw.trim();
            if event.is_empty() || event == "*" {
                continue;
            }
            if !EVENT_TYPES.contains(&event) {
                return Err(AppError::validation(
                    "event_types",
                    format!("`{event}` is not an event type."),
                ));
            }
            if !event_types.iter().any(|e| e == event) {
                event_types.push(event.to_owned());
            }
        }
        event_types.sort();
        Ok(EndpointDraft {
            url,
            description,
            event_types,
            timeout_seconds: optional_number(
                "timeout_seconds",
                self.timeout_seconds.as_deref(),
                1..=MAX_TIMEOUT_SECONDS,
            )?
            .unwrap_or(DEFAULT_TIMEOUT_SECONDS),
            max_retries: optional_number(
                "max_retries",
                self.max_retries.as_deref(),
                0..=MAX_RETRIES,
            )?
            .unwrap_or(DEFAULT_MAX_RETRIES),
            max_in_flight: optional_number(
                "max_in_flight",
                self.max_in_flight.as_deref(),
                1..=MAX_IN_FLIGHT,
            )?
            .unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        })
    }
}

/// An endpoint as the list and its page show it; never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EndpointOut {
    pub id: EndpointId,
    pub url: String,
    pub description: String,
    /// Empty: every event type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why the system disabled it (410 Gone, days of failures).
    pub disabled_reason: Option<String>,
    pub timeout_seconds: i32,
    pub max_retries: i32,
    /// Requests sent to it at once, at most.
    pub max_in_flight: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Since when every attempt has failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the previous secret still signs, after a rotation.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub health: EndpointHealth,
}

/// Attempts of the last 24 hours, for health at a glance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EndpointHealth {
    pub succeeded: i64,
    pub failed: i64,
    /// Deliveries waiting for their first or next attempt.
    pub waiting: i64,
}

impl EndpointHealth {
    /// The share of recent attempts that succeeded, in percent; none
    /// without recent attempts.
    pub fn success_percent(&self) -> Option<i64> {
        let total = self.succeeded + self.failed;
        (total > 0).then(|| (self.succeeded * 100 + total / 2) / total)
    }
}

/// A new endpoint and its secret, which is shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EndpointWithSecret {
    pub endpoint: EndpointOut,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeliveryOut {
    pub id: DeliveryId,
    pub endpoint_id: EndpointId,
    /// The `webhook-id` header: the same on every attempt.
    pub message_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which deliveries the log shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryFilter {
    /// Empty: every status.
    #[serde(default)]
    pub status: Option<String>,
    /// A delivery's `created_at` and id: the log continues after it.
    #[serde(default)]
    pub before: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryOut>,
    /// The filter's `before` for the next page, if there is one.
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AttemptOut {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub status_code: Option<i32>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    /// `[name, value]` pairs, in the order sent.
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Vec<String>>))]
    pub request_headers: Vec<(String, String)>,
    pub succeeded: bool,
    pub outcome: AttemptOutcome,
}

/// One delivery with the event it carries and every attempt, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeliveryDetail {
    pub delivery: DeliveryOut,
    pub endpoint_url: String,
    /// The request body exactly as sent.
    pub payload: String,
    pub attempts: Vec<AttemptOut>,
}

/// What a test send sent and got back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TestSendOut {
    pub delivery_id: DeliveryId,
    /// `[name, value]` pairs, in the order sent.
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Vec<String>>))]
    pub request_headers: Vec<(String, String)>,
    pub request_body: String,
    pub status_code: Option<i32>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i32,
    pub succeeded: bool,
}

impl TestSendOut {
    /// The test send in one sentence: "Test event delivered: HTTP 200 in
    /// 12 ms."
    pub fn outcome(&self) -> String {
        let answer = match (self.status_code, &self.error) {
            (Some(code), _) => format!("HTTP {code}"),
            (None, Some(error)) => error.clone(),
            (None, None) => "no response".to_owned(),
        };
        let verb = if self.succeeded {
            "delivered"
        } else {
            "failed"
        };
        format!("Test event {verb}: {answer} in {} ms.", self.duration_ms)
    }
}

/// How many deliveries a bulk replay queued again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReplayOut {
    pub queued: i64,
}

impl ReplayOut {
    /// "3 deliveries queued again."
    pub fn said(&self) -> String {
        match self.queued {
            0 => "Nothing to replay in that range.".to_owned(),
            1 => "1 delivery queued again.".to_owned(),
            n => format!("{n} deliveries queued again."),
        }
    }
}

/// The webhook id of an event, as `webhook-id` carries it.
pub fn message_id(event_id: Uuid) -> String {
    format!("msg_{}", event_id.simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(timeout: &str, retries: &str, events: &[&str]) -> EndpointForm {
        EndpointForm {
            url: "https://example.com/hook".into(),
            description: String::new(),
            event_types: events.iter().map(|e| e.to_string()).collect(),
            timeout_seconds: Some(timeout.into()),
            max_retries: Some(retries.into()),
            max_in_flight: None,
        }
    }

    fn at_once(raw: &str) -> Result<EndpointDraft, AppError> {
        EndpointForm {
            max_in_flight: Some(raw.into()),
            ..input("", "", &[])
        }
        .check()
    }

    fn test_send(status_code: Option<i32>, error: Option<&str>, succeeded: bool) -> TestSendOut {
        TestSendOut {
            delivery_id: DeliveryId::from_u128(1),
            request_headers: Vec::new(),
            request_body: String::new(),
            status_code,
            response_body: None,
            error: error.map(str::to_owned),
            duration_ms: 12,
            succeeded,
        }
    }

    #[test]
    fn a_test_send_is_told_in_one_sentence() {
        assert_eq!(
            test_send(Some(200), None, true).outcome(),
            "Test event delivered: HTTP 200 in 12 ms."
        );
        assert_eq!(
            test_send(None, Some("connection refused"), false).outcome(),
            "Test event failed: connection refused in 12 ms."
        );
        assert_eq!(
            test_send(None, None, false).outcome(),
            "Test event failed: no response in 12 ms."
        );
    }

    #[test]
    fn a_replay_says_how_many_deliveries_it_queued() {
        assert_eq!(
            ReplayOut { queued: 0 }.said(),
            "Nothing to replay in that range."
        );
        assert_eq!(ReplayOut { queued: 1 }.said(), "1 delivery queued again.");
        assert_eq!(ReplayOut { queued: 7 }.said(), "7 deliveries queued again.");
    }

    #[test]
    fn blank_numbers_take_the_defaults() {
        let draft = input("", " ", &[]).check().unwrap();
        assert_eq!(draft.timeout_seconds, 15);
        assert_eq!(draft.max_retries, 8);
        assert_eq!(draft.max_in_flight, 4);
        assert!(draft.event_types.is_empty());
    }

    #[test]
    fn requests_at_once_run_from_one_to_thirty_two() {
        assert_eq!(at_once("1").unwrap().max_in_flight, 1);
        assert_eq!(at_once(" 32 ").unwrap().max_in_flight, 32);
        for raw in ["0", "33", "-4", "four", "2.5"] {
            let error = at_once(raw).unwrap_err();
            assert_eq!(error.field.as_deref(), Some("max_in_flight"), "{raw}");
            assert_eq!(error.message, "Enter a whole number from 1 to 32.", "{raw}");
        }
    }

    #[test]
    fn numbers_out_of_range_name_their_field() {
        for (timeout, retries, field) in [
            ("0", "1", "timeout_seconds"),
            ("301", "1", "timeout_seconds"),
            ("abc", "1", "timeout_seconds"),
            ("10", "11", "max_retries"),
            ("10", "-1", "max_retries"),
        ] {
            let error = input(timeout, retries, &[]).check().unwrap_err();
            assert_eq!(error.field.as_deref(), Some(field), "{timeout} {retries}");
        }
        let edges = input("300", "0", &[]).check().unwrap();
        assert_eq!((edges.timeout_seconds, edges.max_retries), (300, 0));
    }

    #[test]
    fn event_types_are_known_sorted_and_once_each() {
        let draft = input("", "", &["member.joined", "code.created", "code.created"])
            .check()
            .unwrap();
        assert_eq!(draft.event_types, ["code.created", "member.joined"]);
        let error = input("", "", &["code.exploded"]).check().unwrap_err();
        assert_eq!(error.field.as_deref(), Some("event_types"));
    }

    #[test]
    fn success_percent_rounds_and_is_none_without_attempts() {
        let health = |succeeded, failed| EndpointHealth {
            succeeded,
            failed,
            waiting: 0,
        };
        assert_eq!(health(0, 0).success_percent(), None);
        assert_eq!(health(2, 1).success_percent(), Some(67));
        assert_eq!(health(5, 0).success_percent(), Some(100));
    }
}
