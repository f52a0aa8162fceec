//! The record of imports (every import that wrote, with its counts) and
//! undoing one as a single step: one new version per code it touched,
//! giving back the code as it was before, in one transaction. An undo is
//! never a silent overwrite: when any of those codes changed after the
//! import, it is refused and names them.
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::import::{insert_versions, write_states, NextState, VersionColumns};
use super::versions::content_from;
use super::ContentColumns;
use crate::backend::actor::ActorKind;
use crate::backend::audit::{self, AuditEvent};
use crate::backend::outbox;
use crate::backend::{limits, AppState, Error, OrgContext, OrgTx, Result};
use crate::model::audit::AuditAction;
use crate::model::codes::{
    ActorOut, ChangeType, ChangedSince, CodeContent, CodeValue, ImportOut, ImportPage, UndoOut,
    UndoneOut, IMPORTS_PAGE_SIZE, MAX_NAMED_CHANGES,
};
use crate::model::{CodeId, ImportId, Permission};

const SELECT_IMPORT: &str = "
    select i.id, i.file_name, i.delete_missing, i.rows, i.created, i.updated, i.restored,
           i.deleted, i.unchanged, i.created_at, i.created_by_kind, i.created_by,
           coalesce(cu.name, 'API key ' || ck.name) as created_by_name,
           i.undone_at, i.undone_by_kind, i.undone_by,
           coalesce(uu.name, 'API key ' || uk.name) as undone_by_name
    from imports i
    left join users cu on cu.id = i.created_by and i.created_by_kind = 'user'
    left join api_keys ck on ck.organization_id = i.organization_id and ck.id = i.created_by
                         and i.created_by_kind = 'api_key'
    left join users uu on uu.id = i.undone_by and i.undone_by_kind = 'user'
    left join api_keys uk on uk.organization_id = i.organization_id and uk.id = i.undone_by
                         and i.undone_by_kind = 'api_key'";

#[derive(sqlx::FromRow)]
struct ImportRow {
    id: ImportId,
    file_name: String,
    delete_missing: bool,
    rows: i32,
    created: i32,
    updated: i32,
    restored: i32,
    deleted: i32,
    unchanged: i32,
    created_at: DateTime<Utc>,
    created_by_kind: ActorKind,
    created_by: Option<Uuid>,
    created_by_name: Option<String>,
    undone_at: Option<DateTime<Utc>>,
    undone_by_kind: Option<ActorKind>,
    undone_by: Option<Uuid>,
    undone_by_name: Option<String>,
}

fn actor_out(kind: ActorKind, id: Option<Uuid>, name: Option<String>) -> ActorOut {
    ActorOut {
        kind: kind.as_str().to_owned(),
        id,
        name,
    }
}

impl From<ImportRow> for ImportOut {
    fn from(row: ImportRow) -> Self {
        let count = |n: i32| u64::try_from(n).unwrap_or_default();
        let undone = row
            .undone_at
            .zip(row.undone_by_kind)
            .map(|(at, kind)| UndoneOut {
                at,
                by: actor_out(kind, row.undone_by, row.undone_by_name),
            });
        ImportOut {
            id: row.id,
            file_name: row.file_name,
            delete_missing: row.delete_missing,
            rows: count(row.rows),
            created: count(row.created),
            updated: count(row.updated),
            restored: count(row.restored),
            deleted: count(row.deleted),
            unchanged: count(row.unchanged),
            created_at: row.created_at,
            created_by: actor_out(row.created_by_kind, row.created_by, row.created_by_name),
            undone,
        }
    }
}

/// Where a page of the history starts: after the import at this time with
/// this id (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    created_at: DateTime<Utc>,
    id: ImportId,
}

impl Cursor {
    fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}|{}",
            self.created_at.timestamp_micros(),
            self.id
        ))
    }

    fn decode(text: &str) -> Result<Self> {
        let invalid = || Error::Validation {
            field: Some("cursor".into()),
            message: "This cursor is not one the import history handed out.".into(),
        };
        let raw = URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(invalid)?;
        let (micros, id) = raw.split_once('|').ok_or_else(invalid)?;
        let created_at = micros
            .parse()
            .ok()
            .and_then(DateTime::<Utc>::from_timestamp_micros)
            .ok_or_else(invalid)?;
        Ok(Cursor {
            created_at,
            id: id.parse().map_err(|_| invalid())?,
        })
    }
}

/// A page of the organization's imports, newest first.
pub async fn list(ctx: &OrgContext, state: &AppState, cursor: Option<&str>) -> Result<ImportPage> {
    let after = cursor
        .filter(|c| !c.trim().is_empty())
        .map(Cursor::decode)
        .transpose()?;
    let mut tx = ctx.begin_as(&state.pool, Permission::ReadCodes).await?;
    let mut rows: Vec<ImportRow> = sqlx::query_as(&format!(
        "{SELECT_IMPORT}
         where i.organization_id = $1
           and ($2::timestamptz is null or (i.created_at, i.id) < ($2, $3))
         order by i.created_at desc, i.id desc
         limit $4"
    ))
    .bind(tx.org_id())
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(IMPORTS_PAGE_SIZE + 1)
    .fetch_all(tx.conn())
    .await?;
    tx.commit().await?;
    let more = rows.len() as i64 > IMPORTS_PAGE_SIZE;
    rows.truncate(IMPORTS_PAGE_SIZE as usize);
    let next = more
        .then(|| rows.last())
        .flatten()
        .map(|last| Cursor {
            created_at: last.created_at,
            id: last.id,
        })
        .map(Cursor::encode);
    Ok(ImportPage {
        imports: rows.into_iter().map(ImportOut::from).collect(),
        next,
    })
}

/// The import `id` of the caller's organization; not found for another
/// organization's, as row-level security hides them.
pub async fn get(ctx: &OrgContext, state: &AppState, id: ImportId) -> Result<ImportOut> {
    let mut tx = ctx.begin_as(&state.pool, Permission::ReadCodes).await?;
    let import = find(&mut tx, id, false).await?;
    tx.commit().await?;
    Ok(import)
}

/// The import, locked until the transaction ends when `lock`, so two undos
/// of it take turns.
async fn find(tx: &mut OrgTx, id: ImportId, lock: bool) -> Result<ImportOut> {
    let row: ImportRow = sqlx::query_as(&format!(
        "{SELECT_IMPORT} where i.organization_id = $1 and i.id = $2 {}",
        if lock { "for update of i" } else { "" }
    ))
    .bind(tx.org_id())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(Error::NotFound)?;
    Ok(row.into())
}

/// A code the import wrote a version of, as it is now and as it was
/// before the import.
#[derive(sqlx::FromRow)]
struct TouchedRow {
    id: CodeId,
    imported_version: i32,
    #[sqlx(flatten)]
    stored: ContentColumns,
    version: i32,
    deleted: bool,
    /// The version before the import's; none when the import created it.
    before: Option<serde_json::Value>,
}

/// One code given back its state before the import.
struct Reversal {
    id: CodeId,
    based_on: i32,
    change: ChangeType,
    content: CodeContent,
    deleted: bool,
    current: CodeContent,
}

/// What the undo writes, or the codes that stop it.
#[derive(Default)]
struct UndoPlan {
    reversals: Vec<Reversal>,
    changed_since: Vec<ChangedSince>,
    changed_since_count: u64,
}

impl UndoPlan {
    fn count(&self, change: ChangeType) -> u64 {
        self.reversals.iter().filter(|r| r.change == change).count() as u64
    }
}

fn plan(touched: Vec<TouchedRow>) -> Result<UndoPlan> {
    let mut plan = UndoPlan::default();
    for row in touched {
        if row.version != row.imported_version {
            plan.changed_since_count += 1;
            if plan.changed_since.len() < MAX_NAMED_CHANGES {
                plan.changed_since.push(ChangedSince {
                    id: row.id,
                    code: CodeValue::from_stored(row.stored.code.clone()),
                    imported_version: row.imported_version,
                    version: row.version,
                });
            }
            continue;
        }
        let current = row.stored.content();
        // A code the import created was not there before: it goes again.
        let (content, deleted) = match &row.before {
            Some(before) => (
                content_from(before)?,
                before["deleted"].as_bool().unwrap_or(false),
            ),
            None => (current.clone(), true),
        };
        let change = match (row.deleted, deleted) {
            (false, true) => ChangeType::Delete,
            (true, false) => ChangeType::Restore,
            (false, false) => ChangeType::Update,
            // The import left it deleted and it was deleted before: an
            // import never writes such a version, and there is nothing
            // to give back.
            (true, true) => continue,
        };
        plan.reversals.push(Reversal {
            id: row.id,
            based_on: row.version,
            change,
            content,
            deleted,
            current,
        });
    }
    Ok(plan)
}

/// Undoes the import `id`, or with `dry_run` says what undoing it would
/// do (an undone import would do nothing; codes changed since would stop
/// it). A refused undo is a conflict that names the codes, and changes
/// nothing.
#[tracing::instrument(skip_all, fields(org_id = %ctx.org_id, import = %id))]
pub async fn undo(
    ctx: &OrgContext,
    state: &AppState,
    id: ImportId,
    dry_run: bool,
) -> Result<UndoOut> {
    let mut tx = ctx.begin_as(&state.pool, Permission::UndoImports).await?;
    let import = find(&mut tx, id, true).await?;
    let plan = match &import.undone {
        Some(undone) if !dry_run => return Err(already_undone(undone)),
        Some(_) => UndoPlan::default(),
        None => plan(touched(&mut tx, id).await?)?,
    };
    let out = UndoOut {
        import,
        dry_run,
        reverted: plan.count(ChangeType::Update),
        deleted: plan.count(ChangeType::Delete),
        restored: plan.count(ChangeType::Restore),
        changed_since: plan.changed_since,
        changed_since_count: plan.changed_since_count,
    };
    if dry_run {
        tx.rollback().await?;
        return Ok(out);
    }
    if out.changed_since_count > 0 {
        return Err(Error::ChangedSince {
            named: out.changed_since,
            count: out.changed_since_count,
        });
    }
    write(&mut tx, &out, &plan.reversals).await?;
    let import = find(&mut tx, id, false).await?;
    tx.commit().await?;
    tracing::info!(
        reverted = out.reverted,
        deleted = out.deleted,
        restored = out.restored,
        "import undone"
    );
    Ok(UndoOut { import, ..out })
}

fn already_undone(undone: &UndoneOut) -> Error {
    let by = undone.by.name.as_deref().unwrap_or("a former member");
    Error::Conflict {
        field: None,
        message: format!(
            "This import was undone already, on {} by {by}.",
            undone.at.format("%Y-%m-%d %H:%M UTC")
        ),
    }
}

/// Every code the import wrote a version of, locked, in code order.
async fn touched(tx: &mut OrgTx, id: ImportId) -> Result<Vec<TouchedRow>> {
    // Each table is filtered on its own organization column, so that the
    // planner sees the row-level security condition on each side.
    let rows = sqlx::query_as(
        "select v.code_id as id, v.version as imported_version,
                c.code, c.description, c.category, c.severity, c.active, c.version,
                c.deleted_at is not null as deleted,
                prev.snapshot as before
         from code_versions v
         join codes c on c.organization_id = $1 and c.id = v.code_id
         left join code_versions prev on prev.organization_id = $1
                                     and prev.code_id = v.code_id
                                     and prev.version = v.version - 1
         where v.organization_id = $1 and v.import_id = $2
         order by c.code_key
         for update of c",
    )
    .bind(tx.org_id())
    .bind(id)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows)
}

/// Writes the reversals (codes, versions, events), marks the import undone
/// and audits it.
async fn write(tx: &mut OrgTx, undo: &UndoOut, reversals: &[Reversal]) -> Result<()> {
    let growth = undo.restored as i64 - undo.deleted as i64;
    if growth > 0 {
        limits::reserve_codes(tx, growth).await?;
    } else {
        limits::release_codes(tx, -growth).await?;
    }
    let states: Vec<NextState<'_>> = reversals
        .iter()
        .map(|r| NextState {
            id: r.id,
            based_on: r.based_on,
            content: &r.content,
            deleted: r.deleted,
        })
        .collect();
    write_states(tx, &states).await?;
    let mut versions = VersionColumns::default();
    for r in reversals {
        let diff = (r.change != ChangeType::Delete).then(|| r.content.diff_from(&r.current));
        versions.push(r.id, r.based_on + 1, r.change, &r.content, diff.as_ref());
    }
    let import = &undo.import;
    let comment = format!("Undid the import of {}", import.file_name);
    insert_versions(tx, &versions, &comment, None).await?;
    outbox::enqueue_many(tx, std::mem::take(&mut versions.events)).await?;
    let actor = tx.actor();
    sqlx::query(
        "update imports set undone_at = now(), undone_by_kind = $3, undone_by = $4
         where organization_id = $1 and id = $2",
    )
    .bind(tx.org_id())
    .bind(import.id)
    .bind(actor.kind())
    .bind(actor.id())
    .execute(tx.conn())
    .await?;
    audit::record(
        tx,
        AuditEvent::new(AuditAction::CodesImportUndone, "import", import.id).after(json!({
            "file_name": import.file_name,
            "reverted": undo.reverted,
            "deleted": undo.deleted,
            "restored": undo.restored,
        })),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_765_000_000_123_456).unwrap(),
            id: ImportId::from_u128(7),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        for junk in [
            "",
            "%%%",
            &URL_SAFE_NO_PAD.encode("12|not-a-uuid"),
            &URL_SAFE_NO_PAD.encode("x|00000000-0000-0000-0000-000000000007"),
            &URL_SAFE_NO_PAD.encode("99999999999999999999|00000000-0000-0000-0000-000000000007"),
        ] {
            let error = Cursor::decode(junk).unwrap_err();
            assert!(
                matches!(&error, Error::Validation { field: Some(f), .. } if f == "cursor"),
                "{junk}: {error:?}"
            );
        }
    }
}
