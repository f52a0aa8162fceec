//! Webhook endpoints (CRUD, enable/disable, secret rotation, test send)
//! and their deliveries (log, one delivery, replay one, replay the failed
//! ones of a time range).
use app::backend::{webhooks, AppState, OrgContext};
use app::model::webhooks::{
    AttemptOutcome, DeliveryDetail, DeliveryFilter, DeliveryOut, DeliveryStatus, EndpointForm,
    EndpointOut, EndpointWithSecret, ReplayOut, TestSendOut, MAX_IN_FLIGHT, MAX_RETRIES,
    MAX_TIMEOUT_SECONDS,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use app::model::{DeliveryId, EndpointId};

use super::{location, ApiError, ApiJson, ApiPath, ApiQuery};
use crate::state::ServerState;

pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/v1/webhooks", get(list_webhooks).post(create_webhook))
        .route(
            "/api/v1/webhooks/{webhook_id}",
            get(get_webhook)
                .patch(update_webhook)
                .delete(delete_webhook),
        )
        .route("/api/v1/webhooks/{webhook_id}/enable", post(enable_webhook))
        .route(
            "/api/v1/webhooks/{webhook_id}/disable",
            post(disable_webhook),
        )
        .route(
            "/api/v1/webhooks/{webhook_id}/rotate-secret",
            post(rotate_webhook_secret),
        )
        .route(
            "/api/v1/webhooks/{webhook_id}/test",
            post(send_test_webhook),
        )
        .route(
            "/api/v1/webhooks/{webhook_id}/deliveries",
            get(list_deliveries),
        )
        .route(
            "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}",
            get(get_delivery),
        )
        .route(
            "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
            post(replay_delivery),
        )
        .route(
            "/api/v1/webhooks/{webhook_id}/replay-failed",
            post(replay_failed_deliveries),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_webhooks,
        create_webhook,
        get_webhook,
        update_webhook,
        delete_webhook,
        enable_webhook,
        disable_webhook,
        rotate_webhook_secret,
        send_test_webhook,
        list_deliveries,
        get_delivery,
        replay_delivery,
        replay_failed_deliveries
    ),
    components(schemas(DeliveryStatus, AttemptOutcome))
)]
struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[derive(Serialize, ToSchema)]
pub struct EndpointList {
    items: Vec<EndpointOut>,
}

#[derive(Deserialize, ToSchema)]
pub struct EndpointIn {
    /// `https://…` (plain `http://` only where the instance allows it);
    /// refused when it resolves to a non-public address.
    #[schema(example = "https://example.com/hooks/codebook", max_length = 2048)]
    url: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    description: String,
    /// The events to send; empty or absent: every event.
    #[serde(default)]
    event_types: Vec<String>,
    /// 1–300, default 15.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 300)]
    timeout_seconds: Option<i32>,
    /// 0–10, default 8.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10)]
    max_retries: Option<i32>,
    /// Requests sent to the endpoint at the same time, at most: 1–32,
    /// default 4. A receiver that accepts few connections at once wants
    /// few.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 32)]
    max_in_flight: Option<i32>,
}

/// The settings to change, and whether the endpoint sends; those absent
/// keep their value.
#[derive(Deserialize, ToSchema)]
pub struct EndpointPatch {
    /// `false` stops sending (events meanwhile become skipped deliveries,
    /// to replay); `true` sends again.
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// Empty: every event.
    #[serde(default)]
    event_types: Option<Vec<String>>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 300)]
    timeout_seconds: Option<i32>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10)]
    max_retries: Option<i32>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 32)]
    max_in_flight: Option<i32>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// Only deliveries in this state.
    status: Option<DeliveryStatus>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of deliveries (50 at most), newest first.
#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    items: Vec<DeliveryOut>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// The time range of a bulk replay: events in [since, until).
#[derive(Deserialize, ToSchema)]
pub struct ReplayFailedIn {
    since: DateTime<Utc>,
    until: DateTime<Utc>,
}

fn number(n: Option<i32>) -> Option<String> {
    n.map(|n| n.to_string())
}

fn endpoint_url(id: EndpointId) -> String {
    format!("/api/v1/webhooks/{id}")
}

const _: () = assert!(MAX_TIMEOUT_SECONDS == 300 && MAX_RETRIES == 10 && MAX_IN_FLIGHT == 32);

#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    summary = "List endpoints",
    responses((status = 200, description = "Every endpoint, oldest first, with its health.", body = EndpointList)),
)]
async fn list_webhooks(
    ctx: OrgContext,
    State(state): State<AppState>,
) -> Result<Json<EndpointList>, ApiError> {
    Ok(Json(EndpointList {
        items: webhooks::list(&ctx, &state).await?,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    summary = "Create an endpoint",
    description = "The answer holds the signing secret (`whsec_…`): it is shown this once.",
    request_body = EndpointIn,
    responses(
        (status = 201, description = "The endpoint and its secret; `Location` names it.", body = EndpointWithSecret,
         headers(("Location" = String, description = "The endpoint's URL."))),
        (status = 409, description = "The plan's webhook limit is reached.", body = super::ErrorBody),
    ),
)]
async fn create_webhook(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<EndpointIn>,
) -> Result<Response, ApiError> {
    let input = EndpointForm {
        url: input.url,
        description: input.description,
        event_types: input.event_types,
        timeout_seconds: number(input.timeout_seconds),
        max_retries: number(input.max_retries),
        max_in_flight: number(input.max_in_flight),
    };
    let created = webhooks::create(&ctx, &state, input).await?;
    let url = endpoint_url(created.endpoint.id);
    Ok((StatusCode::CREATED, [location(url)], Json(created)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{webhook_id}",
    tag = "webhooks",
    summary = "Get an endpoint",
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id.")),
    responses((status = 200, description = "The endpoint (never its secret).", body = EndpointOut)),
)]
async fn get_webhook(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(webhook_id): ApiPath<EndpointId>,
) -> Result<Json<EndpointOut>, ApiError> {
    Ok(Json(webhooks::get(&ctx, &state, webhook_id).await?))
}

#[utoipa::path(
    patch,
    path = "/api/v1/webhooks/{webhook_id}",
    tag = "webhooks",
    summary = "Change an endpoint",
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id.")),
    request_body = EndpointPatch,
    responses((status = 200, description = "The endpoint after the change.", body = EndpointOut)),
)]
async fn update_webhook(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(webhook_id): ApiPath<EndpointId>,
    ApiJson(patch): ApiJson<EndpointPatch>,
) -> Result<Json<EndpointOut>, ApiError> {
    let current = webhooks::get(&ctx, &state, webhook_id).await?;
    let enabled = patch.enabled;
    let changes_settings = patch.url.is_some()
        || patch.description.is_some()
        || patch.event_types.is_some()
        || patch.timeout_seconds.is_some()
        || patch.max_retries.is_some()
        || patch.max_in_flight.is_some();
    let mut endpoint = if changes_settings {
        webhooks::update(&ctx, &state, webhook_id, settings(patch, current)).await?
    } else {
        current
    };
    if let Some(enabled) = enabled.filter(|e| *e != endpoint.enabled) {
        endpoint = webhooks::set_enabled(&ctx, &state, webhook_id, enabled).await?;
    }
    Ok(Json(endpoint))
}

/// The endpoint's settings with `patch` applied.
fn settings(patch: EndpointPatch, current: EndpointOut) -> EndpointForm {
    EndpointForm {
        url: patch.url.unwrap_or(current.url),
        description: patch.description.unwrap_or(current.description),
        event_types: patch.event_types.unwrap_or(current.event_types),
        timeout_seconds: number(Some(
            patch.timeout_seconds.unwrap_or(current.timeout_seconds),
        )),
        max_retries: number(Some(patch.max_retries.unwrap_or(current.max_retries))),
        max_in_flight: number(Some(patch.max_in_flight.unwrap_or(current.max_in_flight))),
    }
}

#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{webhook_id}",
    tag = "webhooks",
    summary = "Delete an endpoint",
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id.")),
    responses((status = 204, description = "Deleted, with its deliveries.")),
)]
async fn delete_webhook(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(webhook_id): ApiPath<EndpointId>,
) -> Result<StatusCode, ApiError> {
    webhooks::delete(&ctx, &state, webhook_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{webhook_id}/enable",
    tag = "webhooks",
    summary = "Enable an endpoint",
    description = "The same as `PATCH` with `{\"enabled\": true}`.",
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id.")),
    responses((status = 200, description = "The endpoint, enabled.", body = EndpointOut)),
)]
async fn enable_webhook(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(webhook_id): ApiPath<EndpointId>,
) -> Result<Json<EndpointOut>, ApiError> {
    Ok(Json(
        webhooks::set_enabled(&ctx, &state, webhook_id, true).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{webhook_id}/disable",
    tag = "webhooks",
    summary = "Disable an endpoint",
    description = "The same as `PATCH` with `{\"enabled\": false}`. Events that happen while it \
is disabled are recorded as skipped deliveries, to replay once it is enabled again.",
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id.")),
    responses((status = 200, description = "The endpoint, disabled.", body = EndpointOut)),
)]
async fn disable_webhook(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(webhook_id): ApiPath<EndpointId>,
) -> Result<Json<EndpointOut>, ApiError> {
    Ok(Json(
        webhooks::set_enabled(&ctx, &state, webhook_id, false).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{webhook_id}/rotate-secret",
    tag = "webhooks",
    summary = "Rotate the signing secret",
    description = "A new secret, shown this once; the previous one keeps signing too for 24 hours.",
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id.")),
    responses((status = 200, description = "The endpoint and its new secret.", body = EndpointWithSecret)),
)]
async fn rotate_webhook_secret(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(webhook_id): ApiPath<EndpointId>,
) -> Result<Json<EndpointWithSecret>, ApiError> {
    Ok(Json(
        webhooks::rotate_secret(&ctx, &state, webhook_id).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{webhook_id}/test",
    tag = "webhooks",
    summary = "Send a test event",
    description = "Sends a `webhook.test` event now and answers with the exact request and the \
endpoint's answer.",
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id.")),
    responses((status = 200, description = "What was sent and what came back.", body = TestSendOut)),
)]
async fn send_test_webhook(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(webhook_id): ApiPath<EndpointId>,
) -> Result<Json<TestSendOut>, ApiError> {
    Ok(Json(webhooks::send_test(&ctx, &state, webhook_id).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{webhook_id}/deliveries",
    tag = "webhooks",
    summary = "List an endpoint's deliveries",
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id."), DeliveryParams),
    responses(
        (status = 200, description = "A page of deliveries, newest first.", body = DeliveryList),
        (status = 422, description = "The cursor is not valid.", body = super::ErrorBody),
    ),
)]
async fn list_deliveries(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(webhook_id): ApiPath<EndpointId>,
    ApiQuery(params): ApiQuery<DeliveryParams>,
) -> Result<Json<DeliveryList>, ApiError> {
    let filter = DeliveryFilter {
        status: params.status.map(|s| s.as_str().to_owned()),
        before: params.cursor,
    };
    let page = webhooks::deliveries(&ctx, &state, webhook_id, filter)
        .await
        .map_err(|e| ApiError::renamed(e, "before", "cursor"))?;
    Ok(Json(DeliveryList {
        items: page.items,
        next_cursor: page.next,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}",
    tag = "webhooks",
    summary = "Get a delivery",
    params(
        ("webhook_id" = Uuid, Path, description = "The endpoint's id."),
        ("delivery_id" = Uuid, Path, description = "The delivery's id."),
    ),
    responses((status = 200, description = "The delivery, its payload and every attempt, newest first.", body = DeliveryDetail)),
)]
async fn get_delivery(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath((webhook_id, delivery_id)): ApiPath<(EndpointId, DeliveryId)>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    Ok(Json(
        webhooks::delivery(&ctx, &state, webhook_id, delivery_id).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
    tag = "webhooks",
    summary = "Replay a delivery",
    description = "Sends it again, now, with a fresh allowance of retries.",
    params(
        ("webhook_id" = Uuid, Path, description = "The endpoint's id."),
        ("delivery_id" = Uuid, Path, description = "The delivery's id."),
    ),
    responses(
        (status = 200, description = "The delivery, queued again.", body = DeliveryOut),
        (status = 409, description = "The endpoint is disabled, or the delivery is still on its way.", body = super::ErrorBody),
    ),
)]
async fn replay_delivery(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath((webhook_id, delivery_id)): ApiPath<(EndpointId, DeliveryId)>,
) -> Result<Json<DeliveryOut>, ApiError> {
    Ok(Json(
        webhooks::replay(&ctx, &state, webhook_id, delivery_id).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{webhook_id}/replay-failed",
    tag = "webhooks",
    summary = "Replay the failed deliveries of a time range",
    description = "Queues again every failed (dead) or skipped delivery whose event happened in \
[since, until).",
    params(("webhook_id" = Uuid, Path, description = "The endpoint's id.")),
    request_body = ReplayFailedIn,
    responses(
        (status = 200, description = "How many were queued.", body = ReplayOut),
        (status = 409, description = "The endpoint is disabled.", body = super::ErrorBody),
    ),
)]
async fn replay_failed_deliveries(
    ctx: OrgContext,
    State(state): State<AppState>,
    ApiPath(webhook_id): ApiPath<EndpointId>,
    ApiJson(input): ApiJson<ReplayFailedIn>,
) -> Result<Json<ReplayOut>, ApiError> {
    let since = input.since.to_rfc3339();
    let until = input.until.to_rfc3339();
    Ok(Json(
        webhooks::replay_failed(&ctx, &state, webhook_id, &since, &until).await?,
    ))
}
