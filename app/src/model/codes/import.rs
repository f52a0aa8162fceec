//! A CSV import's answer (what it wrote, its progress, its bad rows), the
//! record of past imports, and undoing one.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ActorOut, CodeValue};
use crate::model::{AppError, CodeId, ImportId};

/// Imports on one page of the history.
pub const IMPORTS_PAGE_SIZE: i64 = 50;
/// Codes an undo's refusal names at most; it counts them all.
pub const MAX_NAMED_CHANGES: usize = 100;

/// What an import did, or would do (dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportSummary {
    /// The import as recorded, to list or undo it; none for a dry run.
    #[serde(default)]
    pub import_id: Option<ImportId>,
    pub dry_run: bool,
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    /// Deleted codes the file brings back.
    pub restored: u64,
    pub deleted: u64,
    pub unchanged: u64,
}

/// The answer to an import: what it wrote (or would write), or, when any
/// row is bad, every bad row and nothing written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub summary: Option<ImportSummary>,
    pub errors: Vec<RowError>,
}

/// What an import is doing, for its progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportPhase {
    /// Reading and checking the file: `done` of `total` bytes.
    Reading,
    /// Writing codes and versions: `done` of `total` changed codes.
    Writing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportProgress {
    pub phase: ImportPhase,
    pub done: u64,
    pub total: u64,
}

/// One line of an import's streamed answer (`progress=ndjson`): progress
/// as it goes, then the report, or the error that stopped it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportUpdate {
    Progress(ImportProgress),
    Report(ImportReport),
    Error(AppError),
}

/// A row of an import file that cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RowError {
    /// 1-based line of the file (the header is line 1).
    pub line: u64,
    pub message: String,
}

/// An import as recorded: the file, who ran it and when, what it wrote,
/// and whether it has been undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportOut {
    pub id: ImportId,
    pub file_name: String,
    pub delete_missing: bool,
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub restored: u64,
    pub deleted: u64,
    pub unchanged: u64,
    pub created_at: DateTime<Utc>,
    pub created_by: ActorOut,
    /// When and by whom it was undone; null while it stands.
    pub undone: Option<UndoneOut>,
}

impl ImportOut {
    /// The codes it wrote a version of.
    pub fn touched(&self) -> u64 {
        self.created + self.updated + self.restored + self.deleted
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UndoneOut {
    pub at: DateTime<Utc>,
    pub by: ActorOut,
}

/// A page of the import history, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ImportPage {
    pub imports: Vec<ImportOut>,
    /// The cursor of the next page; none on the last.
    pub next: Option<String>,
}

/// What undoing an import does, or (dry run) would do: one new version
/// per code it touched, giving back the code as it was before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UndoOut {
    pub import: ImportOut,
    pub dry_run: bool,
    /// Codes the import changed, given back their content before it.
    pub reverted: u64,
    /// Codes the import created or restored, deleted again.
    pub deleted: u64,
    /// Codes the import deleted, restored.
    pub restored: u64,
    /// Codes changed since the import, in code order (at most
    /// `MAX_NAMED_CHANGES` of them named): while there is any, the undo is
    /// refused and nothing changes.
    pub changed_since: Vec<ChangedSince>,
    pub changed_since_count: u64,
}

/// A code that changed after the import that an undo would revert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChangedSince {
    pub id: CodeId,
    pub code: CodeValue,
    /// The version the import wrote.
    pub imported_version: i32,
    /// The code's version now.
    pub version: i32,
}

/// The message refusing an undo, naming the first codes that changed.
pub fn changed_since_message(named: &[ChangedSince], count: u64) -> String {
    const SHOWN: usize = 10;
    let codes: Vec<&str> = named.iter().take(SHOWN).map(|c| c.code.as_str()).collect();
    let more = count.saturating_sub(codes.len() as u64);
    let list = if more > 0 {
        format!("{} and {more} more", codes.join(", "))
    } else {
        codes.join(", ")
    };
    format!(
        "The import cannot be undone: {count} of its codes changed after it ({list}). \
         Nothing was changed; revert or re-import those codes first."
    )
}
