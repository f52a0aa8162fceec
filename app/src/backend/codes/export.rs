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
use std::collections::HashMap;

use super::list::{fetch_page, Cursor};
use super::CodeRow;
use crate::backend::{spreadsheet, AppState, OrgContext, OrgTx, Plans, Result};
use crate::model::codes::{CodeFilter, CodeOut, SortOrder};
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
    ctx.require(Permission::BulkImportExport).await?;
    filter.sort = SortOrder::Code;
    filter.after = None;
    let tx = ctx.begin_planned(&state.pool, Plans::Generic).await?;
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
    let mut out = String::new();
    if !p.started {
        out.push_str(match p.format {
            Format::Csv => "code,description,category,severity,active\n",
            Format::Json => "[",
        });
    }
    for row in rows {
        write_row(&mut out, row, p.format, p.started);
        p.started = true;
    }
    p.started = true;
    if last_page {
        if p.format == Format::Json {
            out.push_str("]\n");
        }
        let _ = tx.commit().await;
    } else {
        p.tx = Some(tx);
    }
    Some((Ok(Bytes::from(out)), p))
}

fn write_row(out: &mut String, row: CodeRow, format: Format, after_first: bool) {
    match format {
        Format::Csv => {
            let c = row.content();
            let fields = [
                c.code.as_str(),
                &c.description,
                &c.category,
                c.severity.as_str(),
                if c.active { "true" } else { "false" },
            ];
            let line: Vec<String> = fields
                .iter()
                .map(|f| csv_field(&spreadsheet::guard(f)))
                .collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        Format::Json => {
            if after_first {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(&CodeOut::from(row)).unwrap_or_default());
        }
    }
}

/// A CSV field, quoted when it must be.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("A00.0"), "A00.0");
        assert_eq!(
            csv_field("Cholera, unspecified"),
            "\"Cholera, unspecified\""
        );
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
