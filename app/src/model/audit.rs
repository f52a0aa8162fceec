//! What the audit log records, as a closed list: each action has one stable
//! name (stored, hashed and filtered on), and no service can invent a new
//! spelling of an old one.
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

use super::codes::encode_query_value;
use super::AppError;

macro_rules! audit_actions {
    ($($variant:ident => $name:literal,)*) => {
        /// Every action the audit log records.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum AuditAction {
            $(
                #[serde(rename = $name)]
                $variant,
            )*
        }

        impl AuditAction {
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            /// The stable name, as stored: `area.verb_in_past_tense`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }
        }
    };
}

audit_actions! {
    UserSignedUp => "user.signed_up",
    UserLogin => "user.login",
    UserLogout => "user.logout",
    UserSessionRevoked => "user.session_revoked",
    UserSessionsRevoked => "user.sessions_revoked",
    UserPasswordChanged => "user.password_changed",
    UserPasswordResetRequested => "user.password_reset_requested",
    UserPasswordReset => "user.password_reset",
    UserDeleted => "user.deleted",
    OrganizationCreated => "organization.created",
    OrganizationUpdated => "organization.updated",
    OrganizationActivated => "organization.activated",
    OrganizationDeactivated => "organization.deactivated",
    OrganizationDeleted => "organization.deleted",
    OrganizationPlanChanged => "organization.plan_changed",
    OrganizationLimitsChanged => "organization.limits_changed",
    MemberInvited => "member.invited",
    MemberInvitationResent => "member.invitation_resent",
    MemberInvitationRevoked => "member.invitation_revoked",
    MemberJoined => "member.joined",
    MemberRoleChanged => "member.role_changed",
    MemberRemoved => "member.removed",
    MemberLeft => "member.left",
    CodeCreated => "code.created",
    CodeUpdated => "code.updated",
    CodeDeleted => "code.deleted",
    CodeRestored => "code.restored",
    CodesImported => "codes.imported",
    CodesImportUndone => "codes.import_undone",
    CommentCreated => "comment.created",
    CommentEdited => "comment.edited",
    CommentDeleted => "comment.deleted",
    ReleasePublished => "release.published",
    ReleaseDeleted => "release.deleted",
    PlatformAdminGranted => "platform_admin.granted",
    WebhookCreated => "webhook.created",
    WebhookUpdated => "webhook.updated",
    WebhookDeleted => "webhook.deleted",
    WebhookEnabled => "webhook.enabled",
    WebhookDisabled => "webhook.disabled",
    WebhookSecretRotated => "webhook.secret_rotated",
    WebhookTestSent => "webhook.test_sent",
    WebhookDeliveryReplayed => "webhook.delivery_replayed",
    WebhookDeliveriesReplayed => "webhook.deliveries_replayed",
    ApiKeyCreated => "api_key.created",
    ApiKeyRotated => "api_key.rotated",
    ApiKeyRevoked => "api_key.revoked",
    PermissionDenied => "permission.denied",
    RateLimitExceeded => "rate_limit.exceeded",
    AuditExported => "audit.exported",
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AuditAction {
    /// The action stored under `name`, if the log records one by that name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == name)
    }
}

// ---------------------------------------------------------------------------
// Browsing the log
// ---------------------------------------------------------------------------

/// Entries on one page of the log.
pub const AUDIT_PAGE_SIZE: i64 = 50;
/// The most entries one request may ask for (the REST API's `limit`).
pub const MAX_AUDIT_PAGE_SIZE: i64 = 1000;
const MAX_RESOURCE_TYPE_LEN: usize = 100;
const MAX_RESOURCE_ID_LEN: usize = 200;

/// The kinds of actor, as stored and filtered on, with their labels.
pub const ACTOR_KINDS: [(&str, &str); 4] = [
    ("user", "User"),
    ("api_key", "API key"),
    ("system", "System"),
    ("anonymous", "Anonymous"),
];

/// The outcomes of an action, as stored and filtered on, with their labels.
pub const OUTCOMES: [(&str, &str); 2] = [("success", "Success"), ("failure", "Failure")];

/// The label of a stored actor kind or outcome (the value itself if unknown).
pub fn label_of(table: &[(&'static str, &'static str)], value: &str) -> String {
    table
        .iter()
        .find(|(v, _)| *v == value)
        .map_or_else(|| value.to_owned(), |(_, label)| (*label).to_owned())
}

/// Which entries the log shows: every field optional and as typed (the
/// page's URL, a GET form, the REST API's query string). `check` reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditFilter {
    /// `user`, `api_key`, `system` or `anonymous`.
    #[serde(default)]
    pub actor_kind: Option<String>,
    /// The id of the user or API key.
    #[serde(default)]
    pub actor_id: Option<String>,
    /// One of the recorded actions, such as `code.updated`.
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub resource_id: Option<String>,
    /// `success` or `failure`.
    #[serde(default)]
    pub outcome: Option<String>,
    /// From this moment on (RFC 3339, `2026-11-23T14:30` or `2026-11-23`,
    /// read as UTC).
    #[serde(default)]
    pub from: Option<String>,
    /// Before this moment (same forms; a date alone includes that day).
    #[serde(default)]
    pub to: Option<String>,
}

/// A filter that has been read: known values only, times parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// One of `ACTOR_KINDS`' values.
    pub actor_kind: Option<&'static str>,
    pub actor_id: Option<Uuid>,
    pub action: Option<AuditAction>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// One of `OUTCOMES`' values.
    pub outcome: Option<&'static str>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
}

const FILTER_FIELDS: [&str; 8] = [
    "actor_kind",
    "actor_id",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "from",
    "to",
];

impl AuditFilter {
    /// Reads a filter from query parameters; empty values are no filter.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let text = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        AuditFilter {
            actor_kind: text("actor_kind"),
            actor_id: text("actor_id"),
            action: text("action"),
            resource_type: text("resource_type"),
            resource_id: text("resource_id"),
            outcome: text("outcome"),
            from: text("from"),
            to: text("to"),
        }
    }

    fn values(&self) -> [&Option<String>; 8] {
        [
            &self.actor_kind,
            &self.actor_id,
            &self.action,
            &self.resource_type,
            &self.resource_id,
            &self.outcome,
            &self.from,
            &self.to,
        ]
    }

    /// Whether no field narrows the log.
    pub fn is_empty(&self) -> bool {
        self.values()
            .iter()
            .all(|v| v.as_deref().is_none_or(|v| v.trim().is_empty()))
    }

    /// The query string of a link to the log with this filter (without
    /// `?`), followed by `before` when given.
    pub fn to_query(&self, before: Option<i64>) -> String {
        let mut pairs: Vec<String> = FILTER_FIELDS
            .iter()
            .zip(self.values())
            .filter_map(|(name, value)| {
                let value = value.as_deref()?.trim();
                (!value.is_empty()).then(|| format!("{name}={}", encode_query_value(value)))
            })
            .collect();
        if let Some(before) = before {
            pairs.push(format!("before={before}"));
        }
        pairs.join("&")
    }

    /// Checks every field; a bad one is named in the error, so the form can
    /// show the message beside it.
    pub fn check(&self) -> Result<AuditQuery, AppError> {
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let pick = |field: &str,
                    table: &[(&'static str, &'static str)],
                    raw: &Option<String>,
                    what: &str|
         -> Result<Option<&'static str>, AppError> {
            match text(raw) {
                None => Ok(None),
                Some(raw) => table
                    .iter()
                    .find(|(v, _)| *v == raw)
                    .map(|(v, _)| Some(*v))
                    .ok_or_else(|| AppError::validation(field, format!("`{raw}` is not {what}."))),
            }
        };
        let actor_kind = pick(
            "actor_kind",
            &ACTOR_KINDS,
            &self.actor_kind,
            "a kind of actor",
        )?;
        let actor_id = match text(&self.actor_id) {
            None => None,
            Some(raw) => Some(Uuid::parse_str(&raw).map_err(|_| {
                AppError::validation(
                    "actor_id",
                    "Enter the id of a user or an API key (a UUID such as 0b5e…-…).",
                )
            })?),
        };
        let action = match text(&self.action) {
            None => None,
            Some(raw) => Some(AuditAction::parse(&raw).ok_or_else(|| {
                AppError::validation(
                    "action",
                    format!("`{raw}` is not an action the audit log records."),
                )
            })?),
        };
        let resource_type = bounded_text(
            "resource_type",
            text(&self.resource_type),
            MAX_RESOURCE_TYPE_LEN,
        )?;
        let resource_id =
            bounded_text("resource_id", text(&self.resource_id), MAX_RESOURCE_ID_LEN)?;
        let outcome = pick("outcome", &OUTCOMES, &self.outcome, "an outcome")?;
        let from = text(&self.from)
            .map(|raw| parse_moment("from", &raw, false))
            .transpose()?;
        let to = text(&self.to)
            .map(|raw| parse_moment("to", &raw, true))
            .transpose()?;
        if let (Some(from), Some(to)) = (from, to) {
            if to <= from {
                return Err(AppError::validation(
                    "to",
                    "The end of the range must come after its start.",
                ));
            }
        }
        Ok(AuditQuery {
            actor_kind,
            actor_id,
            action,
            resource_type,
            resource_id,
            outcome,
            from,
            to,
        })
    }
}

fn bounded_text(field: &str, raw: Option<String>, max: usize) -> Result<Option<String>, AppError> {
    match raw {
        Some(v) if v.chars().count() > max => Err(AppError::validation(
            field,
            format!("Use at most {max} characters."),
        )),
        Some(v) if v.chars().any(char::is_control) => Err(AppError::validation(
            field,
            "Remove the control characters.",
        )),
        other => Ok(other),
    }
}

/// A moment as RFC 3339, a browser's `datetime-local` (`2026-11-23T14:30`,
/// read as UTC) or a date alone: the start of that day, or with `end_of_day`
/// the start of the next (so "to 2026-11-23" includes the 23rd).
pub fn parse_moment(field: &str, raw: &str, end_of_day: bool) -> Result<DateTime<Utc>, AppError> {
    let raw = raw.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(raw, format) {
            return Ok(at.and_utc());
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let day = if end_of_day {
            day.succ_opt()
        } else {
            Some(day)
        };
        if let Some(start) = day.and_then(|d| d.and_hms_opt(0, 0, 0)) {
            return Ok(start.and_utc());
        }
    }
    Err(AppError::validation(
        field,
        "Enter a date and time in UTC, like 2026-11-23T14:30, or a date, like 2026-11-23.",
    ))
}

/// Who acted, as people read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditActorOut {
    /// `user`, `api_key`, `system` or `anonymous`.
    pub kind: String,
    pub id: Option<Uuid>,
    /// The user's name or the API key's name, while they exist.
    pub name: Option<String>,
    /// The user's email, while the account exists.
    pub email: Option<String>,
}

impl AuditActorOut {
    /// "Ada (ada@example.com)", "API key “CI”", "System"… or the id of an
    /// actor that no longer exists.
    pub fn label(&self) -> String {
        match (self.kind.as_str(), &self.name, &self.email, self.id) {
            ("user", Some(name), Some(email), _) => format!("{name} ({email})"),
            ("api_key", Some(name), _, _) => format!("API key “{name}”"),
            (_, Some(name), _, _) => name.clone(),
            (kind, None, _, Some(id)) => format!("{} {id}", label_of(&ACTOR_KINDS, kind)),
            (kind, None, _, None) => label_of(&ACTOR_KINDS, kind),
        }
    }
}

/// One entry of an organization's audit log, every field of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntryOut {
    /// Its place in the organization's chain: 1, 2, 3…
    pub seq: i64,
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor: AuditActorOut,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// Hex of the previous entry's hash (zeros for the first).
    pub prev_hash: String,
    /// Hex of this entry's SHA-256.
    pub hash: String,
}

/// A page of the log, newest first. Both links are `before` cursors: the
/// page of older entries, and the page of newer ones when this is not the
/// newest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntryOut>,
    pub older: Option<i64>,
    pub newer: Option<i64>,
}

/// What a walk along the organization's chain found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditVerifyOut {
    /// Entries whose hash and link held, before the break if there is one.
    pub entries_checked: u64,
    pub first_broken: Option<BrokenLinkOut>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BrokenLinkOut {
    pub seq: i64,
    pub reason: String,
}

// ---------------------------------------------------------------------------
// The platform's security events
// ---------------------------------------------------------------------------

/// Security events on one page.
pub const SECURITY_PAGE_SIZE: i64 = 50;

/// A log-in attempt with an email that has no account.
pub const UNKNOWN_EMAIL_LOGIN: &str = "login.unknown_email";

/// An event that belongs to no organization, for platform admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEventOut {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub kind: String,
    pub email: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl SecurityEventOut {
    pub fn kind_label(&self) -> &str {
        match self.kind.as_str() {
            UNKNOWN_EMAIL_LOGIN => "Log-in with an unknown email",
            other => other,
        }
    }
}

/// Newest first; `older`/`newer` are `before` cursors as in `AuditPage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEventPage {
    pub events: Vec<SecurityEventOut>,
    pub older: Option<i64>,
    pub newer: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_unique_and_serialize_as_stored() {
        let mut names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), AuditAction::ALL.len());
        for action in AuditAction::ALL {
            assert_eq!(
                serde_json::to_string(action).unwrap(),
                format!("\"{}\"", action.as_str())
            );
            assert!(action.as_str().contains('.'));
        }
    }

    #[test]
    fn actions_parse_back_from_their_names_only() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(*action));
        }
        assert_eq!(AuditAction::parse("code.exploded"), None);
        assert_eq!(AuditAction::parse("Code.Created"), None);
    }

    fn filter(pairs: &[(&str, &str)]) -> AuditFilter {
        AuditFilter::from_params(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn a_filter_round_trips_through_its_link() {
        let f = filter(&[
            ("actor_kind", "user"),
            ("actor_id", "6f1c1b9e-4a55-4f0e-9d3a-3c2f8e1b7a10"),
            ("action", "code.updated"),
            ("resource_type", "code"),
            ("resource_id", "a b&c"),
            ("outcome", "failure"),
            ("from", "2026-11-01T00:00"),
            ("to", "2026-11-23"),
        ]);
        let query = f.to_query(Some(42));
        assert!(query.contains("resource_id=a%20b%26c"), "{query}");
        assert!(query.ends_with("&before=42"), "{query}");
        let decoded: Vec<(String, String)> = query
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (
                    k.to_owned(),
                    v.replace("%20", " ")
                        .replace("%26", "&")
                        .replace("%3A", ":"),
                )
            })
            .collect();
        let back = AuditFilter::from_params(|name| {
            decoded
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        });
        assert_eq!(back, f);
        assert_eq!(AuditFilter::default().to_query(None), "");
        assert!(filter(&[("action", "  ")]).is_empty());
    }

    #[test]
    fn a_checked_filter_keeps_known_values_and_parses_times() {
        let q = filter(&[
            ("actor_kind", "api_key"),
            ("action", "webhook.created"),
            ("outcome", "success"),
            ("from", "2026-11-01T08:30"),
            ("to", "2026-11-23"),
        ])
        .check()
        .unwrap();
        assert_eq!(q.actor_kind, Some("api_key"));
        assert_eq!(q.action, Some(AuditAction::WebhookCreated));
        assert_eq!(q.outcome, Some("success"));
        assert_eq!(q.from.unwrap().to_rfc3339(), "2026-11-01T08:30:00+00:00");
        // A date alone as the end includes that whole day.
        assert_eq!(q.to.unwrap().to_rfc3339(), "2026-11-24T00:00:00+00:00");
        assert_eq!(
            AuditFilter::default().check().unwrap(),
            AuditQuery::default()
        );
    }

    #[test]
    fn a_bad_field_is_named_in_the_error() {
        for (field, value) in [
            ("actor_kind", "robot"),
            ("actor_id", "42"),
            ("action", "code.exploded"),
            ("outcome", "maybe"),
            ("from", "yesterday"),
            ("to", "2026-13-01"),
            ("resource_id", "a\u{7}b"),
        ] {
            let error = filter(&[(field, value)]).check().unwrap_err();
            assert_eq!(error.field.as_deref(), Some(field), "{field}={value}");
        }
        let long = "x".repeat(201);
        let error = filter(&[("resource_id", long.as_str())])
            .check()
            .unwrap_err();
        assert_eq!(error.field.as_deref(), Some("resource_id"));
        let error = filter(&[("from", "2026-11-23"), ("to", "2026-11-22")])
            .check()
            .unwrap_err();
        assert_eq!(error.field.as_deref(), Some("to"));
    }

    #[test]
    fn moments_read_rfc3339_datetime_local_and_dates() {
        let at = parse_moment("from", "2026-11-23T14:30:00+01:00", false).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-23T13:30:00+00:00");
        let at = parse_moment("from", "2026-11-23", false).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-23T00:00:00+00:00");
        let at = parse_moment("to", "2026-12-31", true).unwrap();
        assert_eq!(at.to_rfc3339(), "2027-01-01T00:00:00+00:00");
    }

    #[test]
    fn actors_are_named_as_people_read_them() {
        let actor =
            |kind: &str, name: Option<&str>, email: Option<&str>, id: Option<Uuid>| AuditActorOut {
                kind: kind.into(),
                id,
                name: name.map(Into::into),
                email: email.map(Into::into),
            };
        let id = Uuid::from_u128(7);
        assert_eq!(
            actor("user", Some("Ada"), Some("ada@example.com"), Some(id)).label(),
            "Ada (ada@example.com)"
        );
        assert_eq!(
            actor("api_key", Some("CI"), None, Some(id)).label(),
            "API key “CI”"
        );
        assert_eq!(
            actor("user", None, None, Some(id)).label(),
            format!("User {id}")
        );
        assert_eq!(actor("system", None, None, None).label(), "System");
    }
}
