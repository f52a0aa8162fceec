//! Webhooks as a small receiver sees them: no more requests at once than
//! its endpoint takes, every request that may have reached it on the
//! delivery log (one cut off with its worker as interrupted), and a worker
//! process that shows what it delivered to Prometheus.
use app::model::webhooks::{AttemptOutcome, DeliveryDetail, EndpointOut, EndpointWithSecret};
use app::model::{DeliveryId, EndpointId};
use std::collections::HashMap;
use std::time::Duration;

use app::backend::webhooks::worker::{Settings, Worker, INTERRUPTED};
use chrono::Utc;
use reqwest::Client;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;

use crate::helpers::{body_of, spawn_app, spawn_app_without_webhook_worker, TestApp};
use crate::rest::{api_credential, api_error, Api};
use crate::webhooks::receiver::{Receiver, Reply};
use crate::webhooks::Created;

/// A receiver as small as they come: a listen queue of `backlog`
/// connections, served one at a time, each request taking `pace` before
/// its answer, and the connection closed after it.
struct SmallReceiver {
    url: String,
    /// The `webhook-id` of every request read.
    ids: mpsc::UnboundedReceiver<String>,
}

impl SmallReceiver {
    async fn start(backlog: u32, pace: Duration) -> Self {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(backlog).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (found, ids) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let Some(id) = read_request(&mut stream).await else {
                    continue;
                };
                let _ = found.send(id);
                // The receiver's own work: while it lasts, new connections
                // wait in the listen queue.
                tokio::time::sleep(pace).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = stream.shutdown().await;
            }
        });
        SmallReceiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            ids,
        }
    }
}

/// Reads one HTTP/1.1 request, body and all; its `webhook-id`, or none when
/// the client went away first.
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let length: usize = header("content-length")?.parse().ok()?;
    while bytes.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    header("webhook-id")
}

impl TestApp {
    /// Creates an endpoint at `url` for `code.created` with `settings`
    /// (form fields) besides, or fails the test.
    async fn create_endpoint_with(
        &self,
        client: &Client,
        url: &str,
        settings: &[(&str, &str)],
    ) -> Created {
        let mut form = vec![
            ("url", url.to_owned()),
            ("event_types[]", "code.created".to_owned()),
        ];
        form.extend(settings.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let created: EndpointWithSecret =
            body_of(self.call(client, "webhooks/create", &form).await).await;
        Created {
            id: created.endpoint.id,
            secret: created.secret,
        }
    }

    /// Waits, watching the database, until every delivery of the endpoint
    /// has succeeded; fails after `limit`.
    async fn wait_until_delivered(&self, endpoint: EndpointId, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left: i64 = sqlx::query_scalar(
                "select count(*) from webhook_deliveries
                  where endpoint_id = $1 and status <> 'succeeded'",
            )
            .bind(endpoint)
            .fetch_one(&self.db.superuser)
            .await
            .unwrap();
            if left == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{left} deliveries not made"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One delivery with its attempts, newest first, as the log shows it.
    async fn delivery_log(
        &self,
        client: &Client,
        endpoint: EndpointId,
        delivery: DeliveryId,
    ) -> DeliveryDetail {
        body_of(
            self.call(
                client,
                "webhooks/delivery",
                &[
                    ("endpoint_id", endpoint.to_string()),
                    ("id", delivery.to_string()),
                ],
            )
            .await,
        )
        .await
    }
}

fn outcomes(detail: &DeliveryDetail) -> Vec<(i32, AttemptOutcome)> {
    detail
        .attempts
        .iter()
        .map(|a| (a.attempt, a.outcome))
        .collect()
}

// ---------------------------------------------------------------------------
// Requests at once
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_receiver_with_a_listen_queue_of_five_gets_a_burst_once_each_without_timeouts() {
    let app = spawn_app_without_webhook_worker().await;
    let (owner, client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let mut receiver = SmallReceiver::start(5, Duration::from_millis(20)).await;
    // A connection the listen queue drops is tried again after a second,
    // then three: past this timeout.
    let created = app
        .create_endpoint_with(&client, &receiver.url, &[("timeout_seconds", "2")])
        .await;
    let worker = Worker::start(app.deliverer());
    let ids = app.queue_events(org, 200).await;

    let mut counts: HashMap<String, usize> = HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while ids.iter().any(|id| !counts.contains_key(id)) {
        let id = tokio::time::timeout_at(deadline, receiver.ids.recv())
            .await
            .unwrap_or_else(|_| panic!("{} of 200 received", counts.len()))
            .unwrap();
        *counts.entry(id).or_default() += 1;
    }
    app.wait_until_delivered(created.id, Duration::from_secs(60))
        .await;
    // Stopped: what it sent is recorded, and nothing more is sent.
    worker.stop().await;
    while let Ok(id) = receiver.ids.try_recv() {
        *counts.entry(id).or_default() += 1;
    }

    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "received more than once: {twice:?}");
    assert_eq!(counts.len(), 200);
    let attempts: Vec<(i32, String, Option<String>)> = sqlx::query_as(
        "select attempt, outcome::text, error from webhook_attempts where endpoint_id = $1",
    )
    .bind(created.id)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(attempts.len(), 200);
    let not_first_time: Vec<_> = attempts
        .iter()
        .filter(|(attempt, outcome, error)| {
            *attempt != 1 || outcome != "succeeded" || error.is_some()
        })
        .collect();
    assert!(not_first_time.is_empty(), "{not_first_time:?}");
}

#[tokio::test]
async fn a_claim_takes_no_more_for_an_endpoint_than_its_cap_less_what_is_in_flight() {
    let app = spawn_app_without_webhook_worker().await;
    let (owner, client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let narrow = app
        .create_endpoint_with(
            &client,
            "http://127.0.0.1:9/narrow",
            &[("max_in_flight", "3")],
        )
        .await;
    let wide = app
        .create_endpoint_with(&client, "http://127.0.0.1:9/wide", &[])
        .await;
    app.queue_events(org, 10).await;
    let deliverer = app.deliverer();
    let now = Utc::now();
    let per_endpoint = |claimed: &[app::backend::webhooks::worker::Claimed]| {
        let of = |id: EndpointId| claimed.iter().filter(|c| c.endpoint_id == id).count();
        (of(narrow.id), of(wide.id))
    };

    let first = deliverer.claim(now, 100, &[]).await.unwrap();
    assert_eq!(per_endpoint(&first), (3, 4), "each endpoint's own cap");
    // Those are leased now; this worker has 3 and 1 of them going.
    let second = deliverer
        .claim(now, 100, &[(narrow.id, 3), (wide.id, 1)])
        .await
        .unwrap();
    assert_eq!(
        per_endpoint(&second),
        (0, 3),
        "the narrow one is full; the wide one is not held back"
    );
    let third = deliverer.claim(now, 100, &[(narrow.id, 1)]).await.unwrap();
    assert_eq!(per_endpoint(&third), (2, 3), "what is left of the wide one");
    // Every claimed attempt is on the log before it is sent.
    let sending: i64 =
        sqlx::query_scalar("select count(*) from webhook_attempts where outcome = 'sending'")
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(sending, 15);
}

#[tokio::test]
async fn requests_at_once_are_set_and_checked_through_the_rest_api() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let created = api
        .post(
            "/api/v1/webhooks",
            json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    assert_eq!(created.status().as_u16(), 201);
    let created: EndpointWithSecret = body_of(created).await;
    assert_eq!(created.endpoint.max_in_flight, 4, "the default");
    let location = format!("/api/v1/webhooks/{}", created.endpoint.id);

    let patched = api
        .request(reqwest::Method::PATCH, &location)
        .json(&json!({"max_in_flight": 16}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status().as_u16(), 200);
    let patched: EndpointOut = body_of(patched).await;
    assert_eq!(patched.max_in_flight, 16);
    for refused in [0, 33] {
        let response = api
            .request(reqwest::Method::PATCH, &location)
            .json(&json!({"max_in_flight": refused}))
            .send()
            .await
            .unwrap();
        let (status, body) = api_error(response).await;
        assert_eq!(
            (status, body.field()),
            (422, Some("max_in_flight")),
            "{refused}: {body:?}"
        );
    }
    assert_eq!(
        body_of::<EndpointOut>(api.get(&location).await)
            .await
            .max_in_flight,
        16
    );

    // The OpenAPI document is not one of the app's types: read as JSON.
    let doc: Value = api.get("/api/v1/openapi.json").await.json().await.unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["EndpointIn"]["properties"]["max_in_flight"]["maximum"],
        32
    );
    assert_eq!(
        schemas["EndpointPatch"]["properties"]["max_in_flight"]["minimum"],
        1
    );
    assert!(schemas["EndpointOut"]["required"]
        .as_array()
        .unwrap()
        .contains(&json!("max_in_flight")));
    assert_eq!(
        schemas["AttemptOutcome"]["enum"],
        json!(["sending", "succeeded", "failed", "interrupted"])
    );
}

// ---------------------------------------------------------------------------
// Attempts cut off with their worker
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_attempt_cut_off_with_its_worker_is_logged_as_interrupted() {
    let app = spawn_app_without_webhook_worker().await;
    let (owner, client) = app.signed_up_user().await;
    let mut receiver = Receiver::start().await;
    // The first request is read and held without an answer; later ones get 200.
    receiver.then([Reply::status(200).after(Duration::from_secs(3600))]);
    let created = app
        .create_endpoint_with(&client, &receiver.url, &[("timeout_seconds", "2")])
        .await;
    // A lease of the timeout alone: a dead worker's delivery is taken up
    // again two seconds after its claim.
    let settings = Settings {
        lease_margin: Duration::ZERO,
        poll: Duration::from_millis(100),
        ..Settings::default()
    };
    let first = Worker::start(app.deliverer().with_settings(settings.clone()));
    app.an_event(&client).await;

    let held = receiver.next().await;
    let delivery = app.only_delivery_of(created.id).await;
    let log = app.delivery_log(&client, created.id, delivery.id).await;
    assert_eq!(
        outcomes(&log),
        [(1, AttemptOutcome::Sending)],
        "on the log while on the wire"
    );
    first.abort().await;
    let second = Worker::start(app.deliverer().with_settings(settings));
    let again = receiver.next().await;
    assert_eq!(again.header("webhook-id"), held.header("webhook-id"));
    app.wait_until_delivered(created.id, Duration::from_secs(30))
        .await;
    second.stop().await;
    assert!(receiver.received().is_empty(), "two requests in all");

    let log = app.delivery_log(&client, created.id, delivery.id).await;
    assert_eq!(
        outcomes(&log),
        [
            (2, AttemptOutcome::Succeeded),
            (1, AttemptOutcome::Interrupted)
        ]
    );
    let cut_off = &log.attempts[1];
    assert_eq!(cut_off.error.as_deref(), Some(INTERRUPTED));
    assert!(!cut_off.succeeded);
    assert_eq!(cut_off.status_code, None);
    assert_eq!(log.attempts[0].status_code, Some(200));
    // The same through the REST API and on the delivery's page.
    let token = api_credential(&app, &owner).await;
    let rest: DeliveryDetail = body_of(
        Client::new()
            .get(format!(
                "{}/api/v1/webhooks/{}/deliveries/{}",
                app.address, created.id, delivery.id
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(outcomes(&rest), outcomes(&log));
    let page = client
        .get(format!(
            "{}/webhooks/{}/deliveries/{}",
            app.address, created.id, delivery.id
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Attempt 1: Interrupted"), "{page}");
    assert!(page.contains("Attempt 2: Succeeded"), "{page}");
}

#[tokio::test]
async fn disabling_an_endpoint_ends_an_attempt_whose_worker_died() {
    let app = spawn_app_without_webhook_worker().await;
    let (_, client) = app.signed_up_user().await;
    let created = app
        .create_endpoint_with(&client, "http://127.0.0.1:9/hook", &[])
        .await;
    app.an_event(&client).await;
    let now = Utc::now();
    // Claimed by a worker that never reports back.
    assert_eq!(app.deliverer().claim(now, 10, &[]).await.unwrap().len(), 1);
    // Its lease (timeout 15 s and the margin) runs out.
    sqlx::query("update webhook_deliveries set locked_until = now() - interval '1 second'")
        .execute(&app.db.superuser)
        .await
        .unwrap();

    let response = app
        .call(
            &client,
            "webhooks/enable",
            &[("id", created.id.to_string()), ("enabled", "false".into())],
        )
        .await;
    assert!(response.status().is_success() || response.status().is_redirection());

    let delivery = app.only_delivery_of(created.id).await;
    assert_eq!(delivery.status, "skipped");
    let log = app.delivery_log(&client, created.id, delivery.id).await;
    assert_eq!(outcomes(&log), [(1, AttemptOutcome::Interrupted)]);
}

// ---------------------------------------------------------------------------
// The worker's metrics
// ---------------------------------------------------------------------------

/// The value of the sample `name` (with its labels) in Prometheus text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test]
async fn the_workers_metrics_listener_counts_deliveries_and_times_attempts() {
    let exporter = server::metrics::Exporter::start("127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let app = spawn_app_without_webhook_worker().await;
    let (_, client) = app.signed_up_user().await;
    let mut receiver = Receiver::start().await;
    let created = app.create_endpoint_with(&client, &receiver.url, &[]).await;
    let worker = Worker::start(app.deliverer());
    app.an_event(&client).await;
    receiver.next().await;
    app.wait_until_delivered(created.id, Duration::from_secs(30))
        .await;
    worker.stop().await;

    let url = format!("http://{}/metrics", exporter.local_addr());
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let delivered = sample(&text, r#"webhook_deliveries_total{result="succeeded"}"#);
    assert!(delivered.is_some_and(|n| n >= 1.0), "{text}");
    assert!(
        text.contains("# TYPE webhook_attempt_duration_seconds histogram"),
        "{text}"
    );
    let timed = sample(&text, "webhook_attempt_duration_seconds_count");
    assert!(timed.is_some_and(|n| n >= 1.0), "{text}");
    assert!(
        text.contains(r#"webhook_attempt_duration_seconds_bucket{le="0.005"}"#),
        "{text}"
    );
    exporter.stop().await;
    assert!(reqwest::get(&url).await.is_err(), "stopped listening");
}

#[tokio::test]
async fn server_worker_serves_its_metrics_at_the_address_given() {
    let app = spawn_app_without_webhook_worker().await;
    let (_, client) = app.signed_up_user().await;
    let mut receiver = Receiver::start().await;
    let created = app.create_endpoint_with(&client, &receiver.url, &[]).await;
    let mut worker = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["worker", "--metrics-addr", "127.0.0.1:0"])
        .env("DATABASE_URL", &app.db.url)
        .env_remove("APP_DATABASE_URL")
        .env("CODEBOOK_CONFIG", "/nonexistent/Leptos.toml")
        .env("CODEBOOK_DATA_DIR", &app.data_dir)
        .env("CODEBOOK_MAIL_OUTBOX_DIR", &app.mail_dir)
        .env("CODEBOOK_MIGRATE_ON_START", "false")
        .env("CODEBOOK_MAX_CONNECTIONS", "5")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start `server worker`");
    let stdout = worker.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let said = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the worker says where its metrics are")
        .unwrap()
        .expect("a line");
    let url = said
        .strip_prefix("metrics at ")
        .unwrap_or_else(|| panic!("{said}"))
        .to_owned();

    app.an_event(&client).await;
    receiver.next().await;
    app.wait_until_delivered(created.id, Duration::from_secs(30))
        .await;
    // Counted as the answer is judged, just before it is recorded.
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert_eq!(
        sample(&text, r#"webhook_deliveries_total{result="succeeded"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "webhook_attempt_duration_seconds_count"),
        Some(1.0),
        "{text}"
    );
    // SAFETY: signalling the child this test started, by its own pid.
    unsafe {
        libc::kill(worker.id().unwrap() as i32, libc::SIGTERM);
    }
    let status = tokio::time::timeout(Duration::from_secs(30), worker.wait())
        .await
        .expect("the worker stops")
        .unwrap();
    assert!(status.success(), "{status}");
}
