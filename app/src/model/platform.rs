//! The platform admins' Organizations page.
use super::OrgId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::orgs::{OrgSlug, Plan};

pub const PAGE_SIZE: u32 = 25;

/// The offset of page `page` (1-based), or a validation error for a page
/// number no list could reach.
pub fn page_offset(page: u32) -> Result<i32, super::AppError> {
    page.max(1)
        .checked_sub(1)
        .and_then(|p| p.checked_mul(PAGE_SIZE))
        .and_then(|offset| i32::try_from(offset).ok())
        .ok_or_else(|| super::AppError::validation("page", "That page number is out of range."))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct OrgAdminRow {
    pub id: OrgId,
    pub name: String,
    pub slug: OrgSlug,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers_map_to_offsets_and_absurd_ones_are_refused() {
        assert_eq!(page_offset(0).unwrap(), 0);
        assert_eq!(page_offset(1).unwrap(), 0);
        assert_eq!(page_offset(3).unwrap(), 50);
        assert!(page_offset(u32::MAX).is_err());
        assert!(page_offset(100_000_000).is_err());
    }
}
