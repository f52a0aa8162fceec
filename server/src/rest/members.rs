//! The organization's members, read only (roles are changed by people in
//! the app).
use app::backend::{members, AppState, OrgContext};
use app::model::members::MemberOut;
use app::model::ErrorCode;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use app::model::UserId;

use super::{ApiError, ApiPath};
use crate::state::ServerState;

pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/v1/members", get(list_members))
        .route("/api/v1/members/{user_id}", get(get_member))
}

#[derive(OpenApi)]
#[openapi(paths(list_members, get_member))]
struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

/// Every member, highest role first.
#[derive(Serialize, ToSchema)]
pub struct MemberList {
    items: Vec<MemberOut>,
}

#[utoipa::path(
    get,
    path = "/api/v1/members",
    tag = "members",
    summary = "List members",
    responses((status = 200, description = "Every member, highest role first.", body = MemberList)),
)]
async fn list_members(
    ctx: OrgContext,
    State(state): State<AppState>,
) -> Result<Json<MemberList>, ApiError> {
    let page = members::page(&ctx, &state).await?;
    Ok(Json(MemberList {
        items: page.members,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/members/{user_id}",
    tag = "members",
    summary = "Get a member",
    params(("user_id" = Uuid, Path, description = "The member's user id.")),
    responses((status = 200, description = "The member.", body = MemberOut)),
)]
async fn get_member(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(user_id): ApiPath<UserId>,
) -> Result<Json<MemberOut>, ApiError> {
    members::page(&ctx, &state)
        .await?
        .members
        .into_iter()
        .find(|m| m.user_id == user_id)
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "No such member in this organization."))
}
