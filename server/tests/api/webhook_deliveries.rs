//! Webhook deliveries: signed per Standard Webhooks to a real receiver on
//! loopback, retries and dead letters under a test's clock, disabling,
//! replay, the log, test sends, secret rotation and fencing.
use app::model::webhooks::{DeliveryDetail, DeliveryPage, EndpointWithSecret, TestSendOut};
use app::model::EndpointId;
use chrono::{Duration, Utc};

use crate::helpers::{body_of, spawn_app, spawn_app_without_webhook_worker, TestApp};
use crate::webhook_retries::set_max_retries;
use crate::webhooks::receiver::{Receiver, Reply};
use crate::webhooks::*;

// ---------------------------------------------------------------------------
// Deliveries
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_event_reaches_the_receiver_signed_per_standard_webhooks() {
    // The server's own worker, woken by NOTIFY.
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let mut receiver = Receiver::start().await;
    let created = app
        .create_endpoint(&client, &receiver.url, &["code.created"])
        .await;

    let code = app.an_event(&client).await;

    let hit = receiver.next().await;
    assert!(signed_with(&hit, &created.secret));
    assert!(hit.header("webhook-id").starts_with("msg_"));
    assert!(hit.header("webhook-signature").starts_with("v1,"));
    assert_eq!(hit.header("content-type"), "application/json");
    assert!(hit.header("user-agent").starts_with("Codebook-Webhooks/"));
    let timestamp: i64 = hit.header("webhook-timestamp").parse().unwrap();
    assert!((Utc::now().timestamp() - timestamp).abs() < 60);
    let body = hit.json();
    assert_eq!(body["type"], "code.created");
    assert!(body["timestamp"].is_string());
    assert_eq!(body["data"]["code"]["code"], code.content.code.as_str());
    // Recorded as succeeded, with its attempt, right after the answer.
    wait_for_status(&app, created.id, "succeeded").await;
    let attempt: (i32, bool, Option<i32>) = sqlx::query_as(
        "select attempt, succeeded, status_code from webhook_attempts where endpoint_id = $1",
    )
    .bind(created.id)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(attempt, (1, true, Some(200)));
}

/// Waits (on the database, up to 10 s) until the endpoint's only delivery
/// has `status`.
pub(crate) async fn wait_for_status(app: &TestApp, endpoint: EndpointId, status: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now: Option<String> = sqlx::query_scalar(
            "select status::text from webhook_deliveries where endpoint_id = $1",
        )
        .bind(endpoint)
        .fetch_optional(&app.db.superuser)
        .await
        .unwrap();
        if now.as_deref() == Some(status) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {now:?}, not {status}"
        );
        // Polls the database: the worker records after the receiver answers.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn only_subscribed_events_are_delivered() {
    let app = spawn_app_without_webhook_worker().await;
    let (_, client) = app.signed_up_user().await;
    let receiver = Receiver::start().await;
    let members_only = app
        .create_endpoint(&client, &receiver.url, &["member.joined"])
        .await;
    let everything = app.create_endpoint(&client, &receiver.url, &[]).await;

    app.an_event(&client).await;

    assert!(app.deliveries_of(members_only.id).await.is_empty());
    let types: Vec<String> = sqlx::query_scalar(
        "select event_type from webhook_deliveries where endpoint_id = $1 order by event_type",
    )
    .bind(everything.id)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    assert!(types.contains(&"code.created".to_owned()), "{types:?}");
    assert!(types.contains(&"audit.logged".to_owned()), "{types:?}");
}

#[tokio::test]
async fn one_delivery_is_replayed_with_its_webhook_id() {
    let Scene {
        app,
        client,
        mut receiver,
        endpoint: created,
    } = scene().await;
    set_max_retries(&app, created.id, 0).await;
    receiver.then([Reply::status(400)]);
    app.an_event(&client).await;
    app.deliver_webhooks_at(Utc::now()).await;
    let first = receiver.next().await;
    let dead = app.only_delivery_of(created.id).await;
    assert_eq!(dead.status, "dead", "no retries allowed");

    let response = app
        .call(
            &client,
            "webhooks/replay",
            &[
                ("endpoint_id", created.id.to_string()),
                ("id", dead.id.to_string()),
            ],
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    // A second replay while it is queued is refused.
    let again = app
        .call(
            &client,
            "webhooks/replay",
            &[
                ("endpoint_id", created.id.to_string()),
                ("id", dead.id.to_string()),
            ],
        )
        .await;
    assert_eq!(again.status().as_u16(), 409);
    assert_eq!(app.deliver_webhooks_at(Utc::now()).await, 1);
    let second = receiver.next().await;
    assert_eq!(first.header("webhook-id"), second.header("webhook-id"));
    assert_eq!(first.body, second.body);
    let state = app.only_delivery_of(created.id).await;
    assert_eq!((state.status.as_str(), state.attempts), ("succeeded", 2));

    let detail: DeliveryDetail = body_of(
        app.call(
            &client,
            "webhooks/delivery",
            &[
                ("endpoint_id", created.id.to_string()),
                ("id", dead.id.to_string()),
            ],
        )
        .await,
    )
    .await;
    let attempts = &detail.attempts;
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].status_code, Some(200), "newest first");
    assert_eq!(attempts[1].status_code, Some(400));
    assert_eq!(detail.payload, first.body);
}

#[tokio::test]
async fn the_log_filters_by_status_and_pages_by_cursor() {
    let Scene {
        app,
        client,
        receiver: _,
        endpoint: created,
    } = scene().await;
    for _ in 0..55 {
        app.an_event(&client).await;
    }
    let page = |filter: Vec<(&'static str, String)>| {
        let mut form = vec![("endpoint_id", created.id.to_string())];
        form.extend(filter);
        let app = &app;
        let client = &client;
        async move {
            body_of::<DeliveryPage>(app.call(client, "webhooks/deliveries", &form).await).await
        }
    };
    let first = page(vec![]).await;
    assert_eq!(first.items.len(), 50);
    let next = first.next.expect("a next page");
    let second = page(vec![("filter[before]", next)]).await;
    assert_eq!(second.items.len(), 5);
    assert_eq!(second.next, None);
    let dead = page(vec![("filter[status]", "dead".into())]).await;
    assert_eq!(dead.items.len(), 0);
    let pending = page(vec![("filter[status]", "pending".into())]).await;
    assert_eq!(pending.items.len(), 50);
    let bad = app
        .call(
            &client,
            "webhooks/deliveries",
            &[
                ("endpoint_id", created.id.to_string()),
                ("filter[before]", "nonsense".into()),
            ],
        )
        .await;
    assert_eq!(bad.status().as_u16(), 422);
}

#[tokio::test]
async fn a_test_send_shows_the_request_and_the_answer() {
    let Scene {
        app,
        client,
        mut receiver,
        endpoint: created,
    } = scene().await;
    receiver.then([Reply::status(202)]);

    let out: TestSendOut = body_of(
        app.call(&client, "webhooks/test", &[("id", created.id.to_string())])
            .await,
    )
    .await;

    let hit = receiver.next().await;
    assert!(signed_with(&hit, &created.secret));
    assert_eq!(hit.json()["type"], "webhook.test");
    assert_eq!(out.status_code, Some(202));
    assert!(out.succeeded);
    assert_eq!(out.request_body, hit.body);
    let header = |name: &str| {
        out.request_headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    assert_eq!(
        header("webhook-id").as_deref(),
        Some(hit.header("webhook-id"))
    );
    assert_eq!(
        header("webhook-signature").as_deref(),
        Some(hit.header("webhook-signature"))
    );
    let state = app.only_delivery_of(created.id).await;
    assert_eq!((state.status.as_str(), state.attempts), ("succeeded", 1));
    // It goes to the endpoint tested only, and no worker sends it again.
    assert_eq!(
        app.deliver_webhooks_at(Utc::now() + Duration::hours(1))
            .await,
        0
    );
}

#[tokio::test]
async fn a_rotated_secret_signs_alongside_the_old_one_for_a_day() {
    let Scene {
        app,
        client,
        mut receiver,
        endpoint: created,
    } = scene().await;
    let rotated: EndpointWithSecret = body_of(
        app.call(
            &client,
            "webhooks/rotate",
            &[("id", created.id.to_string())],
        )
        .await,
    )
    .await;
    let new_secret = rotated.secret;
    assert_ne!(new_secret, created.secret);

    app.an_event(&client).await;
    app.deliver_webhooks_at(Utc::now()).await;
    let hit = receiver.next().await;
    assert_eq!(hit.header("webhook-signature").split(' ').count(), 2);
    assert!(signed_with(&hit, &created.secret));
    assert!(signed_with(&hit, &new_secret));

    // A day later, the new one only.
    sqlx::query(
        "update webhook_endpoints set previous_secret_expires_at = now() - interval '1 second'",
    )
    .execute(&app.db.superuser)
    .await
    .unwrap();
    app.an_event(&client).await;
    app.deliver_webhooks_at(Utc::now()).await;
    let hit = receiver.next().await;
    assert_eq!(hit.header("webhook-signature").split(' ').count(), 1);
    assert!(signed_with(&hit, &new_secret));
    assert!(!signed_with(&hit, &created.secret));
}

#[tokio::test]
async fn an_attempt_reported_after_its_lease_ran_out_is_not_recorded() {
    let Scene {
        app,
        client,
        receiver,
        endpoint: created,
    } = scene().await;
    receiver.otherwise(Reply::status(500));
    app.an_event(&client).await;
    let now = Utc::now();
    let slow = app.deliverer();
    let fast = app.deliverer();

    let mut held = slow.claim(now, 10, &[]).await.unwrap();
    assert_eq!(held.len(), 1);
    assert!(
        fast.claim(now, 10, &[]).await.unwrap().is_empty(),
        "held while leased"
    );
    // The lease (timeout 15 s + margin) runs out; another worker claims it.
    let later = now + Duration::minutes(5);
    let mut taken = fast.claim(later, 10, &[]).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert!(taken[0].lease > held[0].lease, "a newer fencing token");
    receiver.then([Reply::status(200)]);
    let newer = app::backend::webhooks::worker::Deliverer::attempt(
        &app.webhooks,
        taken.pop().unwrap(),
        later,
    )
    .await;
    fast.record(&[newer], later).await.unwrap();
    // The first worker comes back with its stale failure.
    let stale = app::backend::webhooks::worker::Deliverer::attempt(
        &app.webhooks,
        held.pop().unwrap(),
        later,
    )
    .await;
    slow.record(&[stale], later).await.unwrap();

    let state = app.only_delivery_of(created.id).await;
    assert_eq!(
        state.status, "succeeded",
        "the stale report changed nothing"
    );
    // The first attempt's row, on the log since its claim, was marked
    // interrupted by the second claim; the stale report left it so.
    let recorded: Vec<(i32, String, bool, Option<i32>)> = sqlx::query_as(
        "select attempt, outcome::text, succeeded, status_code
         from webhook_attempts where endpoint_id = $1 order by attempt",
    )
    .bind(created.id)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(
        recorded,
        [
            (1, "interrupted".to_owned(), false, None),
            (2, "succeeded".to_owned(), true, Some(200))
        ]
    );
}
