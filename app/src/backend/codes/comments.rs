//! Comments on a version of a code: any member may write them, their
//! author may edit them, their author or an admin may delete them.
use crate::model::audit::AuditAction;
use crate::model::{CodeId, CommentId, UserId};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::backend::audit::{self, AuditEvent};
use crate::backend::outbox::{self, EventType};
use crate::backend::{AppState, Error, OrgContext, OrgTx, Result};
use crate::model::codes::{clean_text, CommentOut, MAX_COMMENT_LEN};
use crate::model::Permission;

const SELECT_COMMENT: &str =
    "select k.id, k.version, k.author_id, u.name as author, k.body, k.created_at, k.edited_at
     from code_comments k left join users u on u.id = k.author_id";

#[derive(sqlx::FromRow)]
struct CommentRow {
    id: CommentId,
    version: i32,
    author_id: Option<UserId>,
    author: Option<String>,
    body: String,
    created_at: DateTime<Utc>,
    edited_at: Option<DateTime<Utc>>,
}

impl From<CommentRow> for CommentOut {
    fn from(r: CommentRow) -> Self {
        CommentOut {
            id: r.id,
            version: r.version,
            author_id: r.author_id,
            author: r.author,
            body: r.body,
            created_at: r.created_at,
            edited_at: r.edited_at,
        }
    }
}

fn body(raw: &str) -> Result<String> {
    Ok(clean_text("body", raw, MAX_COMMENT_LEN, true)?)
}

/// The comments on every version of a code, oldest first.
pub(super) async fn list(tx: &mut OrgTx, code_id: CodeId) -> Result<Vec<CommentOut>> {
    let rows: Vec<CommentRow> = sqlx::query_as(&format!(
        "{SELECT_COMMENT} where k.organization_id = $1 and k.code_id = $2
         order by k.version, k.created_at, k.id"
    ))
    .bind(tx.org_id())
    .bind(code_id)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows.into_iter().map(CommentOut::from).collect())
}

async fn find(tx: &mut OrgTx, id: CommentId) -> Result<CommentRow> {
    sqlx::query_as(&format!(
        "{SELECT_COMMENT} where k.organization_id = $1 and k.id = $2"
    ))
    .bind(tx.org_id())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(Error::NotFound)
}

#[tracing::instrument(skip_all, fields(org_id = %ctx.org_id, %code_id, version))]
pub async fn add(
    ctx: &OrgContext,
    state: &AppState,
    code_id: CodeId,
    version: i32,
    text: &str,
) -> Result<CommentOut> {
    ctx.require(Permission::Comment).await?;
    let text = body(text)?;
    let author = ctx.user_id().ok_or_else(|| {
        Error::Forbidden("Comments are written by members, not by API keys.".into())
    })?;
    let mut tx = ctx.begin(&state.pool).await?;
    let exists: bool = sqlx::query_scalar(
        "select exists (select 1 from code_versions
                        where organization_id = $1 and code_id = $2 and version = $3)",
    )
    .bind(tx.org_id())
    .bind(code_id)
    .bind(version)
    .fetch_one(tx.conn())
    .await?;
    if !exists {
        return Err(Error::NotFound);
    }
    let id = CommentId::new_v4();
    sqlx::query(
        "insert into code_comments (organization_id, id, code_id, version, author_id, body)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(code_id)
    .bind(version)
    .bind(author)
    .bind(&text)
    .execute(tx.conn())
    .await?;
    let data = json!({"id": id, "code_id": code_id, "version": version, "body": text, "author_id": author});
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::CommentCreated, "comment", id).after(data.clone()),
    )
    .await?;
    outbox::enqueue(&mut tx, EventType::CommentCreated, data).await?;
    let comment = find(&mut tx, id).await?.into();
    tx.commit().await?;
    Ok(comment)
}

/// Changes the text of one's own comment.
pub async fn edit(
    ctx: &OrgContext,
    state: &AppState,
    id: CommentId,
    text: &str,
) -> Result<CommentOut> {
    ctx.require(Permission::Comment).await?;
    let text = body(text)?;
    let mut tx = ctx.begin(&state.pool).await?;
    let comment = find(&mut tx, id).await?;
    if comment.author_id.is_none() || comment.author_id != ctx.user_id() {
        return Err(Error::Forbidden(
            "Only its author can edit a comment.".into(),
        ));
    }
    sqlx::query(
        "update code_comments set body = $3, edited_at = now() where organization_id = $1 and id = $2",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(&text)
    .execute(tx.conn())
    .await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::CommentEdited, "comment", id)
            .before(json!({"body": comment.body}))
            .after(json!({"body": text})),
    )
    .await?;
    let comment = find(&mut tx, id).await?.into();
    tx.commit().await?;
    Ok(comment)
}

/// Deletes a comment: one's own, or anyone's for admins.
pub async fn delete(ctx: &OrgContext, state: &AppState, id: CommentId) -> Result<()> {
    let mut tx = ctx.begin_as(&state.pool, Permission::ReadCodes).await?;
    let comment = find(&mut tx, id).await?;
    let own = comment.author_id.is_some() && comment.author_id == ctx.user_id();
    // One's own comment goes with the right to comment (a member made a
    // viewer keeps what they wrote); anyone else's only with moderation.
    ctx.require(if own {
        Permission::Comment
    } else {
        Permission::ModerateComments
    })
    .await?;
    sqlx::query("delete from code_comments where organization_id = $1 and id = $2")
        .bind(tx.org_id())
        .bind(id)
        .execute(tx.conn())
        .await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::CommentDeleted, "comment", id)
            .before(json!({"body": comment.body})),
    )
    .await?;
    tx.commit().await
}
