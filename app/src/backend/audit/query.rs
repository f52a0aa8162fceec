//! Reading an organization's audit log: the filtered list, newest first
//! and keyset-paged on `seq` (no OFFSET: a page costs the same at the end
//! of a million entries as at the start, and entries added meanwhile never
//! shift a page), one entry, and the verify report. Admins and owners only
//! (`Permission::ReadAudit`). The REST API calls these too.
//!
//! Every filter has an index that leads with the organization and ends with
//! `seq` (migration `20261123000500_audit_browse.sql`), so a page is the
//! start of one backward index scan.
use crate::model::OrgId;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::backend::{AppState, Error, OrgContext, OrgTx, Result};
use crate::model::audit::{
    AuditActorOut, AuditEntryOut, AuditFilter, AuditPage, AuditQuery, AuditVerifyOut,
    BrokenLinkOut, MAX_AUDIT_PAGE_SIZE,
};
use crate::model::Permission;

/// An entry with the names of its actor: users by name and email, API keys
/// by name, while they exist (a deleted account leaves its id).
pub(super) const SELECT_ENTRY: &str = "
    select a.seq, a.id, a.occurred_at, a.actor_kind::text as actor_kind, a.actor_id,
           a.action, a.resource_type, a.resource_id, a.outcome::text as outcome,
           a.before, a.after, host(a.ip) as ip, a.user_agent, a.request_id,
           a.prev_hash, a.hash,
           coalesce(u.name, k.name) as actor_name, u.email as actor_email
    from audit_log a
    left join users u on a.actor_kind = 'user' and u.id = a.actor_id
    left join api_keys k
           on a.actor_kind = 'api_key' and k.organization_id = a.organization_id
          and k.id = a.actor_id";

#[derive(Debug, sqlx::FromRow)]
pub(super) struct EntryRow {
    seq: i64,
    id: Uuid,
    occurred_at: DateTime<Utc>,
    actor_kind: String,
    actor_id: Option<Uuid>,
    action: String,
    resource_type: String,
    resource_id: Option<String>,
    outcome: String,
    before: Option<Value>,
    after: Option<Value>,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
    actor_name: Option<String>,
    actor_email: Option<String>,
}

impl From<EntryRow> for AuditEntryOut {
    fn from(r: EntryRow) -> Self {
        AuditEntryOut {
            seq: r.seq,
            id: r.id,
            occurred_at: r.occurred_at,
            actor: AuditActorOut {
                kind: r.actor_kind,
                id: r.actor_id,
                name: r.actor_name,
                email: r.actor_email,
            },
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            outcome: r.outcome,
            before: r.before,
            after: r.after,
            ip: r.ip,
            user_agent: r.user_agent,
            request_id: r.request_id,
            prev_hash: hex::encode(r.prev_hash),
            hash: hex::encode(r.hash),
        }
    }
}

/// The filter, read, or the validation error naming the bad field.
pub(super) fn checked(filter: &AuditFilter) -> Result<AuditQuery> {
    Ok(filter.check()?)
}

/// `where` for the organization and the filter, in `query` (which selects
/// from `audit_log a`).
pub(super) fn push_conditions(
    query: &mut QueryBuilder<'_, Postgres>,
    org_id: OrgId,
    q: &AuditQuery,
) {
    query.push(" where a.organization_id = ").push_bind(org_id);
    // Kinds and outcomes are enums, whose `=` PostgreSQL does not use as an
    // index condition under row-level security; the rare values have
    // partial indexes, which a literal matches (a bound parameter would
    // not, in a generic plan). The literals come from the closed lists in
    // `model::audit`, never from the request.
    if let Some(kind) = q.actor_kind {
        query.push(format_args!(" and a.actor_kind = '{kind}'"));
    }
    if let Some(outcome) = q.outcome {
        query.push(format_args!(" and a.outcome = '{outcome}'"));
    }
    if let Some(actor_id) = q.actor_id {
        query.push(" and a.actor_id = ").push_bind(actor_id);
    }
    if let Some(action) = q.action {
        query.push(" and a.action = ").push_bind(action.as_str());
    }
    if let Some(resource_type) = &q.resource_type {
        query
            .push(" and a.resource_type = ")
            .push_bind(resource_type.clone());
    }
    if let Some(resource_id) = &q.resource_id {
        query
            .push(" and a.resource_id = ")
            .push_bind(resource_id.clone());
    }
    if let Some(from) = q.from {
        query.push(" and a.occurred_at >= ").push_bind(from);
    }
    if let Some(to) = q.to {
        query.push(" and a.occurred_at < ").push_bind(to);
    }
}

fn check_limit(limit: i64) -> Result<()> {
    if (1..=MAX_AUDIT_PAGE_SIZE).contains(&limit) {
        Ok(())
    } else {
        Err(Error::Validation {
            field: Some("limit".into()),
            message: format!("Ask for 1 to {MAX_AUDIT_PAGE_SIZE} entries."),
        })
    }
}

/// Up to `limit` entries that match `filter`, newest first, older than
/// `cursor` (a `seq`; none: from the newest).
#[tracing::instrument(skip_all, fields(org_id = %ctx.org_id))]
pub async fn list(
    ctx: &OrgContext,
    state: &AppState,
    filter: AuditFilter,
    cursor: Option<i64>,
    limit: i64,
) -> Result<AuditPage> {
    ctx.require(Permission::ReadAudit).await?;
    let q = checked(&filter)?;
    check_limit(limit)?;
    let mut tx = ctx.begin(&state.pool).await?;
    let mut query = QueryBuilder::<Postgres>::new(SELECT_ENTRY);
    push_conditions(&mut query, tx.org_id(), &q);
    if let Some(before) = cursor {
        query.push(" and a.seq < ").push_bind(before);
    }
    query
        .push(" order by a.seq desc limit ")
        .push_bind(limit + 1);
    let mut rows: Vec<EntryRow> = query.build_query_as().fetch_all(tx.conn()).await?;
    let older = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.seq)
    } else {
        None
    };
    let newer = match cursor {
        None => None,
        Some(before) => {
            let newest_here = rows.first().map_or(before - 1, |r| r.seq);
            newer_page(&mut tx, &q, newest_here, limit).await?
        }
    };
    tx.commit().await?;
    Ok(AuditPage {
        entries: rows.into_iter().map(AuditEntryOut::from).collect(),
        older,
        newer,
    })
}

/// The `before` cursor of the page of the `limit` matching entries just
/// newer than `seq`, if there are any.
async fn newer_page(tx: &mut OrgTx, q: &AuditQuery, seq: i64, limit: i64) -> Result<Option<i64>> {
    let mut query =
        QueryBuilder::<Postgres>::new("select max(seq) from (select a.seq from audit_log a");
    push_conditions(&mut query, tx.org_id(), q);
    query
        .push(" and a.seq > ")
        .push_bind(seq)
        .push(" order by a.seq limit ")
        .push_bind(limit)
        .push(") newer");
    let top: Option<i64> = query.build_query_scalar().fetch_one(tx.conn()).await?;
    Ok(top.map(|top| top + 1))
}

/// One entry of the caller's organization, by its place in the chain.
#[tracing::instrument(skip_all, fields(org_id = %ctx.org_id))]
pub async fn get(ctx: &OrgContext, state: &AppState, seq: i64) -> Result<AuditEntryOut> {
    let mut tx = ctx.begin_as(&state.pool, Permission::ReadAudit).await?;
    let row: Option<EntryRow> = sqlx::query_as(&format!(
        "{SELECT_ENTRY} where a.organization_id = $1 and a.seq = $2"
    ))
    .bind(tx.org_id())
    .bind(seq)
    .fetch_optional(tx.conn())
    .await?;
    tx.commit().await?;
    row.map(AuditEntryOut::from).ok_or(Error::NotFound)
}

/// Walks the caller's organization's chain (`audit::verify`), as
/// `server audit verify` does.
#[tracing::instrument(skip_all, fields(org_id = %ctx.org_id))]
pub async fn verify_chain(ctx: &OrgContext, state: &AppState) -> Result<AuditVerifyOut> {
    ctx.require(Permission::ReadAudit).await?;
    let report = super::verify(&state.pool, ctx.org_id).await?;
    Ok(AuditVerifyOut {
        entries_checked: report.entries_checked,
        first_broken: report.first_broken.map(|b| BrokenLinkOut {
            seq: b.seq,
            reason: b.reason,
        }),
    })
}
