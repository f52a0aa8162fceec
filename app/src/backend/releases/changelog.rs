//! What changed between two releases, or between a release and now: codes
//! added, removed, and changed (with the field diff), in code order.
use super::{content_of, decode_cursor, encode_cursor, find};
use crate::backend::{AppState, Error, OrgContext, OrgTx, Plans, Result};
use crate::model::releases::{
    ChangeCounts, ChangeKind, ChangelogEnd, ChangelogOut, CodeChange, ReleaseName, ReleasedCodeOut,
    CHANGELOG_PAGE_SIZE,
};
use crate::model::{CodeId, Permission, ReleaseId};

/// Both ends of a changelog, and every code that differs between them.
pub struct Changelog {
    pub from: ReleaseName,
    pub to: ChangelogEnd,
    pub counts: ChangeCounts,
    /// In code order.
    pub changes: Vec<CodeChange>,
}

/// A code whose version differs between the two ends (or that one of them
/// lacks), with the snapshots of both.
#[derive(sqlx::FromRow)]
struct DifferingRow {
    code_key: String,
    code_id: CodeId,
    before_version: Option<i32>,
    after_version: Option<i32>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
}

/// The whole changelog from `from` to `to`.
pub async fn compute(
    ctx: &OrgContext,
    state: &AppState,
    from: &ReleaseName,
    to: &ChangelogEnd,
) -> Result<Changelog> {
    let mut tx = ctx
        .begin_planned_as(&state.pool, Permission::ReadCodes, Plans::Generic)
        .await?;
    let older = find(&mut tx, from).await?;
    let newer = match to {
        ChangelogEnd::Release(name) => Some(find(&mut tx, name).await.map_err(|e| match e {
            Error::NotFound => Error::Validation {
                field: Some("to".into()),
                message: format!("There is no release named {name} in this organization."),
            },
            other => other,
        })?),
        ChangelogEnd::Live => None,
    };
    let rows = differing(&mut tx, older.id, newer.as_ref().map(|r| r.id)).await?;
    tx.commit().await?;
    let mut counts = ChangeCounts::default();
    let mut changes = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(change) = change_of(row)? {
            match change.kind {
                ChangeKind::Added => counts.added += 1,
                ChangeKind::Removed => counts.removed += 1,
                ChangeKind::Changed => counts.changed += 1,
            }
            changes.push(change);
        }
    }
    Ok(Changelog {
        from: older.name,
        to: to.clone(),
        counts,
        changes,
    })
}

/// One page of the changelog: the changes after `cursor` (a code key, as
/// `next_cursor` hands it out).
pub async fn page(
    ctx: &OrgContext,
    state: &AppState,
    from: &ReleaseName,
    to: &ChangelogEnd,
    cursor: Option<&str>,
) -> Result<ChangelogOut> {
    let after = cursor
        .filter(|c| !c.trim().is_empty())
        .map(decode_cursor)
        .transpose()
        .map_err(|_| Error::Validation {
            field: Some("cursor".into()),
            message: "This page link is not valid any more. Start from the first page.".into(),
        })?;
    let log = compute(ctx, state, from, to).await?;
    let mut rest = log
        .changes
        .into_iter()
        .filter(|c| {
            after
                .as_deref()
                .is_none_or(|after| key_of(c).as_str() > after)
        })
        .take(CHANGELOG_PAGE_SIZE as usize + 1)
        .collect::<Vec<_>>();
    let next_cursor = if rest.len() as i64 > CHANGELOG_PAGE_SIZE {
        rest.truncate(CHANGELOG_PAGE_SIZE as usize);
        rest.last().map(|c| encode_cursor(&key_of(c)))
    } else {
        None
    };
    Ok(ChangelogOut {
        from: log.from,
        to: log.to.as_str().to_owned(),
        counts: log.counts,
        changes: rest,
        next_cursor,
    })
}

/// Every code whose version differs between the release `older` and the
/// release `newer` (or the live catalogue), ordered by its key at the newer
/// end. Versions are compared first, so only the codes that moved have
/// their snapshots read. Each side's versions are joined on that side's
/// own column, not on a `coalesce` of both: row-level security lets only a
/// plain column reach the index, and the `coalesce` made every lookup scan
/// all versions with the same number (seconds instead of milliseconds).
async fn differing(
    tx: &mut OrgTx,
    older: ReleaseId,
    newer: Option<ReleaseId>,
) -> Result<Vec<DifferingRow>> {
    let newer_codes = match newer {
        Some(_) => {
            "select code_id, version, code_key from release_codes
             where organization_id = $1 and release_id = $3"
        }
        None => {
            "select id as code_id, version, code_key from codes
             where organization_id = $1 and deleted_at is null"
        }
    };
    let sql = format!(
        "with a as (
             select code_id, version, code_key from release_codes
             where organization_id = $1 and release_id = $2
         ), b as ({newer_codes}),
         d as (
             select coalesce(b.code_key, a.code_key) as code_key,
                    a.code_id as before_id, b.code_id as after_id,
                    a.version as before_version, b.version as after_version
             from a full join b on a.code_id = b.code_id
             where a.code_id is null or b.code_id is null or a.version <> b.version
         )
         select d.code_key, coalesce(d.before_id, d.after_id) as code_id,
                d.before_version, d.after_version, va.snapshot as before, vb.snapshot as after
         from d
         left join code_versions va on va.organization_id = $1 and va.code_id = d.before_id
                                   and va.version = d.before_version
         left join code_versions vb on vb.organization_id = $1 and vb.code_id = d.after_id
                                   and vb.version = d.after_version
         order by d.code_key"
    );
    let query = sqlx::query_as(&sql).bind(tx.org_id()).bind(older);
    let query = match newer {
        Some(newer) => query.bind(newer),
        None => query,
    };
    Ok(query.fetch_all(tx.conn()).await?)
}

/// The change a differing row stands for; none when two versions hold the
/// same content (a change made and undone between the two ends).
fn change_of(row: DifferingRow) -> Result<Option<CodeChange>> {
    let side = |version: Option<i32>, snapshot: &Option<serde_json::Value>| -> Result<_> {
        match (version, snapshot) {
            (Some(version), Some(snapshot)) => Ok(Some(ReleasedCodeOut {
                id: row.code_id,
                content: content_of(snapshot)?,
                version,
            })),
            _ => Ok(None),
        }
    };
    let before = side(row.before_version, &row.before)?;
    let after = side(row.after_version, &row.after)?;
    let (kind, diff) = match (&before, &after) {
        (None, Some(_)) => (ChangeKind::Added, None),
        (Some(_), None) => (ChangeKind::Removed, None),
        (Some(old), Some(new)) => {
            let diff = new.content.diff_from(&old.content);
            if diff.is_empty() {
                return Ok(None);
            }
            (ChangeKind::Changed, Some(diff))
        }
        (None, None) => {
            return Err(Error::Internal(anyhow::anyhow!(
                "a changelog row of {} has neither end",
                row.code_key
            )))
        }
    };
    let code = after
        .as_ref()
        .or(before.as_ref())
        .map(|c| c.content.code.to_string())
        .unwrap_or_default();
    Ok(Some(CodeChange {
        kind,
        code_id: row.code_id,
        code,
        before,
        after,
        diff,
    }))
}

/// The key a change sorts by: its code, upper-cased as `code_key` is.
fn key_of(change: &CodeChange) -> String {
    change.code.to_uppercase()
}
