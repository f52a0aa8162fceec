//! A CSV import's answer: what it wrote, its progress, its bad rows.
use serde::{Deserialize, Serialize};

use crate::model::AppError;

/// What an import did, or would do (dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportSummary {
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
