//! Webhook endpoints and their rules, and cross-tenant refusals; the
//! helpers every webhook test uses. Deliveries are in `webhook_deliveries`,
//! the guards in `webhook_safety`.
pub mod receiver;
mod verifier;
mod workers;

use app::backend::webhooks::secrets::SigningSecret;
use app::backend::webhooks::signing;
use app::model::codes::CodeOut;
use app::model::webhooks::{EndpointOut, EndpointWithSecret};
use app::model::{DeliveryId, EndpointId};
use chrono::{DateTime, Utc};
use reqwest::Client;

use crate::helpers::{app_error, body_of, spawn_app, spawn_app_without_webhook_worker, TestApp};
use receiver::Receiver;

/// What most tests start from: an app whose deliveries the test drives
/// (`deliver_webhooks_at`), an owner, a receiver, and an endpoint of the
/// owner's organization taking `code.created` there.
pub(crate) struct Scene {
    pub app: TestApp,
    pub client: Client,
    pub receiver: Receiver,
    pub endpoint: Created,
}

pub(crate) async fn scene() -> Scene {
    let app = spawn_app_without_webhook_worker().await;
    let (_, client) = app.signed_up_user().await;
    let receiver = Receiver::start().await;
    let endpoint = app
        .create_endpoint(&client, &receiver.url, &["code.created"])
        .await;
    Scene {
        app,
        client,
        receiver,
        endpoint,
    }
}

/// An endpoint as created: its id and its secret (shown this once).
pub struct Created {
    pub id: EndpointId,
    pub secret: String,
}

impl TestApp {
    /// Creates an endpoint at `url` taking `events` (none: all), or fails the test.
    pub async fn create_endpoint(&self, client: &Client, url: &str, events: &[&str]) -> Created {
        let mut form = vec![("url", url.to_owned())];
        for event in events {
            form.push(("event_types[]", (*event).to_owned()));
        }
        let created: EndpointWithSecret =
            body_of(self.call(client, "webhooks/create", &form).await).await;
        Created {
            id: created.endpoint.id,
            secret: created.secret,
        }
    }

    pub async fn endpoint(&self, client: &Client, id: EndpointId) -> EndpointOut {
        body_of(
            self.call(client, "webhooks/get", &[("id", id.to_string())])
                .await,
        )
        .await
    }

    /// An event of the caller's organization: a new code.
    pub async fn an_event(&self, client: &Client) -> CodeOut {
        // Unique in the organization: a process runs one test (nextest).
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let code = format!("WH-{n}");
        self.create_code(client, &code, "An event for the webhooks")
            .await
    }

    /// Every delivery of the endpoint, oldest first, as the database holds it.
    pub async fn deliveries_of(&self, endpoint: EndpointId) -> Vec<DeliveryState> {
        sqlx::query_as(
            "select id, status::text, attempts, next_attempt_at, last_status_code
             from webhook_deliveries where endpoint_id = $1 order by created_at, id",
        )
        .bind(endpoint)
        .fetch_all(&self.db.superuser)
        .await
        .unwrap()
    }

    pub async fn only_delivery_of(&self, endpoint: EndpointId) -> DeliveryState {
        let mut all = self.deliveries_of(endpoint).await;
        assert_eq!(all.len(), 1, "{all:?}");
        all.pop().unwrap()
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct DeliveryState {
    pub id: DeliveryId,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
}

/// Checks a request's signature with `secret` the way a receiver does.
pub fn signed_with(hit: &receiver::Hit, secret: &str) -> bool {
    let secret = SigningSecret::parse(secret).expect("a whsec_ secret");
    let timestamp: i64 = hit.header("webhook-timestamp").parse().unwrap();
    let expected = signing::sign(
        &secret,
        hit.header("webhook-id"),
        timestamp,
        hit.body.as_bytes(),
    );
    hit.header("webhook-signature")
        .split(' ')
        .any(|candidate| candidate == expected)
}

// ---------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_secret_is_shown_once_and_stored_sealed() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let receiver = Receiver::start().await;

    let created = app
        .create_endpoint(&client, &receiver.url, &["code.created", "member.joined"])
        .await;

    assert!(created.secret.starts_with("whsec_"));
    let key_b64 = created.secret.trim_start_matches("whsec_");
    assert!(key_b64.len() >= 32, "24 random bytes or more");
    let endpoint = app.endpoint(&client, created.id).await;
    assert_eq!(endpoint.url, receiver.url);
    assert_eq!(endpoint.event_types, ["code.created", "member.joined"]);
    assert_eq!(
        (
            endpoint.timeout_seconds,
            endpoint.max_retries,
            endpoint.max_in_flight
        ),
        (15, 8, 4)
    );
    for (name, form) in [
        ("webhooks/get", vec![("id", created.id.to_string())]),
        ("webhooks/list", vec![]),
    ] {
        let text = app.call(&client, name, &form).await.text().await.unwrap();
        assert!(!text.contains(key_b64), "{name} shows the secret");
        assert!(!text.contains("whsec_"), "{name} shows a secret");
    }
    let stored: Vec<u8> = sqlx::query_scalar("select secret from webhook_endpoints")
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    let plain = SigningSecret::parse(&created.secret).unwrap();
    assert!(
        !stored.windows(plain.key().len()).any(|w| w == plain.key()),
        "the stored secret is sealed"
    );
    let audit: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'webhook.created' and resource_id = $1::text",
    )
    .bind(created.id)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(audit, 1);
}

#[tokio::test]
async fn bad_settings_are_refused_by_field_and_change_nothing() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let long_url = format!("https://example.com/{}", "a".repeat(3000));
    for (form, field) in [
        (vec![("url", "not a url")], "url"),
        (vec![("url", "ftp://example.com/hook")], "url"),
        (vec![("url", "")], "url"),
        (vec![("url", long_url.as_str())], "url"),
        (
            vec![("url", "https://example.com/h"), ("timeout_seconds", "0")],
            "timeout_seconds",
        ),
        (
            vec![("url", "https://example.com/h"), ("timeout_seconds", "301")],
            "timeout_seconds",
        ),
        (
            vec![("url", "https://example.com/h"), ("max_retries", "11")],
            "max_retries",
        ),
        (
            vec![("url", "https://example.com/h"), ("max_retries", "lots")],
            "max_retries",
        ),
        (
            vec![("url", "https://example.com/h"), ("max_in_flight", "0")],
            "max_in_flight",
        ),
        (
            vec![("url", "https://example.com/h"), ("max_in_flight", "33")],
            "max_in_flight",
        ),
        (
            vec![
                ("url", "https://example.com/h"),
                ("event_types[]", "code.exploded"),
            ],
            "event_types",
        ),
    ] {
        let form: Vec<(&str, String)> = form.into_iter().map(|(k, v)| (k, v.to_owned())).collect();
        let response = app.call(&client, "webhooks/create", &form).await;
        assert_eq!(response.status().as_u16(), 422, "{form:?}");
        let error = app_error(response).await;
        assert_eq!(error.field.as_deref(), Some(field), "{form:?}: {error:?}");
    }
    assert_eq!(app.count("webhook_endpoints").await, 0);
}

#[tokio::test]
async fn members_read_endpoints_and_only_managers_change_them() {
    let app = spawn_app().await;
    let (owner, owner_client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let created = app
        .create_endpoint(&owner_client, "http://127.0.0.1:9/hook", &[])
        .await;
    let (_, member, _) = app.member_of(org, "member").await;

    let listed: Vec<EndpointOut> = body_of(app.call(&member, "webhooks/list", &[]).await).await;
    assert_eq!(
        listed.iter().map(|e| e.id).collect::<Vec<_>>(),
        [created.id]
    );
    let id = created.id.to_string();
    for (name, form) in [
        (
            "webhooks/create",
            vec![("url", "http://127.0.0.1:9/x".to_owned())],
        ),
        ("webhooks/delete", vec![("id", id.clone())]),
        ("webhooks/rotate", vec![("id", id.clone())]),
        ("webhooks/test", vec![("id", id.clone())]),
        (
            "webhooks/enable",
            vec![("id", id.clone()), ("enabled", "false".into())],
        ),
    ] {
        let response = app.call(&member, name, &form).await;
        assert_eq!(response.status().as_u16(), 403, "{name}");
    }
    let (_, manager, _) = app.member_of(org, "manager").await;
    let response = app
        .call(
            &manager,
            "webhooks/enable",
            &[("id", id.clone()), ("enabled", "false".into())],
        )
        .await;
    assert!(response.status().is_success() || response.status().is_redirection());
    assert!(!app.endpoint(&owner_client, created.id).await.enabled);
}

#[tokio::test]
async fn parallel_creations_stop_at_the_plan_limit() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let calls = (0..8).map(|i| {
        let form = vec![("url", format!("http://127.0.0.1:9/hook-{i}"))];
        let app = &app;
        let client = &client;
        async move { app.call(client, "webhooks/create", &form).await.status() }
    });
    let statuses = futures::future::join_all(calls).await;
    let created = statuses.iter().filter(|s| s.is_success()).count();
    assert_eq!(created, 2, "the free plan's limit: {statuses:?}");
    assert!(statuses
        .iter()
        .filter(|s| !s.is_success())
        .all(|s| s.as_u16() == 403 || s.as_u16() == 409 || s.as_u16() == 402));
    assert_eq!(app.count("webhook_endpoints").await, 2);
}

#[tokio::test]
async fn another_organizations_endpoints_and_deliveries_are_not_found() {
    let app = spawn_app_without_webhook_worker().await;
    let (_, a) = app.signed_up_user().await;
    let (_, b) = app.signed_up_user().await;
    let receiver = Receiver::start().await;
    let created = app
        .create_endpoint(&a, &receiver.url, &["code.created"])
        .await;
    app.an_event(&a).await;
    app.deliver_webhooks_at(Utc::now()).await;
    let delivery = app.only_delivery_of(created.id).await;
    let before: String =
        sqlx::query_scalar("select row_to_json(e)::text from webhook_endpoints e where id = $1")
            .bind(created.id)
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();

    let (id, did) = (created.id.to_string(), delivery.id.to_string());
    let calls: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("webhooks/get", vec![("id", id.clone())]),
        (
            "webhooks/update",
            vec![("id", id.clone()), ("url", "http://127.0.0.1:9/b".into())],
        ),
        (
            "webhooks/enable",
            vec![("id", id.clone()), ("enabled", "false".into())],
        ),
        ("webhooks/rotate", vec![("id", id.clone())]),
        ("webhooks/test", vec![("id", id.clone())]),
        ("webhooks/deliveries", vec![("endpoint_id", id.clone())]),
        (
            "webhooks/delivery",
            vec![("endpoint_id", id.clone()), ("id", did.clone())],
        ),
        (
            "webhooks/replay",
            vec![("endpoint_id", id.clone()), ("id", did.clone())],
        ),
        (
            "webhooks/replay_failed",
            vec![
                ("endpoint_id", id.clone()),
                ("since", "2000-01-01T00:00:00Z".into()),
                ("until", "2100-01-01T00:00:00Z".into()),
            ],
        ),
        ("webhooks/delete", vec![("id", id.clone())]),
    ];
    for (name, form) in &calls {
        let response = app.call(&b, name, form).await;
        assert_eq!(response.status().as_u16(), 404, "{name}");
    }
    let listed: Vec<EndpointOut> = body_of(app.call(&b, "webhooks/list", &[]).await).await;
    assert_eq!(listed, []);
    let after: String =
        sqlx::query_scalar("select row_to_json(e)::text from webhook_endpoints e where id = $1")
            .bind(created.id)
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(before, after, "B changed nothing of A's endpoint");
    assert_eq!(app.only_delivery_of(created.id).await.attempts, 1);

    // The pages: a not-found page, not A's data.
    for path in [
        format!("/webhooks/{id}"),
        format!("/webhooks/{id}/deliveries/{did}"),
    ] {
        let response = b
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
        assert!(!response.text().await.unwrap().contains(&receiver.url));
    }
}

#[tokio::test]
async fn an_update_keeps_the_secret_and_a_delete_takes_the_log_with_it() {
    let app = spawn_app_without_webhook_worker().await;
    let (_, client) = app.signed_up_user().await;
    let mut receiver = Receiver::start().await;
    let created = app.create_endpoint(&client, &receiver.url, &[]).await;
    let response = app
        .call(
            &client,
            "webhooks/update",
            &[
                ("id", created.id.to_string()),
                ("url", receiver.url.clone()),
                ("description", "CRM".into()),
                ("event_types[]", "code.created".into()),
                ("timeout_seconds", "5".into()),
                ("max_retries", "3".into()),
                ("max_in_flight", "12".into()),
            ],
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    let endpoint = app.endpoint(&client, created.id).await;
    assert_eq!(
        (
            endpoint.description.as_str(),
            endpoint.timeout_seconds,
            endpoint.max_retries,
            endpoint.max_in_flight
        ),
        ("CRM", 5, 3, 12)
    );
    app.an_event(&client).await;
    app.deliver_webhooks_at(Utc::now()).await;
    assert!(signed_with(&receiver.next().await, &created.secret));

    let response = app
        .call(
            &client,
            "webhooks/delete",
            &[("id", created.id.to_string())],
        )
        .await;
    assert!(response.status().is_success() || response.status().is_redirection());
    assert_eq!(app.count("webhook_endpoints").await, 0);
    assert_eq!(app.count("webhook_deliveries").await, 0);
    assert_eq!(app.count("webhook_attempts").await, 0);
}
