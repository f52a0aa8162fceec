//! The platform admins' Organizations page.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::orgs::Plan;

pub const PAGE_SIZE: u32 = 25;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct OrgAdminRow {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub plan: Plan,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub members: i64,
    pub pending_invitations: i64,
    pub max_members: Option<i32>,
    pub max_codes: Option<i32>,
    pub max_webhooks: Option<i32>,
    pub max_api_keys: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgAdminPage {
    pub rows: Vec<OrgAdminRow>,
    pub total: i64,
    pub page: u32,
    pub page_size: u32,
}

/// Per-organization limit overrides; `None` keeps the plan's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LimitOverrides {
    pub max_members: Option<i32>,
    pub max_codes: Option<i32>,
    pub max_webhooks: Option<i32>,
    pub max_api_keys: Option<i32>,
}
