//! API keys as the browser and the server share them: scopes, the key's
//! public description, and the rules of a new key's fields.
use super::ApiKeyId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::codes::{clean_text, optional_number};
use super::{AppError, Permission};

pub const MAX_NAME_LEN: usize = 100;
/// A key may be limited to between 1 and this many requests a minute.
pub const MAX_RATE_LIMIT_PER_MINUTE: i32 = 100_000;
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: i32 = 600;
/// How long a rotated key keeps working unless the rotation says otherwise:
/// long enough to roll the new key out to every client, short enough that a
/// leaked old key dies the same day.
pub const DEFAULT_ROTATION_GRACE_HOURS: i32 = 24;
pub const MAX_ROTATION_GRACE_HOURS: i32 = 7 * 24;
/// The longest expiry a key can be given at creation.
pub const MAX_EXPIRY_DAYS: i32 = 3650;

/// What a key may do. Each scope grants exactly the permissions in
/// `permissions()`; a key never holds a permission no scope names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "codes:read")]
    CodesRead,
    /// Create, edit, delete, restore, comment, and bulk import/export.
    #[serde(rename = "codes:write")]
    CodesWrite,
    #[serde(rename = "members:read")]
    MembersRead,
    #[serde(rename = "invitations:manage")]
    InvitationsManage,
    #[serde(rename = "webhooks:manage")]
    WebhooksManage,
    #[serde(rename = "audit:read")]
    AuditRead,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::CodesRead,
        Scope::CodesWrite,
        Scope::MembersRead,
        Scope::InvitationsManage,
        Scope::WebhooksManage,
        Scope::AuditRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::CodesRead => "codes:read",
            Scope::CodesWrite => "codes:write",
            Scope::MembersRead => "members:read",
            Scope::InvitationsManage => "invitations:manage",
            Scope::WebhooksManage => "webhooks:manage",
            Scope::AuditRead => "audit:read",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Scope::CodesRead => {
                "Read codes, versions, diffs, comments, releases and the import history"
            }
            Scope::CodesWrite => {
                "Create, edit, delete and restore codes; comment; import, undo imports and export; \
                 cut releases"
            }
            Scope::MembersRead => "Read the member list",
            Scope::InvitationsManage => "Invite people (below admin), resend and revoke",
            Scope::WebhooksManage => "Read and manage webhook endpoints and deliveries",
            Scope::AuditRead => "Read, export and verify the audit log",
        }
    }

    /// The permissions this scope grants, and no others.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Scope::CodesRead => &[ReadCodes],
            Scope::CodesWrite => &[
                WriteCodes,
                Comment,
                DeleteCodes,
                RestoreCodes,
                BulkImportExport,
                PublishReleases,
                UndoImports,
            ],
            Scope::MembersRead => &[ReadMembers],
            Scope::InvitationsManage => &[InviteMembers],
            Scope::WebhooksManage => &[ReadWebhooks, ManageWebhooks],
            Scope::AuditRead => &[ReadAudit],
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| format!("unknown scope `{s}`"))
    }
}

/// A key's scopes: sorted, without repeats.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Self {
        let mut scopes: Vec<Scope> = scopes.into_iter().collect();
        scopes.sort();
        scopes.dedup();
        Self(scopes)
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn grants(&self, permission: Permission) -> bool {
        self.0
            .iter()
            .any(|scope| scope.permissions().contains(&permission))
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn names(&self) -> Vec<String> {
        self.iter().map(|s| s.as_str().to_owned()).collect()
    }
}

/// An API key as listed: never the key itself, which only its creator saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyOut {
    pub id: ApiKeyId,
    pub name: String,
    /// `cb_live_` and the first characters of the random part.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Set when the key was rotated: the key that replaced it.
    pub replaced_by: Option<ApiKeyId>,
    pub rate_limit_per_minute: i32,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_ip: Option<String>,
    pub request_count: i64,
    /// Whether the key works now (not revoked, not expired), as the
    /// server's clock saw it when it read the key.
    pub live: bool,
}

impl ApiKeyOut {
    /// The key's state in words, for lists.
    pub fn status(&self) -> String {
        let until = |at: DateTime<Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
        match (
            self.live,
            self.revoked_at,
            self.replaced_by,
            self.expires_at,
        ) {
            (_, Some(_), _, _) => "Revoked".into(),
            (false, None, _, _) => "Expired".into(),
            (true, None, Some(_), Some(at)) => format!("Rotated; works until {}", until(at)),
            (true, None, _, Some(at)) => format!("Live; expires {}", until(at)),
            (true, None, _, None) => "Live".into(),
        }
    }
}

/// The key, shown once, right after it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyWithSecret {
    pub key: ApiKeyOut,
    pub secret: String,
}

/// A new key's fields as a form sends them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiKeyForm {
    pub name: String,
    pub scopes: Vec<String>,
    /// Days until it expires; empty: never.
    pub expires_in_days: Option<String>,
    /// Empty: the default.
    pub rate_limit_per_minute: Option<String>,
}

/// A checked new key.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyDraft {
    pub name: String,
    pub scopes: Scopes,
    pub expires_in_days: Option<i32>,
    pub rate_limit_per_minute: i32,
}

impl ApiKeyForm {
    pub fn check(&self) -> Result<ApiKeyDraft, AppError> {
        let name = clean_text("name", &self.name, MAX_NAME_LEN, true)?;
        let scopes = self
            .scopes
            .iter()
            .map(|s| s.parse::<Scope>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AppError::validation("scopes", e))?;
        if scopes.is_empty() {
            return Err(AppError::validation("scopes", "Choose at least one scope."));
        }
        let expires_in_days = optional_number(
            "expires_in_days",
            self.expires_in_days.as_deref(),
            1..=MAX_EXPIRY_DAYS,
        )?;
        let rate_limit_per_minute = optional_number(
            "rate_limit_per_minute",
            self.rate_limit_per_minute.as_deref(),
            1..=MAX_RATE_LIMIT_PER_MINUTE,
        )?
        .unwrap_or(DEFAULT_RATE_LIMIT_PER_MINUTE);
        Ok(ApiKeyDraft {
            name,
            scopes: Scopes::new(scopes),
            expires_in_days,
            rate_limit_per_minute,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(scopes: &[&str]) -> ApiKeyForm {
        ApiKeyForm {
            name: " CI sync ".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn scopes_round_trip_through_their_names_and_serde() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>().unwrap(), scope);
            assert_eq!(
                serde_json::to_string(&scope).unwrap(),
                format!("\"{}\"", scope.as_str())
            );
        }
        assert!("codes:admin".parse::<Scope>().is_err());
    }

    #[test]
    fn no_scope_grants_what_only_people_may_do() {
        for scope in Scope::ALL {
            for p in [
                Permission::ManageApiKeys,
                Permission::ManageMembers,
                Permission::ManageSettings,
                Permission::GrantAdmin,
                Permission::DeleteOrganization,
                Permission::TransferOwnership,
                Permission::ModerateComments,
            ] {
                assert!(!scope.permissions().contains(&p), "{scope} grants {p:?}");
            }
        }
    }

    #[test]
    fn a_scope_set_grants_the_union_of_its_scopes_only() {
        let scopes = Scopes::new([Scope::CodesRead, Scope::AuditRead, Scope::CodesRead]);
        assert_eq!(scopes.names(), ["codes:read", "audit:read"]);
        assert!(scopes.grants(Permission::ReadCodes) && scopes.grants(Permission::ReadAudit));
        assert!(!scopes.grants(Permission::WriteCodes));
    }

    #[test]
    fn the_form_checks_name_scopes_expiry_and_rate_limit() {
        let draft = form(&["codes:read"]).check().unwrap();
        assert_eq!(draft.name, "CI sync");
        assert_eq!(draft.rate_limit_per_minute, DEFAULT_RATE_LIMIT_PER_MINUTE);
        assert_eq!(draft.expires_in_days, None);
        assert_eq!(
            form(&[]).check().unwrap_err().field.as_deref(),
            Some("scopes")
        );
        assert_eq!(
            form(&["codes:root"]).check().unwrap_err().field.as_deref(),
            Some("scopes")
        );
        let mut f = form(&["codes:read"]);
        f.expires_in_days = Some("0".into());
        assert_eq!(
            f.check().unwrap_err().field.as_deref(),
            Some("expires_in_days")
        );
        f.expires_in_days = Some("30".into());
        f.rate_limit_per_minute = Some("-5".into());
        assert_eq!(
            f.check().unwrap_err().field.as_deref(),
            Some("rate_limit_per_minute")
        );
        f.name = "x".repeat(MAX_NAME_LEN + 1);
        assert_eq!(f.check().unwrap_err().field.as_deref(), Some("name"));
    }
}
