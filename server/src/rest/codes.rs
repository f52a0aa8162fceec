//! Codes, their versions and the diff between two versions. A code's
//! `ETag` is its version; a change must send it back in `If-Match`, and
//! the service (which compares it under the code's row lock) refuses it
//! when the code has moved on: 412, nothing written.
use app::backend::codes::{self, CodeInput};
use app::backend::{AppState, OrgContext};
use app::model::codes::{CodeFilter, CodeOut, FieldChange, Severity, SortOrder, VersionOut};
use app::model::ErrorCode;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, OpenApi, ToSchema};

use app::model::CodeId;

use super::{location, ApiError, ApiJson, ApiPath, ApiQuery};
use crate::state::ServerState;

pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/v1/codes", get(list_codes).post(create_code))
        .route(
            "/api/v1/codes/{code_id}",
            get(get_code).patch(update_code).delete(delete_code),
        )
        .route("/api/v1/codes/{code_id}/restore", post(restore_code))
        .route("/api/v1/codes/{code_id}/versions", get(list_versions))
        .route(
            "/api/v1/codes/{code_id}/versions/{version}",
            get(get_version),
        )
        .route("/api/v1/codes/{code_id}/diff", get(diff_versions))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_codes,
        create_code,
        get_code,
        update_code,
        delete_code,
        restore_code,
        list_versions,
        get_version,
        diff_versions
    ),
    components(schemas(SortOrder, Severity))
)]
struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

/// The list's filters, as the codes page has them, and the cursor.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Words of the description (any order, word prefixes match, e.g.
    /// `fract femur`), or a code prefix such as `S72.0`.
    q: Option<String>,
    /// Exactly this category.
    category: Option<String>,
    severity: Option<Severity>,
    active: Option<bool>,
    /// `true`: the deleted codes (to restore them) instead of the live ones.
    deleted: Option<bool>,
    /// `code` (ICD order, the default) or `updated` (most recently changed
    /// first).
    sort: Option<SortOrder>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

impl ListParams {
    pub fn filter(self) -> CodeFilter {
        CodeFilter {
            q: self.q,
            category: self.category,
            severity: self.severity,
            active: self.active,
            deleted: self.deleted.unwrap_or(false),
            sort: self.sort.unwrap_or_default(),
            after: self.cursor,
        }
    }
}

/// A page of codes (50 at most).
#[derive(Serialize, ToSchema)]
pub struct CodeList {
    items: Vec<CodeOut>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct CodeIn {
    /// 1–32 letters, digits and `.-_/:+`; unique in the organization,
    /// whatever its case.
    #[schema(example = "S72.001A", pattern = r"^[A-Za-z0-9._/:+-]{1,32}$")]
    code: String,
    /// Required; no control or invisible formatting characters.
    #[schema(
        example = "Fracture of unspecified part of neck of right femur",
        min_length = 1,
        max_length = 1000
    )]
    description: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    category: String,
    /// Absent: the organization's default severity.
    #[serde(default)]
    severity: Option<Severity>,
    #[serde(default = "yes")]
    #[schema(default = true)]
    active: bool,
    /// Why; kept on the version.
    #[serde(default)]
    #[schema(max_length = 1000)]
    comment: Option<String>,
}

fn yes() -> bool {
    true
}

/// The fields to change; those absent keep their value.
#[derive(Deserialize, ToSchema)]
pub struct CodePatch {
    #[serde(default)]
    #[schema(pattern = r"^[A-Za-z0-9._/:+-]{1,32}$")]
    code: Option<String>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 1000)]
    description: Option<String>,
    #[serde(default)]
    #[schema(max_length = 200)]
    category: Option<String>,
    #[serde(default)]
    severity: Option<Severity>,
    #[serde(default)]
    active: Option<bool>,
    /// Why; kept on the version.
    #[serde(default)]
    #[schema(max_length = 1000)]
    comment: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct DeleteIn {
    /// Why; kept on the version.
    #[serde(default)]
    comment: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct RestoreIn {
    /// The version whose content becomes current again (as a new
    /// version). Absent: the current version, which brings a deleted code
    /// back as it was.
    #[serde(default)]
    #[schema(minimum = 1)]
    version: Option<i32>,
    /// Why; kept on the version (default "Restored version N").
    #[serde(default)]
    comment: Option<String>,
}

/// A code's versions, newest first.
#[derive(Serialize, ToSchema)]
pub struct VersionList {
    items: Vec<VersionOut>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffParams {
    /// The older version.
    #[param(minimum = 1)]
    from: i32,
    /// The newer version.
    #[param(minimum = 1)]
    to: i32,
}

/// What changed from one version to another, field by field.
#[derive(Serialize, ToSchema)]
pub struct VersionDiff {
    from: i32,
    to: i32,
    /// `{field: {old, new}}` for each field that differs.
    changes: BTreeMap<String, FieldChange>,
}

/// A code's entity tag: its version, quoted.
pub fn etag(version: i32) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header value")
}

/// A code as JSON with its `ETag`.
fn code_response(status: StatusCode, code: &CodeOut) -> Response {
    let mut response = (status, Json(code)).into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag(code.version));
    response
}

/// What `If-Match` asks for.
#[derive(Debug, PartialEq, Eq)]
enum IfMatch {
    /// `*`: whatever the current version is.
    Any,
    /// The versions of the strong entity tags named (weak tags and tags
    /// that are not a version of ours match nothing).
    Versions(Vec<i32>),
}

impl IfMatch {
    fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, ApiError> {
        let values: Vec<&HeaderValue> = headers.get_all(header::IF_MATCH).iter().collect();
        if values.is_empty() {
            return Ok(None);
        }
        let malformed = || {
            ApiError::new(
                ErrorCode::BadRequest,
                "If-Match must be `*` or a list of entity tags such as \"3\".",
            )
        };
        let mut versions = Vec::new();
        for value in values {
            let text = value.to_str().map_err(|_| malformed())?;
            for tag in text.split(',').map(str::trim) {
                if tag == "*" {
                    return Ok(Some(IfMatch::Any));
                }
                let (weak, quoted) = match tag.strip_prefix("W/") {
                    Some(rest) => (true, rest),
                    None => (false, tag),
                };
                let inner = quoted
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .filter(|t| !t.contains('"'))
                    .ok_or_else(malformed)?;
                if let (false, Ok(version)) = (weak, inner.parse::<i32>()) {
                    versions.push(version);
                }
            }
        }
        Ok(Some(IfMatch::Versions(versions)))
    }

    /// The version the change is based on, given the one the code had
    /// when read; none when no tag can match (412 at once).
    fn based_on(&self, current: i32) -> Option<i32> {
        match self {
            IfMatch::Any => Some(current),
            IfMatch::Versions(v) if v.len() == 1 => Some(v[0]),
            IfMatch::Versions(v) => v.contains(&current).then_some(current),
        }
    }
}

fn precondition_failed() -> ApiError {
    ApiError::new(
        ErrorCode::PreconditionFailed,
        "The code has changed since the version in If-Match; nothing was changed. \
         Read it again (GET gives its current ETag), then send your change with that ETag.",
    )
}

/// A stale edit refused by the service becomes 412; anything else keeps
/// its status.
fn stale_to_412(e: app::backend::Error) -> ApiError {
    if codes::is_stale(&e) {
        precondition_failed()
    } else {
        e.into()
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/codes",
    tag = "codes",
    summary = "List codes",
    description = "Keyset-paged (50 a page), filtered and searched as on the codes page.",
    params(ListParams),
    responses(
        (status = 200, description = "A page of codes.", body = CodeList),
        (status = 422, description = "The cursor is not valid (any more).", body = super::ErrorBody),
    ),
)]
async fn list_codes(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<CodeList>, ApiError> {
    let page = codes::list(&ctx, &state, params.filter())
        .await
        .map_err(|e| ApiError::renamed(e, "after", "cursor"))?;
    Ok(Json(CodeList {
        items: page.codes,
        next_cursor: page.next,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/codes",
    tag = "codes",
    summary = "Create a code",
    request_body = CodeIn,
    responses(
        (status = 201, description = "Created; `Location` names it.", body = CodeOut,
         headers(("ETag" = String, description = "The code's version, quoted."),
                 ("Location" = String, description = "The code's URL."))),
        (status = 409, description = "The code exists already (perhaps deleted), or the plan's code limit is reached.", body = super::ErrorBody),
    ),
)]
async fn create_code(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<CodeIn>,
) -> Result<Response, ApiError> {
    let input = CodeInput {
        code: input.code,
        description: input.description,
        category: input.category,
        severity: input.severity.map(|s| s.as_str().to_owned()),
        active: input.active,
        comment: input.comment,
    };
    let created = codes::create(&ctx, &state, input).await?;
    let mut response = code_response(StatusCode::CREATED, &created);
    let (name, value) = location(format!("/api/v1/codes/{}", created.id));
    response.headers_mut().insert(name, value);
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/v1/codes/{code_id}",
    tag = "codes",
    summary = "Get a code",
    params(("code_id" = Uuid, Path, description = "The code's id.")),
    responses(
        (status = 200, description = "The code (deleted ones too).", body = CodeOut,
         headers(("ETag" = String, description = "The code's version, quoted: send it as `If-Match` with a change."))),
    ),
)]
async fn get_code(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(code_id): ApiPath<CodeId>,
) -> Result<Response, ApiError> {
    let code = codes::get(&ctx, &state, code_id).await?;
    Ok(code_response(StatusCode::OK, &code))
}

#[utoipa::path(
    patch,
    path = "/api/v1/codes/{code_id}",
    tag = "codes",
    summary = "Change a code",
    description = "Changes the fields given. Requires `If-Match` with the code's `ETag`; a change \
that changes nothing writes no version.",
    params(
        ("code_id" = Uuid, Path, description = "The code's id."),
        ("If-Match" = String, Header, description = "The `ETag` the change is based on, e.g. `\"3\"`."),
    ),
    request_body = CodePatch,
    responses(
        (status = 200, description = "The code after the change.", body = CodeOut,
         headers(("ETag" = String, description = "The new version, quoted."))),
        (status = 409, description = "The code is deleted (restore it first), or the new code value exists already.", body = super::ErrorBody),
        (status = 412, description = "The code has moved on from the `If-Match` version; nothing changed.", body = super::ErrorBody),
        (status = 428, description = "`If-Match` is missing.", body = super::ErrorBody),
    ),
)]
async fn update_code(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(code_id): ApiPath<CodeId>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<CodePatch>,
) -> Result<Response, ApiError> {
    let if_match = IfMatch::from_headers(&headers)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::PreconditionRequired,
            "Send the code's ETag in If-Match (read the code first).",
        )
    })?;
    let current = codes::get(&ctx, &state, code_id).await?;
    let based_on = if_match
        .based_on(current.version)
        .ok_or_else(precondition_failed)?;
    let c = current.content;
    let input = CodeInput {
        code: patch.code.unwrap_or_else(|| c.code.as_str().to_owned()),
        description: patch.description.unwrap_or(c.description),
        category: patch.category.unwrap_or(c.category),
        severity: Some(patch.severity.unwrap_or(c.severity).as_str().to_owned()),
        active: patch.active.unwrap_or(c.active),
        comment: patch.comment,
    };
    let updated = codes::update(&ctx, &state, code_id, based_on, input)
        .await
        .map_err(stale_to_412)?;
    Ok(code_response(StatusCode::OK, &updated))
}

#[utoipa::path(
    delete,
    path = "/api/v1/codes/{code_id}",
    tag = "codes",
    summary = "Delete a code",
    description = "A soft delete: the history stays and the code can be restored. With `If-Match`, \
only if the code is still at that version. The body is optional.",
    params(
        ("code_id" = Uuid, Path, description = "The code's id."),
        ("If-Match" = Option<String>, Header, description = "Delete only if the code is at this `ETag`."),
    ),
    request_body(content = Option<DeleteIn>, description = "An optional comment for the version."),
    responses(
        (status = 200, description = "The deleted code.", body = CodeOut,
         headers(("ETag" = String, description = "The new version, quoted."))),
        (status = 409, description = "The code is deleted already.", body = super::ErrorBody),
        (status = 412, description = "The code has moved on from the `If-Match` version; nothing changed.", body = super::ErrorBody),
    ),
)]
async fn delete_code(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(code_id): ApiPath<CodeId>,
    headers: HeaderMap,
    body: super::ApiBytes,
) -> Result<Response, ApiError> {
    let comment = optional_json::<DeleteIn>(&headers, &body.0)?.and_then(|d| d.comment);
    let based_on = match IfMatch::from_headers(&headers)? {
        None => None,
        Some(if_match) => {
            let current = codes::get(&ctx, &state, code_id).await?;
            Some(
                if_match
                    .based_on(current.version)
                    .ok_or_else(precondition_failed)?,
            )
        }
    };
    let deleted = codes::delete(&ctx, &state, code_id, based_on, comment)
        .await
        .map_err(stale_to_412)?;
    Ok(code_response(StatusCode::OK, &deleted))
}

/// An optional JSON body: none when it is empty or `null`, else it must
/// be a JSON object of `T`.
fn optional_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(ApiError::with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            app::model::AppError::new(
                ErrorCode::BadRequest,
                "Expected request with `Content-Type: application/json`",
            ),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("The body is not valid JSON: {e}"),
        )
    })?;
    if value.is_null() {
        return Ok(None);
    }
    super::json_object(value).map(Some)
}

#[utoipa::path(
    post,
    path = "/api/v1/codes/{code_id}/restore",
    tag = "codes",
    summary = "Restore a version",
    description = "Makes an earlier version's content current again, as a new version (history is \
never rewritten); restoring a deleted code brings it back.",
    params(("code_id" = Uuid, Path, description = "The code's id.")),
    request_body = RestoreIn,
    responses(
        (status = 200, description = "The code after the restore.", body = CodeOut,
         headers(("ETag" = String, description = "The new version, quoted."))),
        (status = 409, description = "The code value is taken by another live code, or the plan's code limit is reached.", body = super::ErrorBody),
    ),
)]
async fn restore_code(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(code_id): ApiPath<CodeId>,
    ApiJson(input): ApiJson<RestoreIn>,
) -> Result<Response, ApiError> {
    let version = match input.version {
        Some(v) => v,
        None => codes::get(&ctx, &state, code_id).await?.version,
    };
    let restored = codes::restore(&ctx, &state, code_id, version, input.comment).await?;
    Ok(code_response(StatusCode::OK, &restored))
}

#[utoipa::path(
    get,
    path = "/api/v1/codes/{code_id}/versions",
    tag = "codes",
    summary = "List a code's versions",
    params(("code_id" = Uuid, Path, description = "The code's id.")),
    responses((status = 200, description = "Every version, newest first.", body = VersionList)),
)]
async fn list_versions(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(code_id): ApiPath<CodeId>,
) -> Result<Json<VersionList>, ApiError> {
    let history = codes::history(&ctx, &state, code_id).await?;
    Ok(Json(VersionList {
        items: history.versions,
    }))
}

/// The versions of a code, or 404.
async fn versions_of(
    ctx: &OrgContext,
    state: &AppState,
    code_id: CodeId,
) -> Result<Vec<VersionOut>, ApiError> {
    Ok(codes::history(ctx, state, code_id).await?.versions)
}

fn version_in(versions: &[VersionOut], version: i32) -> Result<&VersionOut, ApiError> {
    versions
        .iter()
        .find(|v| v.version == version)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("The code has no version {version}."),
            )
        })
}

#[utoipa::path(
    get,
    path = "/api/v1/codes/{code_id}/versions/{version}",
    tag = "codes",
    summary = "Get one version",
    params(
        ("code_id" = Uuid, Path, description = "The code's id."),
        ("version" = i32, Path, description = "The version's number (1, 2, 3…)."),
    ),
    responses((status = 200, description = "The version: its snapshot, diff, comment and actor.", body = VersionOut)),
)]
async fn get_version(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath((code_id, version)): ApiPath<(CodeId, i32)>,
) -> Result<Json<VersionOut>, ApiError> {
    let versions = versions_of(&ctx, &state, code_id).await?;
    Ok(Json(version_in(&versions, version)?.clone()))
}

#[utoipa::path(
    get,
    path = "/api/v1/codes/{code_id}/diff",
    tag = "codes",
    summary = "Compare two versions",
    params(("code_id" = Uuid, Path, description = "The code's id."), DiffParams),
    responses((status = 200, description = "The fields that differ between the two versions.", body = VersionDiff)),
)]
async fn diff_versions(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(code_id): ApiPath<CodeId>,
    ApiQuery(params): ApiQuery<DiffParams>,
) -> Result<Json<VersionDiff>, ApiError> {
    let versions = versions_of(&ctx, &state, code_id).await?;
    let from = version_in(&versions, params.from)?;
    let to = version_in(&versions, params.to)?;
    Ok(Json(VersionDiff {
        from: params.from,
        to: params.to,
        changes: to.snapshot.diff_from(&from.snapshot),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn if_match(value: &str) -> Result<Option<IfMatch>, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        IfMatch::from_headers(&headers)
    }

    #[test]
    fn if_match_reads_strong_tags_and_star_and_refuses_junk() {
        assert_eq!(IfMatch::from_headers(&HeaderMap::new()).unwrap(), None);
        assert_eq!(if_match("\"3\"").unwrap(), Some(IfMatch::Versions(vec![3])));
        assert_eq!(if_match("*").unwrap(), Some(IfMatch::Any));
        assert_eq!(
            if_match("W/\"3\", \"x\", \"4\"").unwrap(),
            Some(IfMatch::Versions(vec![4]))
        );
        assert!(if_match("3").is_err());
        assert!(if_match("\"3").is_err());
    }

    #[test]
    fn a_list_of_tags_matches_only_the_current_version() {
        assert_eq!(IfMatch::Versions(vec![2]).based_on(3), Some(2));
        assert_eq!(IfMatch::Versions(vec![2, 3]).based_on(3), Some(3));
        assert_eq!(IfMatch::Versions(vec![1, 2]).based_on(3), None);
        assert_eq!(IfMatch::Versions(vec![]).based_on(3), None);
        assert_eq!(IfMatch::Any.based_on(3), Some(3));
        assert_eq!(etag(7), "\"7\"");
    }
}
