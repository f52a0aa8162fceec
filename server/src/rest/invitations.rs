//! Invitations: list, create, resend (a new link), revoke.
use app::backend::{invitations, AppState, OrgContext};
use app::model::members::InvitationOut;
use app::model::{ErrorCode, Role};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use app::model::InvitationId;

use super::{location, ApiError, ApiJson, ApiPath};
use crate::state::ServerState;

pub fn router() -> Router<ServerState> {
    Router::new()
        .route(
            "/api/v1/invitations",
            get(list_invitations).post(create_invitation),
        )
        .route(
            "/api/v1/invitations/{invitation_id}",
            get(get_invitation).delete(revoke_invitation),
        )
        .route(
            "/api/v1/invitations/{invitation_id}/resend",
            post(resend_invitation),
        )
}

#[derive(OpenApi)]
#[openapi(paths(
    list_invitations,
    create_invitation,
    get_invitation,
    resend_invitation,
    revoke_invitation
))]
struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

/// Open invitations, newest first.
#[derive(Serialize, ToSchema)]
pub struct InvitationList {
    items: Vec<InvitationOut>,
}

#[derive(Deserialize, ToSchema)]
pub struct InvitationIn {
    #[schema(example = "grace@example.com", format = Email)]
    email: String,
    /// Not above the inviter's own role.
    role: Role,
}

#[utoipa::path(
    get,
    path = "/api/v1/invitations",
    tag = "invitations",
    summary = "List open invitations",
    responses((status = 200, description = "Open invitations, newest first.", body = InvitationList)),
)]
async fn list_invitations(
    ctx: OrgContext,
    State(state): State<AppState>,
) -> Result<Json<InvitationList>, ApiError> {
    Ok(Json(InvitationList {
        items: invitations::list(&ctx, &state).await?,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/invitations",
    tag = "invitations",
    summary = "Invite someone",
    description = "Mails a 7-day, single-use link. Pending invitations count against the member limit.",
    request_body = InvitationIn,
    responses(
        (status = 201, description = "The invitation; `Location` names it.", body = InvitationOut,
         headers(("Location" = String, description = "The invitation's URL."))),
        (status = 409, description = "Already a member or invited, or the plan's member limit is reached.", body = super::ErrorBody),
    ),
)]
async fn create_invitation(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<InvitationIn>,
) -> Result<Response, ApiError> {
    let invitation = invitations::invite(&ctx, &state, &input.email, input.role).await?;
    let url = format!("/api/v1/invitations/{}", invitation.id);
    Ok((StatusCode::CREATED, [location(url)], Json(invitation)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/invitations/{invitation_id}",
    tag = "invitations",
    summary = "Get an open invitation",
    params(("invitation_id" = Uuid, Path, description = "The invitation's id.")),
    responses((status = 200, description = "The invitation.", body = InvitationOut)),
)]
async fn get_invitation(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(invitation_id): ApiPath<InvitationId>,
) -> Result<Json<InvitationOut>, ApiError> {
    invitations::list(&ctx, &state)
        .await?
        .into_iter()
        .find(|i| i.id == invitation_id)
        .map(Json)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "No such open invitation."))
}

#[utoipa::path(
    post,
    path = "/api/v1/invitations/{invitation_id}/resend",
    tag = "invitations",
    summary = "Resend an invitation",
    description = "A new link (the old one stops working) and a new 7 days.",
    params(("invitation_id" = Uuid, Path, description = "The invitation's id.")),
    responses((status = 200, description = "The invitation.", body = InvitationOut)),
)]
async fn resend_invitation(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(invitation_id): ApiPath<InvitationId>,
) -> Result<Json<InvitationOut>, ApiError> {
    Ok(Json(
        invitations::resend(&ctx, &state, invitation_id).await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/invitations/{invitation_id}",
    tag = "invitations",
    summary = "Revoke an invitation",
    params(("invitation_id" = Uuid, Path, description = "The invitation's id.")),
    responses((status = 204, description = "Revoked; its link no longer works.")),
)]
async fn revoke_invitation(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(invitation_id): ApiPath<InvitationId>,
) -> Result<StatusCode, ApiError> {
    invitations::revoke(&ctx, &state, invitation_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
