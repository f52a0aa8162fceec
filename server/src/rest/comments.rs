//! Comments on the versions of a code.
use app::backend::codes::{self, comments};
use app::backend::{AppState, OrgContext};
use app::model::codes::CommentOut;
use app::model::ErrorCode;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use app::model::{CodeId, CommentId};

use super::{location, ApiError, ApiJson, ApiPath};
use crate::state::ServerState;

pub fn router() -> Router<ServerState> {
    Router::new()
        .route(
            "/api/v1/codes/{code_id}/comments",
            get(list_comments).post(create_comment),
        )
        .route(
            "/api/v1/codes/{code_id}/comments/{comment_id}",
            get(get_comment).patch(edit_comment).delete(delete_comment),
        )
}

#[derive(OpenApi)]
#[openapi(paths(
    list_comments,
    create_comment,
    get_comment,
    edit_comment,
    delete_comment
))]
struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

/// The comments on every version of a code, oldest first.
#[derive(Serialize, ToSchema)]
pub struct CommentList {
    items: Vec<CommentOut>,
}

#[derive(Deserialize, ToSchema)]
pub struct CommentIn {
    /// The version commented on.
    #[schema(minimum = 1)]
    version: i32,
    /// Up to 5,000 characters.
    #[schema(min_length = 1, max_length = 5000)]
    body: String,
}

#[derive(Deserialize, ToSchema)]
pub struct CommentPatch {
    #[schema(min_length = 1, max_length = 5000)]
    body: String,
}

/// Every comment on the code (404 when the code is not in the caller's
/// organization).
async fn comments_of(
    ctx: &OrgContext,
    state: &AppState,
    code_id: CodeId,
) -> Result<Vec<CommentOut>, ApiError> {
    Ok(codes::history(ctx, state, code_id).await?.comments)
}

/// 404 unless `comment_id` is a comment on `code_id`.
async fn comment_on(
    ctx: &OrgContext,
    state: &AppState,
    code_id: CodeId,
    comment_id: CommentId,
) -> Result<CommentOut, ApiError> {
    comments_of(ctx, state, code_id)
        .await?
        .into_iter()
        .find(|c| c.id == comment_id)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "The code has no such comment."))
}

#[utoipa::path(
    get,
    path = "/api/v1/codes/{code_id}/comments",
    tag = "comments",
    summary = "List a code's comments",
    params(("code_id" = Uuid, Path, description = "The code's id.")),
    responses((status = 200, description = "The comments on every version, oldest first.", body = CommentList)),
)]
async fn list_comments(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(code_id): ApiPath<CodeId>,
) -> Result<Json<CommentList>, ApiError> {
    Ok(Json(CommentList {
        items: comments_of(&ctx, &state, code_id).await?,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/codes/{code_id}/comments",
    tag = "comments",
    summary = "Comment on a version",
    description = "Written by members (an API key cannot author comments).",
    params(("code_id" = Uuid, Path, description = "The code's id.")),
    request_body = CommentIn,
    responses(
        (status = 201, description = "The comment; `Location` names it.", body = CommentOut,
         headers(("Location" = String, description = "The comment's URL."))),
    ),
)]
async fn create_comment(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(code_id): ApiPath<CodeId>,
    ApiJson(input): ApiJson<CommentIn>,
) -> Result<Response, ApiError> {
    let comment = comments::add(&ctx, &state, code_id, input.version, &input.body).await?;
    let url = format!("/api/v1/codes/{code_id}/comments/{}", comment.id);
    Ok((StatusCode::CREATED, [location(url)], Json(comment)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/codes/{code_id}/comments/{comment_id}",
    tag = "comments",
    summary = "Get a comment",
    params(
        ("code_id" = Uuid, Path, description = "The code's id."),
        ("comment_id" = Uuid, Path, description = "The comment's id."),
    ),
    responses((status = 200, description = "The comment.", body = CommentOut)),
)]
async fn get_comment(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath((code_id, comment_id)): ApiPath<(CodeId, CommentId)>,
) -> Result<Json<CommentOut>, ApiError> {
    Ok(Json(comment_on(&ctx, &state, code_id, comment_id).await?))
}

#[utoipa::path(
    patch,
    path = "/api/v1/codes/{code_id}/comments/{comment_id}",
    tag = "comments",
    summary = "Edit a comment",
    description = "Only its author may edit a comment.",
    params(
        ("code_id" = Uuid, Path, description = "The code's id."),
        ("comment_id" = Uuid, Path, description = "The comment's id."),
    ),
    request_body = CommentPatch,
    responses((status = 200, description = "The comment as edited.", body = CommentOut)),
)]
async fn edit_comment(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath((code_id, comment_id)): ApiPath<(CodeId, CommentId)>,
    ApiJson(input): ApiJson<CommentPatch>,
) -> Result<Json<CommentOut>, ApiError> {
    comment_on(&ctx, &state, code_id, comment_id).await?;
    Ok(Json(
        comments::edit(&ctx, &state, comment_id, &input.body).await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/codes/{code_id}/comments/{comment_id}",
    tag = "comments",
    summary = "Delete a comment",
    description = "Its author, or an admin, may delete a comment.",
    params(
        ("code_id" = Uuid, Path, description = "The code's id."),
        ("comment_id" = Uuid, Path, description = "The comment's id."),
    ),
    responses((status = 204, description = "Deleted.")),
)]
async fn delete_comment(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath((code_id, comment_id)): ApiPath<(CodeId, CommentId)>,
) -> Result<StatusCode, ApiError> {
    comment_on(&ctx, &state, code_id, comment_id).await?;
    comments::delete(&ctx, &state, comment_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
