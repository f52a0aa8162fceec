//! The organization's audit log: browse with filters (newest first, by
//! `seq` cursor), one entry, the chain's verification, and a streamed
//! export. The same services as the audit pages; `audit:read` for keys.
use app::backend::audit::export::{self, ExportFormat};
use app::backend::audit::query;
use app::backend::{AppState, OrgContext};
use app::model::audit::{AuditEntryOut, AuditFilter, AuditPage, AuditVerifyOut, AUDIT_PAGE_SIZE};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{ApiError, ApiPath, ApiQuery};
use crate::state::ServerState;

pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/v1/audit", get(list_entries))
        .route("/api/v1/audit/verify", get(verify_chain))
        .route("/api/v1/audit/export", get(export_entries))
        .route("/api/v1/audit/{seq}", get(get_entry))
}

#[derive(OpenApi)]
#[openapi(
    paths(list_entries, get_entry, verify_chain, export_entries),
    components(schemas(AuditFormat))
)]
struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

/// The filters of the log, as query parameters; empty ones filter nothing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// `user`, `api_key`, `system` or `anonymous`.
    actor_kind: Option<String>,
    /// The id of the user or API key.
    actor_id: Option<String>,
    /// One of the recorded actions, such as `code.updated`.
    action: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    /// `success` or `failure`.
    outcome: Option<String>,
    /// From this moment on (RFC 3339, or a date read as UTC).
    from: Option<String>,
    /// Before this moment (a date alone includes that day).
    to: Option<String>,
}

impl From<FilterParams> for AuditFilter {
    fn from(p: FilterParams) -> Self {
        let keep = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        AuditFilter {
            actor_kind: keep(p.actor_kind),
            actor_id: keep(p.actor_id),
            action: keep(p.action),
            resource_type: keep(p.resource_type),
            resource_id: keep(p.resource_id),
            outcome: keep(p.outcome),
            from: keep(p.from),
            to: keep(p.to),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Entries per page, 1 to 1000 (default 50).
    limit: Option<i64>,
}

/// Entries, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditList {
    items: Vec<AuditEntryOut>,
    /// Pass as `cursor` for older entries; null on the last page.
    next_cursor: Option<String>,
}

fn cursor(text: Option<String>) -> Result<Option<i64>, ApiError> {
    match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|seq| *seq > 0)
            .map(Some)
            .ok_or_else(|| {
                ApiError::new(
                    app::model::ErrorCode::Validation,
                    "`cursor` is not one this API gave out.",
                )
            }),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    summary = "List audit entries",
    description = "The organization's audit log, newest first, filtered.",
    params(FilterParams, PageParams),
    responses((status = 200, description = "A page of entries.", body = AuditList)),
)]
async fn list_entries(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<FilterParams>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<AuditList>, ApiError> {
    let before = cursor(page.cursor)?;
    let limit = page.limit.unwrap_or(AUDIT_PAGE_SIZE);
    let AuditPage { entries, older, .. } =
        query::list(&ctx, &state, filter.into(), before, limit).await?;
    Ok(Json(AuditList {
        items: entries,
        next_cursor: older.map(|seq| seq.to_string()),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/{seq}",
    tag = "audit",
    summary = "Get an audit entry",
    params(("seq" = i64, Path, description = "The entry's place in the chain: 1, 2, 3…")),
    responses((status = 200, description = "The entry, with before and after.", body = AuditEntryOut)),
)]
async fn get_entry(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(seq): ApiPath<i64>,
) -> Result<Json<AuditEntryOut>, ApiError> {
    Ok(Json(query::get(&ctx, &state, seq).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    tag = "audit",
    summary = "Verify the audit chain",
    description = "Walks the organization's hash chain and reports the first broken link, if any.",
    responses((status = 200, description = "What the walk found.", body = AuditVerifyOut)),
)]
async fn verify_chain(
    ctx: OrgContext,
    State(state): State<AppState>,
) -> Result<Json<AuditVerifyOut>, ApiError> {
    Ok(Json(query::verify_chain(&ctx, &state).await?))
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditFormat {
    /// One row per entry, with a header row.
    #[default]
    Csv,
    /// One JSON object (an `AuditEntryOut`) per line.
    Ndjson,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` (default) or `ndjson`.
    format: Option<AuditFormat>,
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/export",
    tag = "audit",
    summary = "Export audit entries",
    description = "Streams every entry the filters select, oldest first, as CSV or NDJSON.",
    params(ExportParams, FilterParams),
    responses(
        (status = 200, description = "The file (as an attachment).",
         content((String = "text/csv"), (String = "application/x-ndjson"))),
    ),
)]
async fn export_entries(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ExportParams>,
    ApiQuery(filter): ApiQuery<FilterParams>,
) -> Result<Response, ApiError> {
    let format = match params.format.unwrap_or_default() {
        AuditFormat::Csv => ExportFormat::Csv,
        AuditFormat::Ndjson => ExportFormat::Ndjson,
    };
    let stream = export::export(&ctx, &state, filter.into(), format).await?;
    Ok(export::response(format, stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_a_positive_seq_or_nothing() {
        assert_eq!(cursor(None).ok(), Some(None));
        assert_eq!(cursor(Some(" ".into())).ok(), Some(None));
        assert_eq!(cursor(Some("42".into())).ok(), Some(Some(42)));
        assert!(cursor(Some("0".into())).is_err());
        assert!(cursor(Some("x".into())).is_err());
    }
}
