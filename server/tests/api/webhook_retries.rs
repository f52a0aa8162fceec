//! Failed deliveries: retried on the schedule, `Retry-After` within bounds,
//! dead-lettered, 410 and five failing days disabling the endpoint.
use app::model::webhooks::ReplayOut;
use app::model::EndpointId;
use chrono::{DateTime, Duration, Utc};
use reqwest::Client;

use crate::helpers::{body_of, spawn_app_without_webhook_worker, TestApp};
use crate::webhooks::receiver::{Receiver, Reply};
use crate::webhooks::*;

#[tokio::test]
async fn failures_are_retried_on_the_schedule_then_dead_lettered() {
    let Scene {
        app,
        client,
        mut receiver,
        endpoint: created,
    } = scene().await;
    receiver.otherwise(Reply::status(500));
    set_max_retries(&app, created.id, 3).await;
    app.an_event(&client).await;
    let start = Utc::now();

    // Try 1 now; then about 5 s, 5 min and 30 min later (±20 %).
    let mut clock = start;
    let mut ids = Vec::new();
    for (try_no, pause) in [(1, None), (2, Some(5)), (3, Some(300)), (4, Some(1800))] {
        if let Some(seconds) = pause {
            let state = app.only_delivery_of(created.id).await;
            assert_eq!(state.status, "retrying");
            let next = state.next_attempt_at.expect("a next attempt");
            let waited = (next - clock).num_milliseconds() as f64 / 1000.0;
            let want = seconds as f64;
            assert!(
                waited >= want * 0.8 - 1.0 && waited <= want * 1.2 + 1.0,
                "try {try_no}: waited {waited} s, want about {want} s"
            );
            // Not before it is due.
            assert_eq!(
                app.deliver_webhooks_at(next - Duration::milliseconds(500))
                    .await,
                0
            );
            clock = next;
        }
        assert_eq!(app.deliver_webhooks_at(clock).await, 1, "try {try_no}");
        ids.push(receiver.next().await.header("webhook-id").to_owned());
    }
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "the id is stable: {ids:?}"
    );
    let state = app.only_delivery_of(created.id).await;
    assert_eq!(
        (state.status.as_str(), state.attempts, state.next_attempt_at),
        ("dead", 4, None),
        "one try and three retries, then dead"
    );
    assert_eq!(app.deliver_webhooks_at(clock + Duration::days(2)).await, 0);
    let attempts: i64 = sqlx::query_scalar(
        "select count(*) from webhook_attempts where endpoint_id = $1 and not succeeded and status_code = 500",
    )
    .bind(created.id)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(attempts, 4);
}

pub(crate) async fn set_max_retries(app: &TestApp, endpoint: EndpointId, n: i32) {
    sqlx::query("update webhook_endpoints set max_retries = $2 where id = $1")
        .bind(endpoint)
        .bind(n)
        .execute(&app.db.superuser)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_later_retry_pauses_follow_the_schedule() {
    let Scene {
        app,
        client,
        receiver,
        endpoint: created,
    } = scene().await;
    receiver.otherwise(Reply::status(503));
    set_max_retries(&app, created.id, 10).await;
    app.an_event(&client).await;
    let hours = [
        None,
        Some(5.0 / 3600.0),
        Some(5.0 / 60.0),
        Some(0.5),
        Some(2.0),
        Some(5.0),
        Some(10.0),
        Some(10.0),
        Some(10.0),
    ];
    let mut clock = Utc::now();
    for pause in hours {
        if let Some(h) = pause {
            let next = app
                .only_delivery_of(created.id)
                .await
                .next_attempt_at
                .unwrap();
            let waited = (next - clock).num_milliseconds() as f64 / 3_600_000.0;
            assert!(
                waited >= h * 0.8 - 0.001 && waited <= h * 1.2 + 0.001,
                "waited {waited} h, want about {h} h"
            );
            clock = next;
        }
        assert_eq!(app.deliver_webhooks_at(clock).await, 1);
    }
}

#[tokio::test]
async fn retry_after_is_honoured_within_bounds() {
    let Scene {
        app,
        client,
        receiver,
        endpoint: created,
    } = scene().await;
    receiver.then([
        Reply::status(429).with_header("retry-after", "120"),
        Reply::status(503).with_header("retry-after", "999999999"),
        Reply::status(503).with_header("retry-after", "soon"),
    ]);
    app.an_event(&client).await;
    let now = Utc::now();

    app.deliver_webhooks_at(now).await;
    let next = app
        .only_delivery_of(created.id)
        .await
        .next_attempt_at
        .unwrap();
    // As asked (to the microsecond the database keeps).
    assert!(
        ((next - now) - Duration::seconds(120))
            .num_milliseconds()
            .abs()
            <= 1
    );

    app.deliver_webhooks_at(next).await;
    let later = app
        .only_delivery_of(created.id)
        .await
        .next_attempt_at
        .unwrap();
    let waited = later - next;
    assert!(
        waited <= Duration::hours(24) && waited > Duration::minutes(1),
        "an absurd Retry-After is capped: {waited}"
    );

    app.deliver_webhooks_at(later).await;
    let after_garbage = app
        .only_delivery_of(created.id)
        .await
        .next_attempt_at
        .unwrap();
    let waited = (after_garbage - later).num_seconds();
    // Unreadable: the schedule's third pause, 30 min ± 20 %.
    assert!((1440..=2160).contains(&waited), "{waited}");
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_later_events_are_skipped_not_dropped() {
    let app = spawn_app_without_webhook_worker().await;
    let (owner, client) = app.signed_up_user().await;
    let mut receiver = Receiver::start().await;
    receiver.then([Reply::status(410)]);
    let created = app
        .create_endpoint(&client, &receiver.url, &["code.created"])
        .await;
    app.an_event(&client).await;
    let start = Utc::now();

    app.deliver_webhooks_at(start).await;
    receiver.next().await;

    let endpoint = app.endpoint(&client, created.id).await;
    assert!(!endpoint.enabled);
    assert!(endpoint.disabled_reason.unwrap().contains("410"));
    assert_eq!(app.only_delivery_of(created.id).await.status, "dead");
    assert_disabled_and_told(&app, created.id, &owner.email).await;

    // While disabled: recorded as skipped, never sent.
    app.an_event(&client).await;
    assert_eq!(app.deliver_webhooks_at(start + Duration::hours(1)).await, 0);
    let statuses: Vec<String> = app
        .deliveries_of(created.id)
        .await
        .into_iter()
        .map(|d| d.status)
        .collect();
    assert_eq!(statuses, ["dead", "skipped"]);

    // Enabled again and replayed over the range: both go out.
    enable(&app, &client, created.id).await;
    let replayed = replay_range(&app, &client, created.id, start - Duration::hours(1)).await;
    assert_eq!(replayed, 2);
    assert_eq!(app.deliver_webhooks_at(Utc::now()).await, 2);
    let mut got: Vec<String> = vec![
        receiver.next().await.header("webhook-id").to_owned(),
        receiver.next().await.header("webhook-id").to_owned(),
    ];
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 2);
    assert!(app
        .deliveries_of(created.id)
        .await
        .iter()
        .all(|d| d.status == "succeeded"));
}

async fn enable(app: &TestApp, client: &Client, id: EndpointId) {
    let response = app
        .call(
            client,
            "webhooks/enable",
            &[("id", id.to_string()), ("enabled", "true".into())],
        )
        .await;
    assert!(response.status().is_success() || response.status().is_redirection());
}

async fn replay_range(app: &TestApp, client: &Client, id: EndpointId, since: DateTime<Utc>) -> i64 {
    let replayed: ReplayOut = body_of(
        app.call(
            client,
            "webhooks/replay_failed",
            &[
                ("endpoint_id", id.to_string()),
                ("since", since.to_rfc3339()),
                ("until", (Utc::now() + Duration::minutes(1)).to_rfc3339()),
            ],
        )
        .await,
    )
    .await;
    replayed.queued
}

/// The system disabled the endpoint: an audit entry, and mail to the owner.
async fn assert_disabled_and_told(app: &TestApp, endpoint: EndpointId, owner_email: &str) {
    let entries: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'webhook.disabled' and resource_id = $1::text",
    )
    .bind(endpoint)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(entries, 1);
    let mail = app.mail_to(owner_email).await.expect("the owner is told");
    assert!(mail.contains("disabled"), "{mail}");
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled_and_admins_are_told() {
    let app = spawn_app_without_webhook_worker().await;
    let (owner, client) = app.signed_up_user().await;
    let receiver = Receiver::start().await;
    receiver.otherwise(Reply::status(500));
    let created = app
        .create_endpoint(&client, &receiver.url, &["code.created"])
        .await;
    set_max_retries(&app, created.id, 10).await;
    app.an_event(&client).await;
    let start = Utc::now();

    app.deliver_webhooks_at(start).await;
    // Four days of failures: still enabled.
    app.an_event(&client).await;
    app.deliver_webhooks_at(start + Duration::days(4)).await;
    assert!(app.endpoint(&client, created.id).await.enabled);
    // Past five days: disabled.
    app.an_event(&client).await;
    app.deliver_webhooks_at(start + Duration::days(5) + Duration::minutes(1))
        .await;
    let endpoint = app.endpoint(&client, created.id).await;
    assert!(!endpoint.enabled);
    assert!(endpoint.disabled_reason.unwrap().contains("5 days"));
    assert_disabled_and_told(&app, created.id, &owner.email).await;
}

#[tokio::test]
async fn a_success_ends_the_failing_streak() {
    let Scene {
        app,
        client,
        receiver,
        endpoint: created,
    } = scene().await;
    receiver.then([Reply::status(500)]);
    app.an_event(&client).await;
    let start = Utc::now();
    app.deliver_webhooks_at(start).await;
    assert!(app
        .endpoint(&client, created.id)
        .await
        .failing_since
        .is_some());
    app.deliver_webhooks_at(start + Duration::minutes(1)).await;
    assert!(app
        .endpoint(&client, created.id)
        .await
        .failing_since
        .is_none());
    // Days later another failure starts a new streak, not an old one.
    receiver.then([Reply::status(500)]);
    app.an_event(&client).await;
    app.deliver_webhooks_at(start + Duration::days(6)).await;
    assert!(app.endpoint(&client, created.id).await.enabled);
}
