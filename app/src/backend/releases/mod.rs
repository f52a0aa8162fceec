//! Releases: immutable, named snapshots of the catalogue. Cutting one maps
//! every live code to its current version in one statement (one snapshot:
//! exactly the versions committed before it), without copying a code row.
pub mod changelog;
pub mod export;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{Postgres, QueryBuilder};

use super::audit::{self, AuditEvent};
use super::codes::search::push_search;
use super::error::ResultExt as _;
use super::outbox::{self, EventType};
use super::{AppState, Error, OrgContext, OrgTx, Plans, Result};
use crate::model::audit::AuditAction;
use crate::model::codes::{CodeContent, CodeFilter, SearchTerms, PAGE_SIZE};
use crate::model::releases::{
    ReleaseForm, ReleaseName, ReleaseOut, ReleasedCodeOut, ReleasedCodePage,
};
use crate::model::{CodeId, Permission, ReleaseId};

#[derive(sqlx::FromRow)]
struct ReleaseRow {
    id: ReleaseId,
    name: ReleaseName,
    description: String,
    code_count: i32,
    created_at: DateTime<Utc>,
    created_by: Option<String>,
}

impl From<ReleaseRow> for ReleaseOut {
    fn from(row: ReleaseRow) -> Self {
        ReleaseOut {
            id: row.id,
            name: row.name,
            description: row.description,
            code_count: row.code_count,
            created_at: row.created_at,
            created_by: row.created_by,
        }
    }
}

const SELECT_RELEASE: &str =
    "select r.id, r.name, r.description, r.code_count, r.created_at, u.name as created_by
     from releases r left join users u on u.id = r.created_by and r.created_by_kind = 'user'";

/// A code of a release: the version it holds, read from `code_versions`.
#[derive(sqlx::FromRow)]
struct ReleasedRow {
    id: CodeId,
    version: i32,
    snapshot: serde_json::Value,
    code_key: String,
}

/// The content a version's snapshot records.
fn content_of(snapshot: &serde_json::Value) -> Result<CodeContent> {
    serde_json::from_value(snapshot.clone())
        .map_err(|e| Error::Internal(anyhow::anyhow!("unreadable version snapshot: {e}")))
}

impl TryFrom<&ReleasedRow> for ReleasedCodeOut {
    type Error = Error;

    fn try_from(row: &ReleasedRow) -> Result<Self> {
        Ok(ReleasedCodeOut {
            id: row.id,
            content: content_of(&row.snapshot)?,
            version: row.version,
        })
    }
}

fn duplicate_name(name: &ReleaseName) -> impl FnOnce() -> Error + '_ {
    move || {
        Error::conflict(
            "name",
            format!("There is already a release named {name} in this organization."),
        )
    }
}

/// Cuts a release of every live code at its current version.
#[tracing::instrument(skip_all, fields(org_id = %ctx.org_id))]
pub async fn cut(ctx: &OrgContext, state: &AppState, form: &ReleaseForm) -> Result<ReleaseOut> {
    ctx.require(Permission::PublishReleases).await?;
    let draft = form.check()?;
    let mut tx = ctx.begin(&state.pool).await?;
    let id = ReleaseId::new_v4();
    let actor = tx.actor();
    // One statement, so one snapshot: the release holds exactly the
    // versions committed before it began, whatever commits meanwhile. The
    // foreign key from its codes to it is checked at the statement's end.
    sqlx::query(
        "with live as (
             select code_key, id, version from codes
             where organization_id = $1 and deleted_at is null
         ), release as (
             insert into releases (organization_id, id, name, description, code_count,
                                   snapshot, created_by_kind, created_by)
             select $1, $2, $3, $4, count(*), pg_current_snapshot(), $5, $6 from live
         )
         insert into release_codes (organization_id, release_id, code_key, code_id, version)
         select $1, $2, code_key, id, version from live",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(&draft.name)
    .bind(&draft.description)
    .bind(actor.kind())
    .bind(actor.id())
    .execute(tx.conn())
    .await
    .on_constraint("releases_org_name_key", duplicate_name(&draft.name))?;
    let release = find(&mut tx, &draft.name).await?;
    let data = json!({
        "id": release.id,
        "name": release.name,
        "description": release.description,
        "code_count": release.code_count,
    });
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::ReleasePublished, "release", release.id).after(data.clone()),
    )
    .await?;
    outbox::enqueue(&mut tx, EventType::ReleasePublished, data).await?;
    tx.commit().await?;
    tracing::info!(release = %release.name, codes = release.code_count, "release cut");
    Ok(release)
}

/// Every release of the organization, newest first.
pub async fn list(ctx: &OrgContext, state: &AppState) -> Result<Vec<ReleaseOut>> {
    let mut tx = ctx.begin_as(&state.pool, Permission::ReadCodes).await?;
    let rows: Vec<ReleaseRow> = sqlx::query_as(&format!(
        "{SELECT_RELEASE} where r.organization_id = $1 order by r.created_at desc, r.id"
    ))
    .bind(tx.org_id())
    .fetch_all(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(ReleaseOut::from).collect())
}

pub async fn get(ctx: &OrgContext, state: &AppState, name: &ReleaseName) -> Result<ReleaseOut> {
    let mut tx = ctx.begin_as(&state.pool, Permission::ReadCodes).await?;
    let release = find(&mut tx, name).await?;
    tx.commit().await?;
    Ok(release)
}

/// The release named `name` in the transaction's organization; not found
/// for another organization's, as row-level security hides them.
async fn find(tx: &mut OrgTx, name: &ReleaseName) -> Result<ReleaseOut> {
    let row: ReleaseRow = sqlx::query_as(&format!(
        "{SELECT_RELEASE} where r.organization_id = $1 and r.name = $2"
    ))
    .bind(tx.org_id())
    .bind(name)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(Error::NotFound)?;
    Ok(row.into())
}

/// Deletes a release (its codes and their versions stay).
pub async fn delete(ctx: &OrgContext, state: &AppState, name: &ReleaseName) -> Result<()> {
    let mut tx = ctx
        .begin_as(&state.pool, Permission::DeleteReleases)
        .await?;
    let release = find(&mut tx, name).await?;
    sqlx::query("delete from releases where organization_id = $1 and id = $2")
        .bind(tx.org_id())
        .bind(release.id)
        .execute(tx.conn())
        .await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::ReleaseDeleted, "release", release.id).before(json!({
            "name": release.name,
            "description": release.description,
            "code_count": release.code_count,
        })),
    )
    .await?;
    tx.commit().await
}

/// A page of a release's codes, with the live list's filters and search,
/// in code order.
pub async fn codes(
    ctx: &OrgContext,
    state: &AppState,
    name: &ReleaseName,
    filter: &CodeFilter,
) -> Result<ReleasedCodePage> {
    let after = filter
        .after
        .as_deref()
        .filter(|a| !a.is_empty())
        .map(decode_cursor)
        .transpose()?;
    let mut tx = ctx
        .begin_planned_as(&state.pool, Permission::ReadCodes, Plans::Generic)
        .await?;
    let release = find(&mut tx, name).await?;
    let mut rows = fetch(&mut tx, release.id, filter, after.as_deref(), PAGE_SIZE + 1).await?;
    tx.commit().await?;
    let next = if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|last| encode_cursor(&last.code_key))
    } else {
        None
    };
    Ok(ReleasedCodePage {
        release,
        codes: rows
            .iter()
            .map(ReleasedCodeOut::try_from)
            .collect::<Result<_>>()?,
        next,
    })
}

/// Up to `limit` codes of the release that match `filter`, after the code
/// key `after`.
async fn fetch(
    tx: &mut OrgTx,
    release: ReleaseId,
    filter: &CodeFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<ReleasedRow>> {
    let mut query = QueryBuilder::<Postgres>::new(
        "select rc.code_id as id, rc.version, v.snapshot, rc.code_key
         from release_codes rc
         join code_versions v on v.organization_id = rc.organization_id
                             and v.code_id = rc.code_id and v.version = rc.version
         where rc.organization_id = ",
    );
    query
        .push_bind(tx.org_id())
        .push(" and rc.release_id = ")
        .push_bind(release);
    push_filter(&mut query, filter);
    if let Some(after) = after {
        query
            .push(" and rc.code_key > ")
            .push_bind(after.to_owned());
    }
    query.push(" order by rc.code_key limit ").push_bind(limit);
    Ok(query.build_query_as().fetch_all(tx.conn()).await?)
}

/// The live list's filters, on the snapshot a release holds.
fn push_filter(query: &mut QueryBuilder<'_, Postgres>, filter: &CodeFilter) {
    if let Some(category) = filter.category_term() {
        query
            .push(" and v.snapshot->>'category' = ")
            .push_bind(category);
    }
    if let Some(severity) = filter.severity {
        query
            .push(" and v.snapshot->>'severity' = ")
            .push_bind(severity.as_str());
    }
    if let Some(active) = filter.active {
        query
            .push(" and (v.snapshot->>'active')::boolean = ")
            .push_bind(active);
    }
    push_search(
        query,
        filter.q.as_deref().and_then(SearchTerms::parse),
        "rc.code_key",
        "to_tsvector('simple', v.snapshot->>'description')",
    );
}

fn encode_cursor(code_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(code_key)
}

fn decode_cursor(text: &str) -> Result<String> {
    URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|key| key.len() <= 4 * 32)
        .ok_or_else(|| Error::Validation {
            field: Some("after".into()),
            message: "This page link is not valid any more. Start from the first page.".into(),
        })
}

/// Every code of the release, in code order (for its export).
pub(crate) async fn all_codes(tx: &mut OrgTx, release: ReleaseId) -> Result<Vec<ReleasedCodeOut>> {
    let rows = fetch(tx, release, &CodeFilter::default(), None, i64::MAX).await?;
    rows.iter().map(ReleasedCodeOut::try_from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_cursors_round_trip_and_refuse_garbage() {
        assert_eq!(
            decode_cursor(&encode_cursor("S72.001A")).unwrap(),
            "S72.001A"
        );
        for bad in ["%%%", "//", &encode_cursor(&"X".repeat(200))] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
