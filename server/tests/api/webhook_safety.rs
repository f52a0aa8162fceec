//! Webhooks kept safe: history pruned past its retention, the SSRF guard
//! at creation and at send time, and the metrics' access.
use chrono::{Duration, Utc};
use reqwest::Client;

use crate::helpers::{app_error, spawn_app, spawn_app_in, spawn_app_without_webhook_worker};
use crate::webhooks::receiver::{Receiver, Reply};
use crate::webhooks::*;

#[tokio::test]
async fn history_past_the_retention_is_pruned() {
    let Scene {
        app,
        client,
        receiver: _,
        endpoint: created,
    } = scene().await;
    app.an_event(&client).await;
    app.deliver_webhooks_at(Utc::now()).await;
    assert_eq!(app.count("webhook_attempts").await, 1);

    let removed = app
        .deliverer()
        .prune(Utc::now() + Duration::days(29))
        .await
        .unwrap();
    assert_eq!(removed, 0, "kept for 30 days");
    app.deliverer()
        .prune(Utc::now() + Duration::days(31))
        .await
        .unwrap();
    assert_eq!(app.count("webhook_attempts").await, 0);
    assert!(app.deliveries_of(created.id).await.is_empty());
    let left: i64 = sqlx::query_scalar("select count(*) from outbox where created_at < now()")
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    assert_eq!(left, 0, "the payloads go too");
    assert_eq!(app.count("webhook_endpoints").await, 1);
}

// ---------------------------------------------------------------------------
// The SSRF guard
// ---------------------------------------------------------------------------

#[tokio::test]
async fn urls_that_reach_internal_addresses_are_refused_at_creation() {
    // Production: no allow-list, HTTPS only.
    let app = spawn_app_in(app::backend::mode::Mode::Production).await;
    let (_, client) = app.signed_up_user().await;
    for url in [
        "https://127.0.0.1/hook",
        "https://127.1.2.3/hook",
        "https://10.0.0.1/hook",
        "https://172.16.5.4/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/hook",
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "https://192.0.2.10/hook",
        "https://198.51.100.1/hook",
        "https://203.0.113.1/hook",
        "https://198.18.0.1/hook",
        "https://240.0.0.1/hook",
        "https://255.255.255.255/hook",
        "https://[::1]/hook",
        "https://[::]/hook",
        "https://[fe80::1]/hook",
        "https://[fc00::1]/hook",
        "https://[fd12:3456::1]/hook",
        "https://[ff02::1]/hook",
        "https://[2001:db8::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://[::ffff:169.254.169.254]/hook",
        "https://[64:ff9b::a00:1]/hook",
        "https://2130706433/hook",
        "https://0x7f000001/hook",
        "https://localhost/hook",
        "https://localhost./hook",
        "http://93.184.216.34/hook",
    ] {
        let response = app
            .call(&client, "webhooks/create", &[("url", url.to_owned())])
            .await;
        assert_eq!(response.status().as_u16(), 422, "{url}");
        let error = app_error(response).await;
        assert_eq!(error.field.as_deref(), Some("url"), "{url}: {error:?}");
    }
    assert_eq!(app.count("webhook_endpoints").await, 0);
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_not_followed() {
    let app = spawn_app_without_webhook_worker().await;
    let (_, client) = app.signed_up_user().await;
    let mut receiver = Receiver::start().await;
    let mut inside = Receiver::start().await;
    receiver.then([Reply::status(307).with_header("location", inside.url.clone())]);
    let created = app
        .create_endpoint(&client, &receiver.url, &["code.created"])
        .await;
    app.an_event(&client).await;
    app.deliver_webhooks_at(Utc::now()).await;
    receiver.next().await;
    let state = app.only_delivery_of(created.id).await;
    assert_eq!(
        (state.status.as_str(), state.last_status_code),
        ("retrying", Some(307))
    );
    assert!(
        inside.received().is_empty(),
        "the redirect was not followed"
    );
}

#[tokio::test]
async fn a_url_allowed_at_creation_is_checked_again_at_send_time() {
    let Scene {
        app,
        client,
        receiver: _,
        endpoint: created,
    } = scene().await;
    app.an_event(&client).await;
    // A worker whose instance allows no internal address.
    let strict = app::backend::webhooks::Webhooks::new(
        app.webhooks.key.clone(),
        app::backend::webhooks::ssrf::Guard::new(Default::default(), true),
    )
    .unwrap();
    let worker = app::backend::webhooks::worker::Deliverer::new(app.worker_pool.clone(), strict);
    worker.deliver_due(Utc::now()).await.unwrap();
    let error: Option<String> =
        sqlx::query_scalar("select error from webhook_attempts where endpoint_id = $1")
            .bind(created.id)
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert!(error.is_some_and(|e| !e.is_empty()));
}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

#[tokio::test]
async fn metrics_show_requests_queues_and_deliveries() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let mut receiver = Receiver::start().await;
    app.create_endpoint(&client, &receiver.url, &["code.created"])
        .await;
    app.an_event(&client).await;
    receiver.next().await;

    let text = reqwest::get(format!("{}/metrics", app.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "http_requests_total{",
        "route=\"/api/webhooks/create\"",
        "http_request_duration_seconds_bucket{",
        "queue_depth{queue=\"webhook_deliveries_due\"}",
        "queue_depth{queue=\"outbox\"}",
        "queue_depth{queue=\"jobs_due\"}",
        "webhook_attempt_duration_seconds_bucket{",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    // The attempt is counted once recorded, just after the receiver answered.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = reqwest::get(format!("{}/metrics", app.address))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("webhook_deliveries_total{result=\"succeeded\"} 1") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn production_metrics_need_the_token() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.mode = app::backend::mode::Mode::Production;
        s.metrics_token = "a-scrape-token".into();
    })
    .await;
    let url = format!("{}/metrics", app.address);
    let client = Client::new();
    assert_eq!(
        client.get(&url).send().await.unwrap().status().as_u16(),
        401
    );
    let wrong = client.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let right = client
        .get(&url)
        .bearer_auth("a-scrape-token")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status().as_u16(), 200);
}
