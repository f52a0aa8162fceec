//! Diagnostic codes under version control. Every change of a code writes,
//! in the one transaction of the change: the code row, its next version
//! (numbers contiguous per code, as the row lock orders writers), an audit
//! entry and an outbox event. An edit names the version it was based on and
//! is refused when the code has moved on, so no update is ever lost.
pub mod comments;
pub mod export;
pub mod feed;
pub mod import;
pub mod import_history;
pub mod import_slots;
mod list;
pub mod search;
mod versions;

use crate::model::audit::AuditAction;
use crate::model::CodeId;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::audit::{self, AuditEvent};
use super::error::ResultExt as _;
use super::outbox::{self, EventType};
use super::{limits, AppState, Error, OrgContext, OrgTx, Plans, Result};
use crate::model::codes::{
    clean_text, ChangeType, CodeContent, CodeHistory, CodeOut, CodeValue, Diff, RecentChange,
    Severity, MAX_CHANGE_COMMENT_LEN,
};
use crate::model::Permission;

pub use list::list;

/// The routes of this area that are not server functions: file upload and
/// download, which stream.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    AppState: axum::extract::FromRef<S>,
{
    axum::Router::new()
        .route(
            "/codes/import",
            axum::routing::post(import::upload).layer(axum::extract::DefaultBodyLimit::max(
                import::MAX_UPLOAD_BYTES,
            )),
        )
        .merge(export::routes())
}

/// A code as a form or an API client sends it.
#[derive(Debug, Clone, Default)]
pub struct CodeInput {
    pub code: String,
    pub description: String,
    pub category: String,
    /// Empty: the organization's default severity.
    pub severity: Option<String>,
    pub active: bool,
    /// Why the change was made; kept on the version.
    pub comment: Option<String>,
}

/// A code's content as the columns of `codes` hold it.
#[derive(sqlx::FromRow)]
struct ContentColumns {
    code: String,
    description: String,
    category: String,
    severity: Severity,
    active: bool,
}

impl ContentColumns {
    fn content(&self) -> CodeContent {
        CodeContent {
            code: CodeValue::from_stored(self.code.clone()),
            description: self.description.clone(),
            category: self.category.clone(),
            severity: self.severity,
            active: self.active,
        }
    }
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    id: CodeId,
    #[sqlx(flatten)]
    stored: ContentColumns,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    updated_by: Option<String>,
    deleted_at: Option<DateTime<Utc>>,
}

impl CodeRow {
    fn content(&self) -> CodeContent {
        self.stored.content()
    }
}

impl From<CodeRow> for CodeOut {
    fn from(row: CodeRow) -> Self {
        CodeOut {
            id: row.id,
            content: row.content(),
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            updated_by: row.updated_by,
            deleted_at: row.deleted_at,
        }
    }
}

/// The columns of `CodeOut`, with the name of who changed it last.
pub const SELECT_CODE: &str =
    "select c.id, c.code, c.description, c.category, c.severity, c.active,
        c.version, c.created_at, c.updated_at, u.name as updated_by, c.deleted_at
     from codes c left join users u on u.id = c.updated_by and c.updated_by_kind = 'user'";

/// The code with `id`, locked until the transaction ends.
async fn lock(tx: &mut OrgTx, id: CodeId) -> Result<CodeRow> {
    find(tx, id, " for update of c").await
}

async fn fetch(tx: &mut OrgTx, id: CodeId) -> Result<CodeRow> {
    find(tx, id, "").await
}

/// The code with `id` in the transaction's organization; `locking` is a
/// constant locking clause (or none), never input.
async fn find(tx: &mut OrgTx, id: CodeId, locking: &'static str) -> Result<CodeRow> {
    sqlx::query_as(&format!(
        "{SELECT_CODE} where c.organization_id = $1 and c.id = $2{locking}"
    ))
    .bind(tx.org_id())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(Error::NotFound)
}

/// The severity a code gets when none is given: the organization's setting.
async fn default_severity(tx: &mut OrgTx) -> Result<Severity> {
    let setting: Option<String> =
        sqlx::query_scalar("select settings->>'default_severity' from organizations where id = $1")
            .bind(tx.org_id())
            .fetch_one(tx.conn())
            .await?;
    Ok(setting
        .and_then(|s| s.parse().ok())
        .unwrap_or(Severity::Medium))
}

fn change_comment(raw: Option<&str>) -> Result<Option<String>> {
    let text = clean_text("comment", raw.unwrap_or(""), MAX_CHANGE_COMMENT_LEN, false)?;
    Ok((!text.is_empty()).then_some(text))
}

fn duplicate_code() -> Error {
    Error::conflict(
        "code",
        "This code already exists in your organization (perhaps deleted: find it with \
         \"Show deleted\" and restore it).",
    )
}

fn stale(current: i32, based_on: i32) -> Error {
    Error::Conflict {
        field: Some("version".into()),
        message: format!(
            "Someone changed this code while you were editing it: it is at version {current}, \
             your edit was based on version {based_on}. Compare with the current version, then \
             save again."
        ),
    }
}

/// Whether `error` refuses an edit based on a version the code has moved
/// on from (`stale`): REST answers it with 412 instead of 409.
pub fn is_stale(error: &Error) -> bool {
    matches!(error, Error::Conflict { field: Some(field), .. } if field == "version")
}

/// The event and audit payload of a code.
fn code_data(id: CodeId, version: i32, content: &CodeContent) -> serde_json::Value {
    json!({"id": id, "version": version, "code": content})
}

pub async fn get(ctx: &OrgContext, state: &AppState, id: CodeId) -> Result<CodeOut> {
    let mut tx = ctx
        .begin_planned_as(&state.pool, Permission::ReadCodes, Plans::Generic)
        .await?;
    let row = fetch(&mut tx, id).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// A code with its versions (newest first) and the comments on them.
pub async fn history(ctx: &OrgContext, state: &AppState, id: CodeId) -> Result<CodeHistory> {
    let mut tx = ctx
        .begin_planned_as(&state.pool, Permission::ReadCodes, Plans::Generic)
        .await?;
    let code = fetch(&mut tx, id).await?.into();
    let versions = versions::list(&mut tx, id).await?;
    let comments = comments::list(&mut tx, id).await?;
    tx.commit().await?;
    Ok(CodeHistory {
        code,
        versions,
        comments,
    })
}

/// The newest `limit` changes to the organization's codes.
pub async fn recent_changes(tx: &mut OrgTx, limit: i64) -> Result<Vec<RecentChange>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        code_id: CodeId,
        code: String,
        version: i32,
        change: ChangeType,
        actor: Option<String>,
        created_at: DateTime<Utc>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "select v.code_id, v.snapshot->>'code' as code, v.version, v.change,
                coalesce(u.name, 'API key ' || k.name) as actor, v.created_at
         from code_versions v
         left join users u on u.id = v.actor_id and v.actor_kind = 'user'
         left join api_keys k on k.organization_id = v.organization_id
                             and k.id = v.actor_id and v.actor_kind = 'api_key'
         where v.organization_id = $1
         order by v.created_at desc, v.code_id, v.version desc
         limit $2",
    )
    .bind(tx.org_id())
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| RecentChange {
            code_id: r.code_id,
            code: r.code,
            version: r.version,
            change: r.change,
            actor: r.actor,
            created_at: r.created_at,
        })
        .collect())
}

#[tracing::instrument(skip_all, fields(org_id = %ctx.org_id))]
pub async fn create(ctx: &OrgContext, state: &AppState, input: CodeInput) -> Result<CodeOut> {
    ctx.require(Permission::WriteCodes).await?;
    let comment = change_comment(input.comment.as_deref())?;
    let mut tx = ctx.begin(&state.pool).await?;
    let content = CodeContent::parse(
        &input.code,
        &input.description,
        &input.category,
        input.severity.as_deref(),
        input.active,
        default_severity(&mut tx).await?,
    )?;
    limits::reserve_codes(&mut tx, 1).await?;
    let id = CodeId::new_v4();
    let actor = tx.actor();
    sqlx::query(
        "insert into codes (organization_id, id, code, description, category, severity, active,
                            version, created_by_kind, created_by, updated_by_kind, updated_by)
         values ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $8, $9)",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(content.code.as_str())
    .bind(&content.description)
    .bind(&content.category)
    .bind(content.severity)
    .bind(content.active)
    .bind(actor.kind())
    .bind(actor.id())
    .execute(tx.conn())
    .await
    .on_constraint("codes_org_code_key", duplicate_code)?;
    versions::write(
        &mut tx,
        versions::NewVersion {
            code_id: id,
            version: 1,
            change: ChangeType::Create,
            content: &content,
            deleted: false,
            diff: None,
            comment: comment.as_deref(),
        },
    )
    .await?;
    let data = code_data(id, 1, &content);
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::CodeCreated, "code", id).after(data.clone()),
    )
    .await?;
    outbox::enqueue(&mut tx, EventType::CodeCreated, data).await?;
    let out = fetch(&mut tx, id).await?.into();
    tx.commit().await?;
    Ok(out)
}

/// Changes a live code. `based_on` is the version the editor started from;
/// if the code has moved on since, nothing is written and the caller is
/// told. A change that changes nothing writes nothing.
#[tracing::instrument(skip_all, fields(org_id = %ctx.org_id, %id))]
pub async fn update(
    ctx: &OrgContext,
    state: &AppState,
    id: CodeId,
    based_on: i32,
    input: CodeInput,
) -> Result<CodeOut> {
    ctx.require(Permission::WriteCodes).await?;
    let comment = change_comment(input.comment.as_deref())?;
    let mut tx = ctx.begin(&state.pool).await?;
    let current = lock(&mut tx, id).await?;
    if current.deleted_at.is_some() {
        return Err(Error::conflict(
            "code",
            "This code has been deleted. Restore it before editing.",
        ));
    }
    if current.version != based_on {
        return Err(stale(current.version, based_on));
    }
    let old = current.content();
    let new = CodeContent::parse(
        &input.code,
        &input.description,
        &input.category,
        input.severity.as_deref(),
        input.active,
        // An edit that leaves severity empty keeps the code's severity.
        old.severity,
    )?;
    let diff = new.diff_from(&old);
    if diff.is_empty() {
        tx.commit().await?;
        return Ok(current.into());
    }
    let version = write_content(&mut tx, id, &new, false).await?;
    versions::write(
        &mut tx,
        versions::NewVersion {
            code_id: id,
            version,
            change: ChangeType::Update,
            content: &new,
            deleted: false,
            diff: Some(&diff),
            comment: comment.as_deref(),
        },
    )
    .await?;
    record_change(&mut tx, id, version, &new, &diff, EventType::CodeUpdated).await?;
    let out = fetch(&mut tx, id).await?.into();
    tx.commit().await?;
    Ok(out)
}

/// Writes `content` to the code as its next version and returns that
/// version's number; `undelete` also brings a deleted code back.
async fn write_content(
    tx: &mut OrgTx,
    id: CodeId,
    content: &CodeContent,
    undelete: bool,
) -> Result<i32> {
    let actor = tx.actor();
    sqlx::query_scalar(
        "update codes set code = $3, description = $4, category = $5, severity = $6, active = $7,
             version = version + 1, updated_at = now(), updated_by_kind = $8, updated_by = $9,
             deleted_at = case when $10 then null else deleted_at end
         where organization_id = $1 and id = $2
         returning version",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(content.code.as_str())
    .bind(&content.description)
    .bind(&content.category)
    .bind(content.severity)
    .bind(content.active)
    .bind(actor.kind())
    .bind(actor.id())
    .bind(undelete)
    .fetch_one(tx.conn())
    .await
    .on_constraint("codes_org_code_key", duplicate_code)
}

/// The audit entry and the event of an update or a restore.
async fn record_change(
    tx: &mut OrgTx,
    id: CodeId,
    version: i32,
    content: &CodeContent,
    diff: &Diff,
    event: EventType,
) -> Result<()> {
    let before: serde_json::Map<String, serde_json::Value> = diff
        .iter()
        .map(|(field, change)| (field.clone(), change.old.clone()))
        .collect();
    let after: serde_json::Map<String, serde_json::Value> = diff
        .iter()
        .map(|(field, change)| (field.clone(), change.new.clone()))
        .collect();
    let action = match event {
        EventType::CodeRestored => AuditAction::CodeRestored,
        _ => AuditAction::CodeUpdated,
    };
    audit::record(
        tx,
        AuditEvent::new(action, "code", id)
            .before(before.into())
            .after(after.into()),
    )
    .await?;
    let mut data = code_data(id, version, content);
    data["changed_fields"] = json!(diff.keys().collect::<Vec<_>>());
    outbox::enqueue(tx, event, data).await?;
    Ok(())
}

/// Soft-deletes a live code: its history stays and it can be restored.
#[tracing::instrument(skip_all, fields(org_id = %ctx.org_id, %id))]
pub async fn delete(
    ctx: &OrgContext,
    state: &AppState,
    id: CodeId,
    based_on: Option<i32>,
    comment: Option<String>,
) -> Result<CodeOut> {
    ctx.require(Permission::DeleteCodes).await?;
    let comment = change_comment(comment.as_deref())?;
    let mut tx = ctx.begin(&state.pool).await?;
    let current = lock(&mut tx, id).await?;
    if current.deleted_at.is_some() {
        return Err(Error::Conflict {
            field: None,
            message: "This code is already deleted.".into(),
        });
    }
    if let Some(based_on) = based_on.filter(|v| *v != current.version) {
        return Err(stale(current.version, based_on));
    }
    let actor = tx.actor();
    let version: i32 = sqlx::query_scalar(
        "update codes set deleted_at = now(), version = version + 1, updated_at = now(),
             updated_by_kind = $3, updated_by = $4
         where organization_id = $1 and id = $2
         returning version",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(actor.kind())
    .bind(actor.id())
    .fetch_one(tx.conn())
    .await?;
    limits::release_codes(&mut tx, 1).await?;
    let content = current.content();
    versions::write(
        &mut tx,
        versions::NewVersion {
            code_id: id,
            version,
            change: ChangeType::Delete,
            content: &content,
            deleted: true,
            diff: None,
            comment: comment.as_deref(),
        },
    )
    .await?;
    let data = code_data(id, version, &content);
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::CodeDeleted, "code", id).before(data.clone()),
    )
    .await?;
    outbox::enqueue(&mut tx, EventType::CodeDeleted, data).await?;
    let out = fetch(&mut tx, id).await?.into();
    tx.commit().await?;
    Ok(out)
}

/// Makes the content of an earlier version current again, as a new version
/// (history is never rewritten). Restoring a deleted code undeletes it.
#[tracing::instrument(skip_all, fields(org_id = %ctx.org_id, %id, to_version))]
pub async fn restore(
    ctx: &OrgContext,
    state: &AppState,
    id: CodeId,
    to_version: i32,
    comment: Option<String>,
) -> Result<CodeOut> {
    ctx.require(Permission::RestoreCodes).await?;
    let comment = change_comment(comment.as_deref())?;
    let mut tx = ctx.begin(&state.pool).await?;
    let current = lock(&mut tx, id).await?;
    let target = versions::content_of(&mut tx, id, to_version).await?;
    let was_deleted = current.deleted_at.is_some();
    let diff = target.diff_from(&current.content());
    if diff.is_empty() && !was_deleted {
        tx.commit().await?;
        return Ok(current.into());
    }
    if was_deleted {
        limits::reserve_codes(&mut tx, 1).await?;
    }
    let version = write_content(&mut tx, id, &target, true).await?;
    let comment = comment.unwrap_or_else(|| format!("Restored version {to_version}"));
    versions::write(
        &mut tx,
        versions::NewVersion {
            code_id: id,
            version,
            change: ChangeType::Restore,
            content: &target,
            deleted: false,
            diff: Some(&diff),
            comment: Some(&comment),
        },
    )
    .await?;
    record_change(
        &mut tx,
        id,
        version,
        &target,
        &diff,
        EventType::CodeRestored,
    )
    .await?;
    let out = fetch(&mut tx, id).await?.into();
    tx.commit().await?;
    Ok(out)
}
