//! Releases of the catalogue, their codes and files, and changelogs.
use app::backend::releases::{self, changelog, export};
use app::backend::{AppState, OrgContext};
use app::model::codes::{CodeFilter, Severity};
use app::model::releases::{
    ChangelogEnd, ChangelogOut, ReleaseForm, ReleaseName, ReleaseOut, ReleasedCodeOut,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::exports::ExportFormat;
use super::{location, ApiError, ApiJson, ApiPath, ApiQuery};
use crate::state::ServerState;

pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/v1/releases", get(list_releases).post(cut_release))
        .route(
            "/api/v1/releases/{name}",
            get(get_release).delete(delete_release),
        )
        .route("/api/v1/releases/{name}/codes", get(release_codes))
        .route("/api/v1/releases/{name}/export", get(export_release))
        .route("/api/v1/releases/{name}/changelog", get(release_changelog))
}

#[derive(OpenApi)]
#[openapi(paths(
    list_releases,
    cut_release,
    get_release,
    delete_release,
    release_codes,
    export_release,
    release_changelog
))]
struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

/// Every release, newest first.
#[derive(Serialize, ToSchema)]
pub struct ReleaseList {
    items: Vec<ReleaseOut>,
}

#[derive(Deserialize, ToSchema)]
pub struct ReleaseIn {
    /// Unique in the organization: 1–64 letters, digits, `.`, `-`, `_`,
    /// starting with a letter or digit.
    #[schema(example = "2026.2", pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    name: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    description: String,
}

/// A page of a release's codes (50 at most), in code order.
#[derive(Serialize, ToSchema)]
pub struct ReleasedCodeList {
    items: Vec<ReleasedCodeOut>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// The live list's filters, on what the release holds, and the cursor.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReleaseCodeParams {
    /// Words of the description (word prefixes match), or a code prefix.
    q: Option<String>,
    category: Option<String>,
    severity: Option<Severity>,
    active: Option<bool>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` (the import's format; the default) or `json`.
    format: Option<ExportFormat>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChangelogFormat {
    #[default]
    Json,
    Markdown,
    Csv,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangelogParams {
    /// Another release's name, or `live` (the default): the catalogue now.
    to: Option<String>,
    /// `json` (paged; the default), `markdown` or `csv` (the whole
    /// changelog, as a file).
    format: Option<ChangelogFormat>,
    /// JSON only: `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn name_of(raw: &str) -> Result<ReleaseName, ApiError> {
    // A name no release can have names none: 404, as for any unknown one.
    ReleaseName::parse(raw).map_err(|_| ApiError::from(app::backend::Error::NotFound))
}

#[utoipa::path(
    get,
    path = "/api/v1/releases",
    tag = "releases",
    summary = "List releases",
    responses((status = 200, description = "Every release, newest first.", body = ReleaseList)),
)]
async fn list_releases(
    ctx: OrgContext,
    State(state): State<AppState>,
) -> Result<Json<ReleaseList>, ApiError> {
    Ok(Json(ReleaseList {
        items: releases::list(&ctx, &state).await?,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/releases",
    tag = "releases",
    summary = "Cut a release",
    description = "An immutable snapshot of every live code at its current version, taken in one \
                   statement: it holds exactly the versions committed before it. Managers and \
                   above; keys with `codes:write`. Sends `release.published`.",
    request_body = ReleaseIn,
    responses(
        (status = 201, description = "The release; `Location` names it.", body = ReleaseOut,
         headers(("Location" = String, description = "The release's URL."))),
        (status = 409, description = "A release of this name exists already.", body = super::ErrorBody),
        (status = 422, description = "The name or the description is not valid.", body = super::ErrorBody),
    ),
)]
async fn cut_release(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<ReleaseIn>,
) -> Result<Response, ApiError> {
    let form = ReleaseForm {
        name: input.name,
        description: input.description,
    };
    let release = releases::cut(&ctx, &state, &form).await?;
    let url = format!("/api/v1/releases/{}", release.name);
    Ok((StatusCode::CREATED, [location(url)], Json(release)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/releases/{name}",
    tag = "releases",
    summary = "Get a release",
    params(("name" = String, Path, description = "The release's name.")),
    responses(
        (status = 200, description = "The release, with its number of codes.", body = ReleaseOut),
        (status = 404, description = "No such release in the organization.", body = super::ErrorBody),
    ),
)]
async fn get_release(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<ReleaseOut>, ApiError> {
    Ok(Json(releases::get(&ctx, &state, &name_of(&name)?).await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/releases/{name}",
    tag = "releases",
    summary = "Delete a release",
    description = "Admins and owners only (no key scope grants it); audited. The codes and \
                   their versions stay.",
    params(("name" = String, Path, description = "The release's name.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such release in the organization.", body = super::ErrorBody),
    ),
)]
async fn delete_release(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    releases::delete(&ctx, &state, &name_of(&name)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/releases/{name}/codes",
    tag = "releases",
    summary = "List a release's codes",
    description = "As the release holds them (a code deleted later is still here), filtered and \
                   searched like the live list, keyset-paged in code order.",
    params(("name" = String, Path, description = "The release's name."), ReleaseCodeParams),
    responses(
        (status = 200, description = "A page of the release's codes.", body = ReleasedCodeList),
        (status = 404, description = "No such release in the organization.", body = super::ErrorBody),
        (status = 422, description = "The cursor is not valid.", body = super::ErrorBody),
    ),
)]
async fn release_codes(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<ReleaseCodeParams>,
) -> Result<Json<ReleasedCodeList>, ApiError> {
    let filter = CodeFilter {
        q: params.q,
        category: params.category,
        severity: params.severity,
        active: params.active,
        after: params.cursor,
        ..CodeFilter::default()
    };
    let page = releases::codes(&ctx, &state, &name_of(&name)?, &filter)
        .await
        .map_err(|e| ApiError::renamed(e, "after", "cursor"))?;
    Ok(Json(ReleasedCodeList {
        items: page.codes,
        next_cursor: page.next,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/releases/{name}/export",
    tag = "releases",
    summary = "Export a release",
    params(("name" = String, Path, description = "The release's name."), ExportParams),
    responses(
        (status = 200, description = "Every code of the release: CSV in the import's format, or a JSON array.",
         content((String = "text/csv"), (Vec<ReleasedCodeOut> = "application/json"))),
        (status = 404, description = "No such release in the organization.", body = super::ErrorBody),
    ),
)]
async fn export_release(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let format = params.format.unwrap_or_default().into();
    Ok(export::release_file(&ctx, &state, &name_of(&name)?, format).await?)
}

#[utoipa::path(
    get,
    path = "/api/v1/releases/{name}/changelog",
    tag = "releases",
    summary = "What changed since a release",
    description = "From the release `name` to another release or to the live catalogue: counts \
                   of codes added, removed and changed, then the codes in code order with the \
                   field diff of each change (JSON, 100 a page), or the whole changelog as \
                   Markdown release notes or CSV.",
    params(("name" = String, Path, description = "The older release's name."), ChangelogParams),
    responses(
        (status = 200, description = "The changelog.",
         content((ChangelogOut = "application/json"), (String = "text/markdown"), (String = "text/csv"))),
        (status = 404, description = "No such release in the organization.", body = super::ErrorBody),
        (status = 422, description = "`to` names no release of the organization, or the cursor is not valid.", body = super::ErrorBody),
    ),
)]
async fn release_changelog(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<ChangelogParams>,
) -> Result<Response, ApiError> {
    let from = name_of(&name)?;
    let to = ChangelogEnd::parse(params.to.as_deref().unwrap_or(""))?;
    let file = |format| export::changelog_file(&ctx, &state, &from, &to, format);
    Ok(match params.format.unwrap_or_default() {
        ChangelogFormat::Json => {
            let page = changelog::page(&ctx, &state, &from, &to, params.cursor.as_deref()).await?;
            Json(page).into_response()
        }
        ChangelogFormat::Markdown => file(export::ChangelogFormat::Markdown).await?,
        ChangelogFormat::Csv => file(export::ChangelogFormat::Csv).await?,
    })
}
