//! `POST /api/v1/codes/import`: a CSV file of codes as the body, imported
//! by the same service as the browser's upload and `server import`: an
//! upsert, all or nothing, with a dry run and delete-missing. Each import
//! that writes is recorded: `GET /api/v1/imports` lists them, and
//! `POST /api/v1/imports/{import_id}/undo` undoes one as a single step.
use app::backend::codes::import::{self, ImportOptions};
use app::backend::codes::{import_history, import_slots};
use app::backend::{AppState, OrgContext};
use app::model::codes::{ImportOut, ImportSummary, UndoOut};
use app::model::{ImportId, Permission};
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{ApiBytes, ApiError, ApiPath, ApiQuery, MAX_IMPORT_BYTES};
use crate::state::ServerState;

pub fn router() -> Router<ServerState> {
    Router::new()
        .route(
            "/api/v1/codes/import",
            post(import_codes).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/api/v1/imports", get(list_imports))
        .route("/api/v1/imports/{import_id}/undo", post(undo_import))
}

#[derive(OpenApi)]
#[openapi(paths(import_codes, list_imports, undo_import))]
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

/// A page of the import history, newest first (50 at most).
#[derive(Serialize, ToSchema)]
pub struct ImportList {
    items: Vec<ImportOut>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportListParams {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/imports",
    tag = "import and export",
    summary = "List imports",
    description = "Every import that wrote (dry runs are not recorded), newest first: who ran \
it and when, its counts, and whether it was undone.",
    params(ImportListParams),
    responses(
        (status = 200, description = "A page of imports.", body = ImportList),
        (status = 422, description = "The cursor is not valid.", body = super::ErrorBody),
    ),
)]
async fn list_imports(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ImportListParams>,
) -> Result<Json<ImportList>, ApiError> {
    let page = import_history::list(&ctx, &state, params.cursor.as_deref()).await?;
    Ok(Json(ImportList {
        items: page.imports,
        next_cursor: page.next,
    }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UndoParams {
    /// Say what undoing it would do (or what stops it), change nothing.
    dry_run: Option<bool>,
}

#[utoipa::path(
    post,
    path = "/api/v1/imports/{import_id}/undo",
    tag = "import and export",
    summary = "Undo an import",
    description = "One new version per code the import touched, giving back the code as it was \
before (codes it created are deleted, codes it deleted restored), in one transaction; audited, \
one webhook event per code. Refused (409, the codes in `details.codes`) when any of those codes \
changed after the import, and when the import was undone already. With `dry_run` the answer \
says what it would do, or names the codes that stop it, and nothing changes. Managers and \
above; keys with `codes:write`.",
    params(("import_id" = ImportId, Path, description = "The import's id."), UndoParams),
    responses(
        (status = 200, description = "What was undone (or, with `dry_run`, would be).", body = UndoOut),
        (status = 404, description = "No such import in the organization.", body = super::ErrorBody),
        (status = 409, description = "Codes changed after the import (named in `details.codes`), or it was undone already; nothing changed.", body = super::ErrorBody),
    ),
)]
async fn undo_import(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ImportId>,
    ApiQuery(params): ApiQuery<UndoParams>,
) -> Result<Json<UndoOut>, ApiError> {
    let dry_run = params.dry_run.unwrap_or(false);
    Ok(Json(import_history::undo(&ctx, &state, id, dry_run).await?))
}
