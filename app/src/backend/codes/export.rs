//! Export of the current codes (with the list's filters) as CSV or JSON,
//! streamed a page at a time, so memory stays flat whatever the number of
//! codes. Plain links (`/codes/export.csv?q=…`), so they work without
//! JavaScript and from scripts holding a bearer token.
use axum::body::{Body, Bytes};
use axum::extract::{FromRef, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::borrow::Borrow;
use std::collections::HashMap;

use super::list::{fetch_page, Cursor};
use super::CodeRow;
use crate::backend::{spreadsheet, AppState, OrgContext, OrgTx, Plans, Result};
use crate::model::codes::{CodeContent, CodeFilter, CodeOut, SortOrder};
use crate::model::Permission;

/// Codes read from the database per round trip.
const CHUNK: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    AppState: FromRef<S>,
{
    Router::new()
        .route("/codes/export.csv", get(export_csv))
        .route("/codes/export.json", get(export_json))
}

async fn export_csv(
    ctx: OrgContext,
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response> {
    let filter = CodeFilter::from_params(|k| params.get(k).cloned());
    export(ctx, state, filter, Format::Csv).await
}

async fn export_json(
    ctx: OrgContext,
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response> {
    let filter = CodeFilter::from_params(|k| params.get(k).cloned());
    export(ctx, state, filter, Format::Json).await
}

/// Where the stream is: the open transaction and the last code sent.
struct Progress {
    tx: Option<OrgTx>,
    filter: CodeFilter,
    cursor: Option<Cursor>,
    format: Format,
    started: bool,
}

/// The codes `filter` selects (every page of them, in code order) as a
/// streamed file: the browser's links and the REST API's export.
pub async fn export(
    ctx: OrgContext,
    state: AppState,
    mut filter: CodeFilter,
    format: Format,
) -> Result<Response> {
    filter.sort = SortOrder::Code;
    filter.after = None;
    let tx = ctx
        .begin_planned_as(&state.pool, Permission::BulkImportExport, Plans::Generic)
        .await?;
    let progress = Progress {
        tx: Some(tx),
        filter,
        cursor: None,
        format,
        started: false,
    };
    // Fused: a body reader may poll once more after the end (the gzip
    // encoder of the compression layer does), which an unfused `unfold`
    // answers with a panic.
    let stream = futures_util::StreamExt::fuse(futures_util::stream::unfold(progress, next_chunk));
    let (content_type, name) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "codes.csv"),
        Format::Json => ("application/json", "codes.json"),
    };
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

/// The next piece of the file, or `None` at its end. A database error ends
/// the stream with an error, which aborts the download instead of leaving
/// a file that looks complete.
async fn next_chunk(
    mut p: Progress,
) -> Option<(std::result::Result<Bytes, std::io::Error>, Progress)> {
    let mut tx = p.tx.take()?;
    let rows = match fetch_page(&mut tx, &p.filter, p.cursor.as_ref(), CHUNK).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = ?e, "export failed");
            return Some((Err(std::io::Error::other("export failed")), p));
        }
    };
    let last_page = (rows.len() as i64) < CHUNK;
    p.cursor = rows.last().map(|r| Cursor::of(r, SortOrder::Code));
    let mut out = match p.format {
        Format::Csv => csv_lines(rows.iter().map(CodeRow::content), !p.started),
        Format::Json => json_items(rows, !p.started),
    };
    p.started = true;
    if last_page {
        if p.format == Format::Json {
            out.extend_from_slice(b"]\n");
        }
        let _ = tx.commit().await;
    } else {
        p.tx = Some(tx);
    }
    Some((Ok(Bytes::from(out)), p))
}

/// A `csv::Writer` over a `Vec` fails only when memory does.
const IN_MEMORY: &str = "writing into memory";

/// Codes in the import's CSV format (so an export imports back as it is),
/// with its header line first when `with_header`.
pub(crate) fn csv_lines(
    contents: impl IntoIterator<Item = impl Borrow<CodeContent>>,
    with_header: bool,
) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if with_header {
        let header = ["code", "description", "category", "severity", "active"];
        spreadsheet::write_row(&mut writer, header).expect(IN_MEMORY);
    }
    for content in contents {
        let c = content.borrow();
        let active = if c.active { "true" } else { "false" };
        let cells = [
            c.code.as_str(),
            &c.description,
            &c.category,
            c.severity.as_str(),
            active,
        ];
        spreadsheet::write_row(&mut writer, cells).expect(IN_MEMORY);
    }
    writer.into_inner().expect(IN_MEMORY)
}

fn json_items(rows: Vec<CodeRow>, first: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if first {
        out.push(b'[');
    }
    for (i, row) in rows.into_iter().enumerate() {
        if !first || i > 0 {
            out.push(b',');
        }
        // A `CodeOut` holds only strings, numbers and dates: nothing that
        // fails to serialize.
        serde_json::to_writer(&mut out, &CodeOut::from(row)).expect(IN_MEMORY);
    }
    out
}
