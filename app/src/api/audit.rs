//! The organization's audit log: the filtered list, one entry, and the
//! check of its hash chain. Admins and owners only (`Permission::ReadAudit`,
//! checked by the service). The exports are plain links, not server
//! functions (`backend::audit::export`).
use leptos::prelude::*;

use crate::model::audit::{AuditEntryOut, AuditFilter, AuditPage, AuditVerifyOut};
use crate::model::AppError;

/// A page of entries matching `filter`, newest first, older than `before`
/// (a `seq`; none: the newest).
#[server(endpoint = "audit/list")]
pub async fn list_audit(
    #[server(default)] filter: AuditFilter,
    #[server(default)] before: Option<i64>,
) -> Result<AuditPage, AppError> {
    use crate::backend::audit::query;
    use crate::model::audit::AUDIT_PAGE_SIZE;
    super::server::in_org(async |ctx, state| {
        query::list(ctx, state, filter, before, AUDIT_PAGE_SIZE).await
    })
    .await
}

#[server(endpoint = "audit/get")]
pub async fn get_audit_entry(seq: i64) -> Result<AuditEntryOut, AppError> {
    use crate::backend::audit::query;
    super::server::in_org(async |ctx, state| query::get(ctx, state, seq).await).await
}

/// Walks the organization's chain and reports the first broken link.
#[server(endpoint = "audit/verify")]
pub async fn verify_audit() -> Result<AuditVerifyOut, AppError> {
    use crate::backend::audit::query;
    super::server::in_org(async |ctx, state| query::verify_chain(ctx, state).await).await
}
