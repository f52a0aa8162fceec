//! A key the gate let through: what tenant work needs to act for it.
use crate::model::{ApiKeyId, OrgId};
use chrono::{DateTime, Utc};

use crate::model::api_keys::Scopes;
use crate::model::orgs::OrgSlug;

/// A key that was just presented and found live, with its request counted
/// (see `KeyGate::authenticate`).
#[derive(Debug, Clone)]
pub struct AuthenticatedKey {
    pub id: ApiKeyId,
    pub name: String,
    pub organization_id: OrgId,
    pub organization_name: String,
    pub organization_slug: OrgSlug,
    pub scopes: Scopes,
    pub rate_limit: RateLimitState,
}

/// Where the key stands in its one-minute window, for `RateLimit-*`
/// headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitState {
    pub limit: i32,
    pub used: i32,
    pub resets_at: DateTime<Utc>,
}

impl RateLimitState {
    pub fn remaining(&self) -> i32 {
        (self.limit - self.used).max(0)
    }

    pub fn exceeded(&self) -> bool {
        self.used > self.limit
    }

    /// Whole seconds until the window resets (at least 1).
    pub fn reset_seconds(&self, now: DateTime<Utc>) -> i64 {
        (self.resets_at - now).num_seconds().clamp(1, 60)
    }
}
