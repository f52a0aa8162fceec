//! Bulk import of a CSV file (`code,description,category[,severity,active]`,
//! plain or gzipped) as an upsert: new codes get a CREATE version, changed
//! ones an UPDATE, deleted ones the file names again a RESTORE, and with
//! "delete missing" every live code the file leaves out a DELETE. All or
//! nothing: one bad row and nothing is written. The writes are a handful of
//! bulk statements, whatever the number of rows.
use crate::model::audit::AuditAction;
use crate::model::{CodeId, ImportId};
use serde_json::json;
use std::collections::HashMap;
use std::io::Read as _;

use super::import_slots::{with_retry_after, ImportSlot};
use super::versions::snapshot;
use super::ContentColumns;
use crate::backend::audit::{self, AuditEvent};
use crate::backend::outbox::{self, EventType};
use crate::backend::{limits, spreadsheet, AppState, Error, OrgContext, OrgTx, Result};
use crate::model::codes::{
    ChangeType, CodeContent, Diff, ImportPhase, ImportProgress, ImportReport, ImportSummary,
    ImportUpdate, RowError, Severity, MAX_CHANGE_COMMENT_LEN,
};
use crate::model::Permission;

/// Bad rows reported at most; past that the file is surely the wrong one.
const MAX_ERRORS: usize = 100;
/// Rows read between two progress reports.
const REPORT_EVERY: usize = 250;

/// Told how far an import has got.
pub type Progress<'a> = &'a (dyn Fn(ImportProgress) + Send + Sync);

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Recorded in the audit entry.
    pub file_name: String,
    /// Delete every live code the file does not name.
    pub delete_missing: bool,
    /// Count what would be written, write nothing.
    pub dry_run: bool,
}

/// One good row of the file.
#[derive(Debug, Clone)]
pub struct FileRow {
    pub line: u64,
    pub content: CodeContent,
    /// Whether the row gives a severity and an active flag; when it does
    /// not (no such column, or an empty cell), an existing code keeps its
    /// own and a new one gets the defaults.
    pub severity_given: bool,
    pub active_given: bool,
}

/// Gunzips the file if it is gzipped.
fn plain_bytes(bytes: &[u8]) -> std::result::Result<std::borrow::Cow<'_, [u8]>, String> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| format!("The file looks gzipped but could not be unpacked: {e}"))?;
        Ok(out.into())
    } else {
        Ok(bytes.into())
    }
}

/// Where each column is.
struct Columns {
    code: usize,
    description: usize,
    category: usize,
    severity: Option<usize>,
    active: Option<usize>,
}

fn columns(header: &csv::ByteRecord) -> std::result::Result<Columns, String> {
    let names: Vec<String> = header
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim()
                .trim_start_matches('\u{feff}')
                .to_lowercase()
        })
        .collect();
    let find = |name: &str| names.iter().position(|n| n == name);
    if let Some(unknown) = names
        .iter()
        .find(|n| !["code", "description", "category", "severity", "active"].contains(&n.as_str()))
    {
        return Err(format!(
            "Unknown column `{unknown}`: use code, description, category, and optionally severity and active."
        ));
    }
    let required = |name: &str| {
        find(name).ok_or_else(|| {
            format!("The header must name the columns code, description and category; `{name}` is missing.")
        })
    };
    Ok(Columns {
        code: required("code")?,
        description: required("description")?,
        category: required("category")?,
        severity: find("severity"),
        active: find("active"),
    })
}

fn parse_active(raw: &str) -> std::result::Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "true" | "1" | "yes" | "y" | "active" => Ok(true),
        "false" | "0" | "no" | "n" | "inactive" => Ok(false),
        other => Err(format!(
            "`{other}` is not a valid active flag (use true or false)"
        )),
    }
}

fn parse_row(
    line: u64,
    record: &csv::ByteRecord,
    cols: &Columns,
    default_severity: Severity,
) -> std::result::Result<FileRow, String> {
    let field = |i: usize| -> std::result::Result<&str, String> {
        std::str::from_utf8(record.get(i).unwrap_or_default())
            .map(spreadsheet::unguard)
            .map_err(|_| "the row is not valid UTF-8".to_owned())
    };
    let given = |i: Option<usize>| -> std::result::Result<Option<&str>, String> {
        Ok(i.map(field).transpose()?.filter(|v| !v.trim().is_empty()))
    };
    let severity = given(cols.severity)?;
    let active = given(cols.active)?;
    let content = CodeContent::parse(
        field(cols.code)?,
        field(cols.description)?,
        field(cols.category)?,
        severity,
        active.map(parse_active).transpose()?.unwrap_or(true),
        default_severity,
    )
    .map_err(|e| match e.field {
        Some(f) => format!("{f}: {}", e.message),
        None => e.message,
    })?;
    Ok(FileRow {
        line,
        content,
        severity_given: severity.is_some(),
        active_given: active.is_some(),
    })
}

/// Reads every row of the file, or every problem with it, by line.
pub fn parse(
    bytes: &[u8],
    default_severity: Severity,
) -> std::result::Result<Vec<FileRow>, Vec<RowError>> {
    parse_with_progress(bytes, default_severity, &|_| {})
}

fn parse_with_progress(
    bytes: &[u8],
    default_severity: Severity,
    progress: Progress<'_>,
) -> std::result::Result<Vec<FileRow>, Vec<RowError>> {
    let at_line = |line: u64| move |message: String| vec![RowError { line, message }];
    let plain = plain_bytes(bytes).map_err(at_line(1))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(plain.as_ref());
    let header = reader
        .byte_headers()
        .map_err(|e| at_line(1)(format!("The header cannot be read: {e}")))?
        .clone();
    let cols = columns(&header).map_err(at_line(1))?;
    let width = header.len();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut first_line_of: HashMap<String, u64> = HashMap::new();
    let mut record = csv::ByteRecord::new();
    let total = plain.len() as u64;
    let mut lines = LineCounter::new(&plain);
    loop {
        if (rows.len() + errors.len()) % REPORT_EVERY == 0 {
            progress(ImportProgress {
                phase: ImportPhase::Reading,
                done: reader.position().byte(),
                total,
            });
        }
        let line = lines.line_at(reader.position().byte());
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                errors.push(RowError {
                    line,
                    message: format!("The row cannot be read: {e}"),
                });
                break;
            }
        }
        let line = record.position().map_or(line, |p| lines.line_at(p.byte()));
        let parsed = if record.len() != width {
            Err(format!(
                "expected {width} fields as in the header, found {}",
                record.len()
            ))
        } else {
            parse_row(line, &record, &cols, default_severity)
        };
        match parsed {
            Ok(row) => match first_line_of.get(&row.content.code.key()) {
                Some(first) => errors.push(RowError {
                    line,
                    message: format!(
                        "code {} appears twice in the file (first on line {first})",
                        row.content.code
                    ),
                }),
                None => {
                    first_line_of.insert(row.content.code.key(), line);
                    rows.push(row);
                }
            },
            Err(message) => errors.push(RowError { line, message }),
        }
        if errors.len() >= MAX_ERRORS {
            break;
        }
    }
    progress(ImportProgress {
        phase: ImportPhase::Reading,
        done: total,
        total,
    });
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// The line a record starting at a byte of the file is on. The csv crate's
/// own count is one short after a CRLF line ending: it ends a record at the
/// `\r` and counts the `\n` into the next one. So the record's first line
/// is that of its first byte past any line ends, counted from the `\n`s
/// before it. Asked for offsets in increasing order, it reads each byte
/// once.
struct LineCounter<'a> {
    text: &'a [u8],
    counted_to: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            counted_to: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, byte: u64) -> u64 {
        let mut byte = (byte as usize).min(self.text.len());
        while self
            .text
            .get(byte)
            .is_some_and(|b| matches!(b, b'\r' | b'\n'))
        {
            byte += 1;
        }
        if byte < self.counted_to {
            self.counted_to = 0;
            self.line = 1;
        }
        let newlines = self.text[self.counted_to..byte]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.line += newlines as u64;
        self.counted_to = byte;
        self.line
    }
}

#[derive(sqlx::FromRow)]
struct Existing {
    id: CodeId,
    #[sqlx(flatten)]
    stored: ContentColumns,
    version: i32,
    deleted: bool,
}

impl Existing {
    fn content(&self) -> CodeContent {
        self.stored.content()
    }
}

/// A change to an existing code: its new content and the version it must
/// still be at.
struct Change {
    id: CodeId,
    based_on: i32,
    content: CodeContent,
    diff: Diff,
}

#[derive(Default)]
struct Plan {
    creates: Vec<CodeContent>,
    updates: Vec<Change>,
    restores: Vec<Change>,
    deletes: Vec<(CodeId, i32, CodeContent)>,
    unchanged: u64,
}

fn plan(existing: Vec<Existing>, rows: Vec<FileRow>, delete_missing: bool) -> Plan {
    let mut by_key: HashMap<String, Existing> = existing
        .into_iter()
        .map(|e| (e.stored.code.to_uppercase(), e))
        .collect();
    let mut plan = Plan::default();
    for row in rows {
        let Some(current) = by_key.remove(&row.content.code.key()) else {
            plan.creates.push(row.content);
            continue;
        };
        let mut content = row.content;
        if !row.severity_given {
            content.severity = current.stored.severity;
        }
        if !row.active_given {
            content.active = current.stored.active;
        }
        let diff = content.diff_from(&current.content());
        let change = Change {
            id: current.id,
            based_on: current.version,
            content,
            diff,
        };
        if current.deleted {
            plan.restores.push(change);
        } else if change.diff.is_empty() {
            plan.unchanged += 1;
        } else {
            plan.updates.push(change);
        }
    }
    if delete_missing {
        plan.deletes = by_key
            .into_values()
            .filter(|e| !e.deleted)
            .map(|e| (e.id, e.version, e.content()))
            .collect();
    }
    plan
}

/// Imports `bytes` into the caller's organization.
pub async fn import(
    ctx: &OrgContext,
    state: &AppState,
    bytes: &[u8],
    options: ImportOptions,
) -> Result<ImportReport> {
    import_with_progress(ctx, state, bytes, options, &|_| {}).await
}

/// Imports `bytes`, telling `progress` how far it has got.
#[tracing::instrument(skip_all, fields(org_id = %ctx.org_id, file = %options.file_name))]
pub async fn import_with_progress(
    ctx: &OrgContext,
    state: &AppState,
    bytes: &[u8],
    options: ImportOptions,
    progress: Progress<'_>,
) -> Result<ImportReport> {
    let mut tx = ctx
        .begin_as(&state.pool, Permission::BulkImportExport)
        .await?;
    let default_severity = super::default_severity(&mut tx).await?;
    let rows = match parse_with_progress(bytes, default_severity, progress) {
        Ok(rows) => rows,
        Err(errors) => {
            return Ok(ImportReport {
                summary: None,
                errors,
            })
        }
    };
    let existing: Vec<Existing> = sqlx::query_as(
        "select id, code, description, category, severity, active, version,
                deleted_at is not null as deleted
         from codes where organization_id = $1",
    )
    .bind(tx.org_id())
    .fetch_all(tx.conn())
    .await?;
    let total = rows.len() as u64;
    let plan = plan(existing, rows, options.delete_missing);
    let id = ImportId::new_v4();
    let summary = ImportSummary {
        import_id: (!options.dry_run).then_some(id),
        dry_run: options.dry_run,
        rows: total,
        created: plan.creates.len() as u64,
        updated: plan.updates.len() as u64,
        restored: plan.restores.len() as u64,
        deleted: plan.deletes.len() as u64,
        unchanged: plan.unchanged,
    };
    apply(&mut tx, id, plan, &options, &summary, progress).await?;
    if options.dry_run {
        // Everything was written and checked; none of it is kept.
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(ImportReport {
        summary: Some(summary),
        errors: Vec::new(),
    })
}

/// The rows of `code_versions` to write, column by column.
#[derive(Default)]
pub(super) struct VersionColumns {
    code_ids: Vec<CodeId>,
    versions: Vec<i32>,
    changes: Vec<&'static str>,
    snapshots: Vec<serde_json::Value>,
    diffs: Vec<Option<serde_json::Value>>,
    pub(super) events: Vec<(EventType, serde_json::Value)>,
}

impl VersionColumns {
    pub(super) fn push(
        &mut self,
        id: CodeId,
        version: i32,
        change: ChangeType,
        content: &CodeContent,
        diff: Option<&Diff>,
    ) {
        let (name, event) = match change {
            ChangeType::Create => ("create", EventType::CodeCreated),
            ChangeType::Update => ("update", EventType::CodeUpdated),
            ChangeType::Delete => ("delete", EventType::CodeDeleted),
            ChangeType::Restore => ("restore", EventType::CodeRestored),
        };
        let deleted = change == ChangeType::Delete;
        self.code_ids.push(id);
        self.versions.push(version);
        self.changes.push(name);
        self.snapshots.push(snapshot(content, deleted));
        self.diffs.push(diff.map(|d| json!(d)));
        let mut data = json!({"id": id, "version": version, "code": content});
        if let Some(diff) = diff {
            data["changed_fields"] = json!(diff.keys().collect::<Vec<_>>());
        }
        self.events.push((event, data));
    }
}

async fn apply(
    tx: &mut OrgTx,
    id: ImportId,
    plan: Plan,
    options: &ImportOptions,
    summary: &ImportSummary,
    progress: Progress<'_>,
) -> Result<()> {
    let total =
        (plan.creates.len() + plan.updates.len() + plan.restores.len() + plan.deletes.len()) as u64;
    let mut done = 0;
    let mut wrote = |n: usize| {
        done += n as u64;
        progress(ImportProgress {
            phase: ImportPhase::Writing,
            done,
            total,
        });
    };
    wrote(0);
    let growth = (plan.creates.len() + plan.restores.len()) as i64 - plan.deletes.len() as i64;
    if growth > 0 {
        limits::reserve_codes(tx, growth).await?;
    } else {
        limits::release_codes(tx, -growth).await?;
    }
    let mut versions = VersionColumns::default();
    let created = insert_codes(tx, &plan.creates).await?;
    for (id, content) in created.iter().zip(&plan.creates) {
        versions.push(*id, 1, ChangeType::Create, content, None);
    }
    wrote(plan.creates.len());
    write_states(tx, &live_states(&plan.updates)).await?;
    wrote(plan.updates.len());
    for c in &plan.updates {
        versions.push(
            c.id,
            c.based_on + 1,
            ChangeType::Update,
            &c.content,
            Some(&c.diff),
        );
    }
    write_states(tx, &live_states(&plan.restores)).await?;
    wrote(plan.restores.len());
    for c in &plan.restores {
        versions.push(
            c.id,
            c.based_on + 1,
            ChangeType::Restore,
            &c.content,
            Some(&c.diff),
        );
    }
    delete_codes(tx, &plan.deletes).await?;
    wrote(plan.deletes.len());
    for (id, based_on, content) in &plan.deletes {
        versions.push(*id, based_on + 1, ChangeType::Delete, content, None);
    }
    record(tx, id, options, summary).await?;
    let comment = format!("Imported from {}", options.file_name);
    insert_versions(tx, &versions, &comment, Some(id)).await?;
    outbox::enqueue_many(tx, versions.events).await?;
    audit::record(
        tx,
        AuditEvent::new(AuditAction::CodesImported, "import", id).after(json!({
            "file_name": options.file_name,
            "delete_missing": options.delete_missing,
            "summary": summary,
        })),
    )
    .await?;
    Ok(())
}

/// The file's name as the history shows it: printable, at most 200
/// characters, `upload.csv` when the caller gave none.
fn recorded_name(file_name: &str) -> String {
    let name: String = file_name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if name.trim().is_empty() {
        "upload.csv".to_owned()
    } else {
        name.trim().to_owned()
    }
}

/// Records the import as one operation, to list and undo.
async fn record(
    tx: &mut OrgTx,
    id: ImportId,
    options: &ImportOptions,
    summary: &ImportSummary,
) -> Result<()> {
    let actor = tx.actor();
    let count = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
    sqlx::query(
        "insert into imports (organization_id, id, file_name, delete_missing, rows, created,
                              updated, restored, deleted, unchanged, created_by_kind, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(recorded_name(&options.file_name))
    .bind(options.delete_missing)
    .bind(count(summary.rows))
    .bind(count(summary.created))
    .bind(count(summary.updated))
    .bind(count(summary.restored))
    .bind(count(summary.deleted))
    .bind(count(summary.unchanged))
    .bind(actor.kind())
    .bind(actor.id())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A bulk statement found a code at another version than planned: someone
/// changed it while the file was being read.
fn moved_on() -> Error {
    Error::Conflict {
        field: None,
        message: "Codes changed while the file was being imported. Nothing was written; import \
                  the file again."
            .into(),
    }
}

async fn insert_codes(tx: &mut OrgTx, creates: &[CodeContent]) -> Result<Vec<CodeId>> {
    let ids: Vec<CodeId> = creates.iter().map(|_| CodeId::new_v4()).collect();
    if creates.is_empty() {
        return Ok(ids);
    }
    let actor = tx.actor();
    let inserted = sqlx::query(
        "insert into codes (organization_id, id, code, description, category, severity, active,
                            version, created_by_kind, created_by, updated_by_kind, updated_by)
         select $1, id, code, description, category, severity::code_severity, active, 1,
                $7, $8, $7, $8
         from unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $9::bool[])
              as r (id, code, description, category, severity, active)
         on conflict (organization_id, code_key) do nothing",
    )
    .bind(tx.org_id())
    .bind(&ids)
    .bind(creates.iter().map(|c| c.code.as_str()).collect::<Vec<_>>())
    .bind(
        creates
            .iter()
            .map(|c| c.description.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        creates
            .iter()
            .map(|c| c.category.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        creates
            .iter()
            .map(|c| c.severity.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(actor.kind())
    .bind(actor.id())
    .bind(creates.iter().map(|c| c.active).collect::<Vec<_>>())
    .execute(tx.conn())
    .await?
    .rows_affected();
    if inserted != creates.len() as u64 {
        return Err(moved_on());
    }
    Ok(ids)
}

/// A code's next content, and whether it is deleted after, to write at
/// the version it must still be at.
pub(super) struct NextState<'a> {
    pub id: CodeId,
    pub based_on: i32,
    pub content: &'a CodeContent,
    pub deleted: bool,
}

/// The next states of changed codes that stay (or come back) live.
fn live_states(changes: &[Change]) -> Vec<NextState<'_>> {
    changes
        .iter()
        .map(|c| NextState {
            id: c.id,
            based_on: c.based_on,
            content: &c.content,
            deleted: false,
        })
        .collect()
}

/// Writes each code's next state in one statement; when any code is not
/// at the version planned any more, nothing is written.
pub(super) async fn write_states<'a>(tx: &mut OrgTx, states: &[NextState<'a>]) -> Result<()> {
    if states.is_empty() {
        return Ok(());
    }
    let actor = tx.actor();
    let column = |f: fn(&NextState<'a>) -> &'a str| states.iter().map(f).collect::<Vec<_>>();
    let changed = sqlx::query(
        "update codes c
         set code = r.code, description = r.description, category = r.category,
             severity = r.severity::code_severity, active = r.active, version = c.version + 1,
             updated_at = now(), updated_by_kind = $10, updated_by = $11,
             deleted_at = case when r.deleted then coalesce(c.deleted_at, now()) end
         from unnest($2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::bool[], $9::bool[])
              as r (id, based_on, code, description, category, severity, active, deleted)
         where c.organization_id = $1 and c.id = r.id and c.version = r.based_on",
    )
    .bind(tx.org_id())
    .bind(states.iter().map(|s| s.id).collect::<Vec<_>>())
    .bind(states.iter().map(|s| s.based_on).collect::<Vec<_>>())
    .bind(column(|s| s.content.code.as_str()))
    .bind(column(|s| s.content.description.as_str()))
    .bind(column(|s| s.content.category.as_str()))
    .bind(column(|s| s.content.severity.as_str()))
    .bind(states.iter().map(|s| s.content.active).collect::<Vec<_>>())
    .bind(states.iter().map(|s| s.deleted).collect::<Vec<_>>())
    .bind(actor.kind())
    .bind(actor.id())
    .execute(tx.conn())
    .await?
    .rows_affected();
    if changed != states.len() as u64 {
        return Err(moved_on());
    }
    Ok(())
}

async fn delete_codes(tx: &mut OrgTx, deletes: &[(CodeId, i32, CodeContent)]) -> Result<()> {
    if deletes.is_empty() {
        return Ok(());
    }
    let actor = tx.actor();
    let deleted = sqlx::query(
        "update codes c
         set deleted_at = now(), version = c.version + 1, updated_at = now(),
             updated_by_kind = $4, updated_by = $5
         from unnest($2::uuid[], $3::int[]) as r (id, based_on)
         where c.organization_id = $1 and c.id = r.id and c.version = r.based_on
           and c.deleted_at is null",
    )
    .bind(tx.org_id())
    .bind(deletes.iter().map(|d| d.0).collect::<Vec<_>>())
    .bind(deletes.iter().map(|d| d.1).collect::<Vec<_>>())
    .bind(actor.kind())
    .bind(actor.id())
    .execute(tx.conn())
    .await?
    .rows_affected();
    if deleted != deletes.len() as u64 {
        return Err(moved_on());
    }
    Ok(())
}

/// Writes the versions, each with `comment`, tagged with the import that
/// wrote them, if one did.
pub(super) async fn insert_versions(
    tx: &mut OrgTx,
    v: &VersionColumns,
    comment: &str,
    import_id: Option<ImportId>,
) -> Result<()> {
    if v.code_ids.is_empty() {
        return Ok(());
    }
    let actor = tx.actor();
    let comment: String = comment.chars().take(MAX_CHANGE_COMMENT_LEN).collect();
    sqlx::query(
        "insert into code_versions (organization_id, code_id, version, change, snapshot, diff,
                                    comment, actor_kind, actor_id, import_id)
         select $1, code_id, version, change::code_change, snapshot, diff, $7, $8, $9, $10
         from unnest($2::uuid[], $3::int[], $4::text[], $5::jsonb[], $6::jsonb[])
              as r (code_id, version, change, snapshot, diff)",
    )
    .bind(tx.org_id())
    .bind(&v.code_ids)
    .bind(&v.versions)
    .bind(&v.changes)
    .bind(&v.snapshots)
    .bind(&v.diffs)
    .bind(comment)
    .bind(actor.kind())
    .bind(actor.id())
    .bind(import_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The largest import file taken, gzipped or not: ten times a full
/// ICD-10-CM release as plain CSV.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// `POST /codes/import?file_name=…&delete_missing=true&dry_run=true` with
/// the file as the body: the browser's upload (with its progress bar) and
/// scripts post here. Answers the `ImportReport` as JSON: 200 when it was
/// imported (or would be), 422 with the bad rows when nothing was. With
/// `progress=ndjson` the answer is a stream of `ImportUpdate` lines instead:
/// progress while it works, then the report (or the error).
pub(super) async fn upload(
    ctx: OrgContext,
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Query(params): axum::extract::Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse as _;
    ctx.require(Permission::BulkImportExport).await?;
    let slot = match state.imports.try_take() {
        Ok(slot) => slot,
        Err(busy) => return Ok(with_retry_after(busy.into_response())),
    };
    let flag = |name: &str| {
        params
            .get(name)
            .is_some_and(|v| matches!(v.as_str(), "true" | "1" | "on" | "yes"))
    };
    let file_name: String = params
        .get("file_name")
        .map(|n| n.chars().filter(|c| !c.is_control()).take(200).collect())
        .unwrap_or_else(|| "upload.csv".to_owned());
    let options = ImportOptions {
        file_name,
        delete_missing: flag("delete_missing"),
        dry_run: flag("dry_run"),
    };
    if params.get("progress").map(String::as_str) == Some("ndjson") {
        return Ok(streamed(ctx, state, body, options, slot));
    }
    let report = import(&ctx, &state, &body, options).await?;
    drop(slot);
    let status = if report.errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, axum::Json(report)).into_response())
}

/// Runs the import on its own task (it completes even if the browser goes
/// away) and streams its updates as NDJSON.
fn streamed(
    ctx: OrgContext,
    state: AppState,
    body: axum::body::Bytes,
    options: ImportOptions,
    slot: ImportSlot,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<ImportUpdate>();
    tokio::spawn(async move {
        let _slot = slot;
        let progress_sender = sender.clone();
        let progress = move |p: ImportProgress| {
            let _ = progress_sender.send(ImportUpdate::Progress(p));
        };
        let outcome = import_with_progress(&ctx, &state, &body, options, &progress).await;
        let last = match outcome {
            Ok(report) => ImportUpdate::Report(report),
            Err(e) => ImportUpdate::Error(e.into_app_error(ctx.meta.request_id.as_deref())),
        };
        let _ = sender.send(last);
    });
    // Fused, as the compression layer's gzip encoder may poll once more
    // after the end, which an unfused `unfold` answers with a panic.
    let lines = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let update = receiver.recv().await?;
        let mut line = serde_json::to_vec(&update).unwrap_or_default();
        line.push(b'\n');
        Some((
            Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(line)),
            receiver,
        ))
    });
    let lines = futures_util::StreamExt::fuse(lines);
    let mut response = axum::body::Body::from_stream(lines).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(csv: &str) -> Vec<RowError> {
        parse(csv.as_bytes(), Severity::Medium).unwrap_err()
    }

    #[test]
    fn a_good_file_reads_with_defaults_for_missing_columns() {
        let rows = parse(
            b"code,description,category\nA00.0,\"Cholera, classical\",Infectious\n",
            Severity::Low,
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].content.description, "Cholera, classical");
        assert_eq!(rows[0].content.severity, Severity::Low);
        assert!(rows[0].content.active);
    }

    #[test]
    fn bad_rows_are_named_by_their_line() {
        let errors = errors_of(
            "code,description,category,severity,active\n\
             A00,Fine,Cat,low,true\n\
             ,Missing code,Cat,low,true\n\
             A01,Bad severity,Cat,urgent,true\n\
             a00,Duplicate,Cat,low,true\n\
             A02,Bad flag,Cat,low,maybe\n\
             A03,Too few fields\n",
        );
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7], "{errors:?}");
        assert!(errors[2].message.contains("first on line 2"));
    }

    #[test]
    fn lines_are_counted_alike_with_crlf_and_lf_endings() {
        let file = "code,description,category\n\
             A00,Fine,Cat\n\
             A01,\"A description\nover two lines\",Cat\n\
             ,Missing code,Cat\n\
             \n\
             A02,Bad,Cat,extra\n";
        for ending in ["\n", "\r\n"] {
            let errors = errors_of(&file.replace('\n', ending));
            let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
            // The row over two lines is refused (no line breaks in a
            // description) on the line it starts on.
            assert_eq!(lines, [3, 5, 7], "{ending:?}: {errors:?}");
        }
        let rows = parse(
            b"code,description,category\r\nA00,One,Cat\r\nA01,Two,Cat\r\n",
            Severity::Low,
        )
        .unwrap();
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3]);
    }

    #[test]
    fn formula_guards_are_stripped_on_import() {
        let rows = parse(
            b"code,description,category\n'+A01,'=1+1,'@cat\n'-B02,'abc,Cat\n",
            Severity::Low,
        )
        .unwrap();
        assert_eq!(rows[0].content.code.as_str(), "+A01");
        assert_eq!(rows[0].content.description, "=1+1");
        assert_eq!(rows[0].content.category, "@cat");
        assert_eq!(rows[1].content.code.as_str(), "-B02");
        assert_eq!(rows[1].content.description, "'abc");
    }

    #[test]
    fn broken_utf8_and_unknown_columns_are_refused() {
        let mut bytes = b"code,description,category\nA00,".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b",Cat\n");
        let errors = parse(&bytes, Severity::Medium).unwrap_err();
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("UTF-8"));
        assert_eq!(errors_of("code,description,colour\nA,b,c\n")[0].line, 1);
    }

    #[test]
    fn the_recorded_name_is_printable_short_and_never_empty() {
        assert_eq!(recorded_name(""), "upload.csv");
        assert_eq!(recorded_name(" \n\t"), "upload.csv");
        assert_eq!(recorded_name(" codes\u{7}.csv "), "codes.csv");
        assert_eq!(recorded_name(&"é".repeat(300)).chars().count(), 200);
    }

    #[test]
    fn a_gzipped_file_reads_like_a_plain_one() {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"code,description,category\nB01,Varicella,Infectious\n")
            .unwrap();
        let rows = parse(&gz.finish().unwrap(), Severity::Medium).unwrap();
        assert_eq!(rows[0].content.code.as_str(), "B01");
    }
}
