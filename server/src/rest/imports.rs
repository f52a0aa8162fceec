//! `POST /api/v1/codes/import`: a CSV file of codes as the body, imported
//! by the same service as the browser's upload and `server import`: an
//! upsert, all or nothing, with a dry run and delete-missing.
use app::backend::codes::import::{self, ImportOptions};
use app::backend::codes::import_slots;
use app::backend::{AppState, OrgContext};
use app::model::codes::ImportSummary;
use app::model::Permission;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse as _, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use super::{ApiBytes, ApiError, ApiQuery, MAX_IMPORT_BYTES};
use crate::state::ServerState;

pub fn router() -> Router<ServerState> {
    Router::new().route(
        "/api/v1/codes/import",
        post(import_codes).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
    )
}

#[derive(OpenApi)]
#[openapi(paths(import_codes))]
struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Check and count everything, write nothing.
    dry_run: Option<bool>,
    /// Delete every live code the file does not name.
    delete_missing: Option<bool>,
    /// The file's name, for the audit log (default `upload.csv`).
    file_name: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/codes/import",
    tag = "import and export",
    summary = "Import a CSV file of codes",
    description = "The body is the file: a header `code,description,category[,severity,active]`, \
then one code a line; plain or gzipped, up to 64 MiB. New codes are created, changed ones updated, \
deleted ones the file names again restored, unchanged ones left alone; with `delete_missing` every \
live code the file leaves out is deleted. All or nothing: one bad row and nothing is written (422, \
every bad row by line in `details.rows`).",
    params(ImportParams),
    request_body(content = String, content_type = "text/csv", description = "The CSV file."),
    responses(
        (status = 200, description = "What was written (or, with `dry_run`, would be).", body = ImportSummary),
        (status = 409, description = "The plan's code limit would be exceeded, or a code changed while importing.", body = super::ErrorBody),
        (status = 429, description = "The server is running as many imports as it takes at once; try again after `Retry-After` seconds.", body = super::ErrorBody),
    ),
)]
async fn import_codes(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ImportParams>,
    ApiBytes(body): ApiBytes,
) -> Result<Response, ApiError> {
    ctx.require(Permission::BulkImportExport).await?;
    let _slot = match state.imports.try_take() {
        Ok(slot) => slot,
        Err(busy) => {
            return Ok(import_slots::with_retry_after(
                ApiError::from(busy).into_response(),
            ))
        }
    };
    let options = ImportOptions {
        file_name: params
            .file_name
            .map(|n| n.chars().filter(|c| !c.is_control()).take(200).collect())
            .filter(|n: &String| !n.trim().is_empty())
            .unwrap_or_else(|| "upload.csv".to_owned()),
        delete_missing: params.delete_missing.unwrap_or(false),
        dry_run: params.dry_run.unwrap_or(false),
    };
    let report = import::import(&ctx, &state, &body, options).await?;
    match report.summary {
        Some(summary) if report.errors.is_empty() => Ok(Json(summary).into_response()),
        _ => Err(ApiError::bad_rows(report.errors)),
    }
}
