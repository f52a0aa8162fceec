//! `GET /api/v1/codes/export`: the codes the list's filters select, every
//! page of them, streamed as CSV (the import's format) or JSON by the same
//! service as the browser's export links.
use app::backend::codes::export::{self, Format};
use app::backend::{AppState, OrgContext};
use app::model::codes::{CodeFilter, CodeOut, Severity};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{ApiError, ApiQuery};
use crate::state::ServerState;

pub fn router() -> Router<ServerState> {
    Router::new().route("/api/v1/codes/export", get(export_codes))
}

#[derive(OpenApi)]
#[openapi(paths(export_codes), components(schemas(ExportFormat, Severity)))]
struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// `code,description,category,severity,active`: what the import reads.
    #[default]
    Csv,
    /// An array of codes.
    Json,
}

impl From<ExportFormat> for Format {
    fn from(format: ExportFormat) -> Self {
        match format {
            ExportFormat::Csv => Format::Csv,
            ExportFormat::Json => Format::Json,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` (default) or `json`.
    format: Option<ExportFormat>,
    /// Words of the description or a code prefix, as in the list.
    q: Option<String>,
    category: Option<String>,
    severity: Option<Severity>,
    active: Option<bool>,
    /// `true`: the deleted codes instead of the live ones.
    deleted: Option<bool>,
}

#[utoipa::path(
    get,
    path = "/api/v1/codes/export",
    tag = "import and export",
    summary = "Export codes as CSV or JSON",
    description = "Streams every code the filters select, in code order. A CSV export imports \
back to the same codes.",
    params(ExportParams),
    responses(
        (status = 200, description = "The file (as an attachment).",
         content(
            (String = "text/csv"),
            (Vec<CodeOut> = "application/json"),
         )),
    ),
)]
async fn export_codes(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let filter = CodeFilter {
        q: params.q,
        category: params.category,
        severity: params.severity,
        active: params.active,
        deleted: params.deleted.unwrap_or(false),
        ..CodeFilter::default()
    };
    let format = params.format.unwrap_or_default().into();
    Ok(export::export(ctx, state, filter, format).await?)
}
