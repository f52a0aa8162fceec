//! Webhook endpoints, their delivery log, replays and test sends. Each is
//! one service call in the caller's organization; the deliveries
//! themselves are the workers' (`backend::webhooks::worker`).
use crate::model::{DeliveryId, EndpointId};
use leptos::prelude::*;

use crate::model::webhooks::{
    DeliveryDetail, DeliveryFilter, DeliveryOut, DeliveryPage, EndpointOut, EndpointWithSecret,
    ReplayOut, TestSendOut,
};
use crate::model::AppError;

/// A webhook form as typed, to give back to the form when refused.
#[cfg(feature = "ssr")]
fn typed_settings(input: &crate::model::webhooks::EndpointForm) -> crate::model::flash::Flash {
    let fields = [
        ("url", Some(input.url.clone())),
        ("description", Some(input.description.clone())),
        ("timeout_seconds", input.timeout_seconds.clone()),
        ("max_retries", input.max_retries.clone()),
        ("max_in_flight", input.max_in_flight.clone()),
    ];
    let events = input
        .event_types
        .iter()
        .map(|event| ("event_types", Some(event.clone())));
    crate::model::flash::typed(fields.into_iter().chain(events))
}

#[cfg(feature = "ssr")]
fn endpoint_input(
    url: String,
    description: String,
    event_types: Vec<String>,
    timeout_seconds: Option<String>,
    max_retries: Option<String>,
    max_in_flight: Option<String>,
) -> crate::model::webhooks::EndpointForm {
    crate::model::webhooks::EndpointForm {
        url,
        description,
        event_types,
        timeout_seconds,
        max_retries,
        max_in_flight,
    }
}

#[server(endpoint = "webhooks/list")]
pub async fn list_webhooks() -> Result<Vec<EndpointOut>, AppError> {
    use crate::backend::webhooks;
    super::server::in_org(async |ctx, state| webhooks::list(ctx, state).await).await
}

#[server(endpoint = "webhooks/get")]
pub async fn get_webhook(id: EndpointId) -> Result<EndpointOut, AppError> {
    use crate::backend::webhooks;
    super::server::in_org(async |ctx, state| webhooks::get(ctx, state, id).await).await
}

/// Creates an endpoint; its secret is in the answer, and nowhere else ever.
#[server(endpoint = "webhooks/create")]
pub async fn create_webhook(
    url: String,
    #[server(default)] description: String,
    #[server(default)] event_types: Vec<String>,
    #[server(default)] timeout_seconds: Option<String>,
    #[server(default)] max_retries: Option<String>,
    #[server(default)] max_in_flight: Option<String>,
) -> Result<EndpointWithSecret, AppError> {
    use crate::backend::webhooks;
    let input = endpoint_input(
        url,
        description,
        event_types,
        timeout_seconds,
        max_retries,
        max_in_flight,
    );
    let typed = typed_settings(&input);
    let created =
        super::server::in_org(async |ctx, state| webhooks::create(ctx, state, input).await).await;
    let created = super::server::keep_typed_on_error(created, "/webhooks", || typed)?;
    super::server::redirect_with_secret("/webhooks", &created.secret);
    Ok(created)
}

#[server(endpoint = "webhooks/update")]
pub async fn update_webhook(
    id: EndpointId,
    url: String,
    #[server(default)] description: String,
    #[server(default)] event_types: Vec<String>,
    #[server(default)] timeout_seconds: Option<String>,
    #[server(default)] max_retries: Option<String>,
    #[server(default)] max_in_flight: Option<String>,
) -> Result<EndpointOut, AppError> {
    use crate::backend::webhooks;
    let input = endpoint_input(
        url,
        description,
        event_types,
        timeout_seconds,
        max_retries,
        max_in_flight,
    );
    let typed = typed_settings(&input);
    let updated =
        super::server::in_org(async |ctx, state| webhooks::update(ctx, state, id, input).await)
            .await;
    let updated =
        super::server::keep_typed_on_error(updated, &format!("/webhooks/{id}"), || typed)?;
    super::server::redirect_with_flash(
        &format!("/webhooks/{id}"),
        crate::model::flash::Flash::Notice("Settings saved.".into()),
    );
    Ok(updated)
}

#[server(endpoint = "webhooks/delete")]
pub async fn delete_webhook(id: EndpointId) -> Result<(), AppError> {
    use crate::backend::webhooks;
    super::server::in_org(async |ctx, state| webhooks::delete(ctx, state, id).await).await?;
    leptos_axum::redirect("/webhooks");
    Ok(())
}

/// Turns an endpoint on or off. Events that happen while it is off are
/// recorded as skipped, and can be replayed once it is on again.
#[server(endpoint = "webhooks/enable")]
pub async fn set_webhook_enabled(id: EndpointId, enabled: bool) -> Result<EndpointOut, AppError> {
    use crate::backend::webhooks;
    let endpoint = super::server::in_org(async |ctx, state| {
        webhooks::set_enabled(ctx, state, id, enabled).await
    })
    .await?;
    leptos_axum::redirect(&format!("/webhooks/{id}"));
    Ok(endpoint)
}

/// A new secret, shown once; the old one keeps signing for 24 hours.
#[server(endpoint = "webhooks/rotate")]
pub async fn rotate_webhook_secret(id: EndpointId) -> Result<EndpointWithSecret, AppError> {
    use crate::backend::webhooks;
    let rotated =
        super::server::in_org(async |ctx, state| webhooks::rotate_secret(ctx, state, id).await)
            .await?;
    super::server::redirect_with_secret(&format!("/webhooks/{id}"), &rotated.secret);
    Ok(rotated)
}

/// Sends a `webhook.test` event now and answers with the request and the
/// answer; a browser goes on to the delivery's page, which shows both.
#[server(endpoint = "webhooks/test")]
pub async fn send_test_webhook(id: EndpointId) -> Result<TestSendOut, AppError> {
    use crate::backend::webhooks;
    let sent =
        super::server::in_org(async |ctx, state| webhooks::send_test(ctx, state, id).await).await?;
    super::server::redirect_with_flash(
        &format!("/webhooks/{id}/deliveries/{}", sent.delivery_id),
        crate::model::flash::Flash::Notice(sent.outcome()),
    );
    Ok(sent)
}

#[server(endpoint = "webhooks/deliveries")]
pub async fn list_deliveries(
    endpoint_id: EndpointId,
    #[server(default)] filter: DeliveryFilter,
) -> Result<DeliveryPage, AppError> {
    use crate::backend::webhooks;
    super::server::in_org(async |ctx, state| {
        webhooks::deliveries(ctx, state, endpoint_id, filter).await
    })
    .await
}

#[server(endpoint = "webhooks/delivery")]
pub async fn get_delivery(
    endpoint_id: EndpointId,
    id: DeliveryId,
) -> Result<DeliveryDetail, AppError> {
    use crate::backend::webhooks;
    super::server::in_org(async |ctx, state| webhooks::delivery(ctx, state, endpoint_id, id).await)
        .await
}

/// Sends one delivery again, now, with a fresh allowance of retries.
#[server(endpoint = "webhooks/replay")]
pub async fn replay_delivery(
    endpoint_id: EndpointId,
    id: DeliveryId,
) -> Result<DeliveryOut, AppError> {
    use crate::backend::webhooks;
    let replayed = super::server::in_org(async |ctx, state| {
        webhooks::replay(ctx, state, endpoint_id, id).await
    })
    .await?;
    leptos_axum::redirect(&format!("/webhooks/{endpoint_id}/deliveries/{id}"));
    Ok(replayed)
}

/// Sends again every failed or skipped delivery of the endpoint whose event
/// happened in [since, until) (RFC 3339, or a browser's `datetime-local`
/// read as UTC).
#[server(endpoint = "webhooks/replay_failed")]
pub async fn replay_failed(
    endpoint_id: EndpointId,
    since: String,
    until: String,
) -> Result<ReplayOut, AppError> {
    use crate::backend::webhooks;
    let replayed = super::server::in_org(async |ctx, state| {
        webhooks::replay_failed(ctx, state, endpoint_id, &since, &until).await
    })
    .await?;
    super::server::redirect_with_notice(&format!("/webhooks/{endpoint_id}"), replayed.said());
    Ok(replayed)
}
