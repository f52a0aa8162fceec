//! The change feed, for clients that mirror the catalogue.
use app::backend::codes::feed;
use app::backend::{AppState, OrgContext};
use app::model::codes::ChangeFeedPage;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use super::{ApiError, ApiQuery};
use crate::state::ServerState;

pub fn router() -> Router<ServerState> {
    Router::new().route("/api/v1/changes", get(read_changes))
}

#[derive(OpenApi)]
#[openapi(paths(read_changes))]
struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// `next_cursor` of the previous read; absent: from the beginning.
    since: Option<String>,
    /// 1–1000 (the default).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/changes",
    tag = "codes",
    summary = "Read the change feed",
    description = "Every version written after `since`, oldest first: a client that applies them \
                   in order mirrors the catalogue exactly. No version is skipped, even one written \
                   by a transaction that commits after later ones (the feed hands out only what \
                   every older transaction has finished with), and none is handed out twice to a \
                   client that keeps its cursor. Poll with the `next_cursor` of each read.",
    params(FeedParams),
    responses(
        (status = 200, description = "The versions and where to read on.", body = ChangeFeedPage),
        (status = 422, description = "The cursor or the limit is not valid.", body = super::ErrorBody),
    ),
)]
async fn read_changes(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<FeedParams>,
) -> Result<Json<ChangeFeedPage>, ApiError> {
    let page = feed::read(&ctx, &state, params.since.as_deref(), params.limit).await?;
    Ok(Json(page))
}
