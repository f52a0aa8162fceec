//! Export of an organization's audit log, with the list's filters, as CSV
//! or NDJSON, oldest first. The rows are streamed from PostgreSQL as they
//! arrive (sqlx `fetch` in one `OrgTx`), turned into chunks of text by a
//! task of their own and handed to the response through a small bounded
//! channel: memory stays flat whatever the number of entries, and a
//! client that reads slowly slows the query down instead of filling memory.
//!
//! `GET /audit/export.csv` and `GET /audit/export.ndjson` take the query
//! parameters of the `/audit` page and the caller's session or bearer
//! token, so they are plain links (no JavaScript needed) and work from
//! scripts. Each export is itself recorded (`audit.exported`).
use axum::body::{Body, Bytes};
use axum::extract::{FromRef, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use serde_json::json;
use sqlx::{Postgres, QueryBuilder};
use std::collections::HashMap;
use tokio::sync::mpsc;

use super::query::{checked, push_conditions, EntryRow, SELECT_ENTRY};
use super::AuditEvent;
use crate::backend::{spreadsheet, AppState, OrgContext, OrgTx, Result};
use crate::model::audit::{AuditAction, AuditEntryOut, AuditFilter, AuditQuery};
use crate::model::Permission;

/// About this much text goes into the channel at a time.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks waiting for the client at most: with `CHUNK_BYTES`, the memory
/// one export can hold however slow its reader.
const CHUNKS_IN_FLIGHT: usize = 4;

/// The CSV header: one column per field of an entry.
pub const CSV_COLUMNS: [&str; 18] = [
    "seq",
    "id",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "actor_name",
    "actor_email",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "ip",
    "user_agent",
    "request_id",
    "before",
    "after",
    "prev_hash",
    "hash",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    /// One JSON object per line (`AuditEntryOut`).
    Ndjson,
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Ndjson => "application/x-ndjson",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "audit-log.csv",
            ExportFormat::Ndjson => "audit-log.ndjson",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Ndjson => "ndjson",
        }
    }
}

/// The file's bytes, chunk by chunk. An error ends the stream with an
/// error, which aborts the download instead of leaving a file that looks
/// complete.
pub type ExportStream = BoxStream<'static, std::result::Result<Bytes, std::io::Error>>;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    AppState: FromRef<S>,
{
    Router::new()
        .route("/audit/export.csv", get(export_csv))
        .route("/audit/export.ndjson", get(export_ndjson))
}

async fn export_csv(
    ctx: OrgContext,
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response> {
    let filter = AuditFilter::from_params(|k| params.get(k).cloned());
    let stream = export(&ctx, &state, filter, ExportFormat::Csv).await?;
    Ok(response(ExportFormat::Csv, stream))
}

async fn export_ndjson(
    ctx: OrgContext,
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response> {
    let filter = AuditFilter::from_params(|k| params.get(k).cloned());
    let stream = export(&ctx, &state, filter, ExportFormat::Ndjson).await?;
    Ok(response(ExportFormat::Ndjson, stream))
}

/// A download of `stream`: its type, an attachment's name, not cached.
pub fn response(format: ExportFormat, stream: ExportStream) -> Response {
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(disposition) =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", format.file_name()))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Checks the caller and the filter, records the export, and starts
/// streaming every entry that matches `filter`, oldest first. Errors before
/// the first byte (refused, a bad filter) are returned as such.
#[tracing::instrument(skip_all, fields(org_id = %ctx.org_id, format = format.as_str()))]
pub async fn export(
    ctx: &OrgContext,
    state: &AppState,
    filter: AuditFilter,
    format: ExportFormat,
) -> Result<ExportStream> {
    ctx.require(Permission::ReadAudit).await?;
    let q = checked(&filter)?;
    // Recorded first, in a transaction of its own: the export's own
    // transaction holds no lock on the chain's head while it streams.
    let mut tx = ctx.begin(&state.pool).await?;
    super::record(
        &mut tx,
        AuditEvent::new(AuditAction::AuditExported, "audit_log", ctx.org_id)
            .after(json!({"format": format.as_str(), "filter": filter})),
    )
    .await?;
    tx.commit().await?;

    let tx = ctx.begin(&state.pool).await?;
    let (sender, mut receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::spawn(async move {
        if let Err(error) = write_entries(tx, q, format, &sender).await {
            tracing::error!(error = ?error, "audit export failed");
            let _ = sender
                .send(Err(std::io::Error::other("audit export failed")))
                .await;
        }
    });
    // `poll_recv` answers `None` however often it is asked after the end
    // (the compression layer asks again), where `unfold` would panic.
    Ok(futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx)).boxed())
}

type Sender = mpsc::Sender<std::result::Result<Bytes, std::io::Error>>;

/// Reads the matching entries row by row and sends them on in chunks;
/// stops early, without error, when the client has gone.
async fn write_entries(
    mut tx: OrgTx,
    q: AuditQuery,
    format: ExportFormat,
    sender: &Sender,
) -> Result<()> {
    let mut query = QueryBuilder::<Postgres>::new(SELECT_ENTRY);
    push_conditions(&mut query, tx.org_id(), &q);
    query.push(" order by a.seq");
    let mut chunk = Chunk::new(format);
    {
        let mut rows = query.build_query_as::<EntryRow>().fetch(tx.conn());
        while let Some(row) = rows.try_next().await? {
            chunk.write(AuditEntryOut::from(row))?;
            if chunk.len() >= CHUNK_BYTES && sender.send(Ok(chunk.take()?)).await.is_err() {
                return Ok(());
            }
        }
    }
    let last = chunk.take()?;
    if !last.is_empty() {
        let _ = sender.send(Ok(last)).await;
    }
    // Read only: nothing to keep.
    drop(tx);
    Ok(())
}

type CsvWriter = Box<csv::Writer<Vec<u8>>>;

/// The text of the rows read since the last chunk was sent.
enum Chunk {
    /// `None` between chunks; the header goes into the first one.
    Csv(Option<CsvWriter>, bool),
    Ndjson(Vec<u8>),
}

impl Chunk {
    fn new(format: ExportFormat) -> Self {
        match format {
            ExportFormat::Csv => Chunk::Csv(None, false),
            ExportFormat::Ndjson => Chunk::Ndjson(Vec::with_capacity(CHUNK_BYTES)),
        }
    }

    fn csv_writer<'w>(
        writer: &'w mut Option<CsvWriter>,
        header_written: &mut bool,
    ) -> Result<&'w mut CsvWriter> {
        if writer.is_none() {
            let mut w = csv::Writer::from_writer(Vec::with_capacity(CHUNK_BYTES + 8 * 1024));
            if !*header_written {
                w.write_record(CSV_COLUMNS).map_err(anyhow::Error::from)?;
                *header_written = true;
            }
            *writer = Some(Box::new(w));
        }
        Ok(writer.as_mut().expect("set above"))
    }

    fn write(&mut self, entry: AuditEntryOut) -> Result<()> {
        match self {
            Chunk::Csv(writer, header_written) => {
                let w = Self::csv_writer(writer, header_written)?;
                spreadsheet::write_row(w, csv_record(&entry)).map_err(anyhow::Error::from)?;
            }
            Chunk::Ndjson(buffer) => {
                serde_json::to_writer(&mut *buffer, &entry).map_err(anyhow::Error::from)?;
                buffer.push(b'\n');
            }
        }
        Ok(())
    }

    /// Roughly how many bytes wait (the CSV writer keeps up to 8 KiB of
    /// its own).
    fn len(&self) -> usize {
        match self {
            Chunk::Csv(writer, _) => writer.as_ref().map_or(0, |w| w.get_ref().len()),
            Chunk::Ndjson(buffer) => buffer.len(),
        }
    }

    fn take(&mut self) -> Result<Bytes> {
        match self {
            Chunk::Csv(writer, header_written) => {
                if writer.is_none() && !*header_written {
                    // An export with no entries still has its header.
                    Self::csv_writer(writer, header_written)?;
                }
                let bytes = match writer.take() {
                    Some(w) => (*w)
                        .into_inner()
                        .map_err(|e| anyhow::anyhow!("CSV writer: {}", e.error()))?,
                    None => Vec::new(),
                };
                Ok(Bytes::from(bytes))
            }
            Chunk::Ndjson(buffer) => Ok(Bytes::from(std::mem::replace(
                buffer,
                Vec::with_capacity(CHUNK_BYTES),
            ))),
        }
    }
}

/// One line of the CSV, in `CSV_COLUMNS` order, as the log holds it;
/// written through [`spreadsheet::write_row`], so a cell a spreadsheet would
/// run as a formula starts with `'`: strip it again before checking a hash.
fn csv_record(e: &AuditEntryOut) -> [String; 18] {
    let json_text =
        |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        e.seq.to_string(),
        e.id.to_string(),
        e.occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        e.actor.kind.clone(),
        e.actor.id.map(|id| id.to_string()).unwrap_or_default(),
        text(&e.actor.name),
        text(&e.actor.email),
        e.action.clone(),
        e.resource_type.clone(),
        text(&e.resource_id),
        e.outcome.clone(),
        text(&e.ip),
        text(&e.user_agent),
        text(&e.request_id),
        json_text(&e.before),
        json_text(&e.after),
        e.prev_hash.clone(),
        e.hash.clone(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::audit::AuditActorOut;
    use uuid::Uuid;

    fn entry(seq: i64, user_agent: &str) -> AuditEntryOut {
        AuditEntryOut {
            seq,
            id: Uuid::from_u128(seq as u128),
            occurred_at: chrono::DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            actor: AuditActorOut {
                kind: "user".into(),
                id: Some(Uuid::from_u128(9)),
                name: Some("Ada, \"the first\"".into()),
                email: Some("ada@example.com".into()),
            },
            action: "code.updated".into(),
            resource_type: "code".into(),
            resource_id: Some("c1".into()),
            outcome: "success".into(),
            before: Some(json!({"a": 1})),
            after: None,
            ip: Some("127.0.0.1".into()),
            user_agent: Some(user_agent.into()),
            request_id: None,
            prev_hash: "00".repeat(32),
            hash: "ab".repeat(32),
        }
    }

    fn csv_of(chunks: Vec<Bytes>) -> Vec<csv::StringRecord> {
        let text: Vec<u8> = chunks.concat();
        csv::Reader::from_reader(text.as_slice())
            .records()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn csv_chunks_carry_one_header_and_quote_what_needs_it() {
        let mut chunk = Chunk::new(ExportFormat::Csv);
        chunk
            .write(entry(1, "curl/8, \"quoted\"\nnext line"))
            .unwrap();
        let first = chunk.take().unwrap();
        chunk.write(entry(2, "plain")).unwrap();
        let second = chunk.take().unwrap();
        assert!(first.starts_with(b"seq,id,occurred_at,"));
        assert!(!second.starts_with(b"seq,"));
        let records = csv_of(vec![first, second]);
        assert_eq!(records.len(), 2);
        assert_eq!(&records[0][5], "Ada, \"the first\"");
        assert_eq!(&records[0][12], "curl/8, \"quoted\"\nnext line");
        assert_eq!(&records[0][14], r#"{"a":1}"#);
        assert_eq!(&records[1][0], "2");
        assert_eq!(&records[1][2], "2023-11-14T22:13:20.123456Z");
    }

    #[test]
    fn csv_cells_a_spreadsheet_would_run_start_with_a_quote() {
        let mut chunk = Chunk::new(ExportFormat::Csv);
        let mut e = entry(1, "=HYPERLINK(\"http://evil\",\"x\")");
        e.actor.name = Some("@SUM(1+1)".into());
        e.resource_id = Some("-A01".into());
        chunk.write(e).unwrap();
        let records = csv_of(vec![chunk.take().unwrap()]);
        assert_eq!(&records[0][5], "'@SUM(1+1)");
        assert_eq!(&records[0][9], "'-A01");
        assert_eq!(&records[0][12], "'=HYPERLINK(\"http://evil\",\"x\")");
        assert_eq!(&records[0][0], "1");
    }

    #[test]
    fn an_empty_csv_export_still_has_its_header() {
        let mut chunk = Chunk::new(ExportFormat::Csv);
        let only = chunk.take().unwrap();
        assert_eq!(only, Bytes::from(format!("{}\n", CSV_COLUMNS.join(","))));
    }

    #[test]
    fn ndjson_is_one_entry_per_line() {
        let mut chunk = Chunk::new(ExportFormat::Ndjson);
        chunk.write(entry(1, "a\nb")).unwrap();
        chunk.write(entry(2, "c")).unwrap();
        let text = String::from_utf8(chunk.take().unwrap().to_vec()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let back: AuditEntryOut = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(back, entry(1, "a\nb"));
    }
}
