//! The versions of a code: written once, in the transaction of the change
//! they record, and never changed afterwards.
use crate::model::CodeId;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::backend::actor::ActorKind;
use crate::backend::{Error, OrgTx, Result};
use crate::model::codes::{ActorOut, ChangeType, CodeContent, Diff, VersionOut};

pub(super) struct NewVersion<'a> {
    pub code_id: CodeId,
    pub version: i32,
    pub change: ChangeType,
    pub content: &'a CodeContent,
    /// Whether the code is deleted after this change.
    pub deleted: bool,
    pub diff: Option<&'a Diff>,
    pub comment: Option<&'a str>,
}

/// What a version stores of the code: its content and whether it was
/// deleted, so a restore can bring back exactly this.
pub(super) fn snapshot(content: &CodeContent, deleted: bool) -> serde_json::Value {
    let mut value = json!(content);
    value["deleted"] = json!(deleted);
    value
}

pub(super) async fn write(tx: &mut OrgTx, v: NewVersion<'_>) -> Result<()> {
    let actor = tx.actor();
    sqlx::query(
        "insert into code_versions (organization_id, code_id, version, change, snapshot, diff,
                                    comment, actor_kind, actor_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tx.org_id())
    .bind(v.code_id)
    .bind(v.version)
    .bind(v.change)
    .bind(snapshot(v.content, v.deleted))
    .bind(v.diff.map(|d| json!(d)))
    .bind(v.comment)
    .bind(actor.kind())
    .bind(actor.id())
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    version: i32,
    change: ChangeType,
    snapshot: serde_json::Value,
    diff: Option<serde_json::Value>,
    comment: Option<String>,
    actor_kind: ActorKind,
    actor_id: Option<Uuid>,
    actor_name: Option<String>,
    created_at: DateTime<Utc>,
}

pub(super) fn content_from(snapshot: &serde_json::Value) -> Result<CodeContent> {
    serde_json::from_value(snapshot.clone())
        .map_err(|e| Error::Internal(anyhow::anyhow!("unreadable version snapshot: {e}")))
}

impl TryFrom<VersionRow> for VersionOut {
    type Error = Error;

    fn try_from(row: VersionRow) -> Result<Self> {
        Ok(VersionOut {
            version: row.version,
            change: row.change,
            snapshot: content_from(&row.snapshot)?,
            deleted: row.snapshot["deleted"].as_bool().unwrap_or(false),
            diff: row
                .diff
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| Error::Internal(anyhow::anyhow!("unreadable version diff: {e}")))?,
            comment: row.comment,
            actor: ActorOut {
                kind: row.actor_kind.as_str().to_owned(),
                id: row.actor_id,
                name: row.actor_name,
            },
            created_at: row.created_at,
        })
    }
}

/// Every version of a code, newest first.
pub(super) async fn list(tx: &mut OrgTx, code_id: CodeId) -> Result<Vec<VersionOut>> {
    let rows: Vec<VersionRow> = sqlx::query_as(
        "select v.version, v.change, v.snapshot, v.diff, v.comment, v.actor_kind, v.actor_id,
                coalesce(u.name, 'API key ' || k.name) as actor_name, v.created_at
         from code_versions v
         left join users u on u.id = v.actor_id and v.actor_kind = 'user'
         left join api_keys k on k.organization_id = v.organization_id
                             and k.id = v.actor_id and v.actor_kind = 'api_key'
         where v.organization_id = $1 and v.code_id = $2
         order by v.version desc",
    )
    .bind(tx.org_id())
    .bind(code_id)
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter().map(VersionOut::try_from).collect()
}

/// The content a version recorded; not found for a version the code never
/// had.
pub(super) async fn content_of(
    tx: &mut OrgTx,
    code_id: CodeId,
    version: i32,
) -> Result<CodeContent> {
    let snapshot: serde_json::Value = sqlx::query_scalar(
        "select snapshot from code_versions
         where organization_id = $1 and code_id = $2 and version = $3",
    )
    .bind(tx.org_id())
    .bind(code_id)
    .bind(version)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(Error::NotFound)?;
    content_from(&snapshot)
}
