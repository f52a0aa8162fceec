//! Worker processes: at least once across a SIGKILL, exactly once without
//! crashes, and fair across organizations.
use app::model::OrgId;
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use uuid::Uuid;

use super::receiver::{Receiver, Reply};
use crate::helpers::{spawn_app, spawn_app_without_webhook_worker, TestApp};

impl TestApp {
    /// Queues `n` `code.created` events of the organization at once, the
    /// way a bulk import does (one statement; the fan-out trigger queues
    /// their deliveries and wakes the workers). Returns their webhook ids.
    pub async fn queue_events(&self, org: OrgId, n: i32) -> Vec<String> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "insert into outbox (organization_id, id, event_type, payload)
             select $1, gen_random_uuid(), 'code.created',
                    jsonb_build_object('type', 'code.created', 'timestamp', now(),
                                       'data', jsonb_build_object('n', g))
             from generate_series(1, $2) g
             returning id",
        )
        .bind(org)
        .bind(n)
        .fetch_all(&self.db.superuser)
        .await
        .unwrap();
        ids.iter()
            .map(|id| format!("msg_{}", id.simple()))
            .collect()
    }

    /// `server worker` on this app's database and key, as a process.
    fn worker_process(&self) -> Child {
        Command::new(env!("CARGO_BIN_EXE_server"))
            .arg("worker")
            .env("DATABASE_URL", &self.db.url)
            .env_remove("APP_DATABASE_URL")
            .env("CODEBOOK_CONFIG", "/nonexistent/Leptos.toml")
            .env("CODEBOOK_DATA_DIR", &self.data_dir)
            .env("CODEBOOK_MAIL_OUTBOX_DIR", &self.mail_dir)
            .env("CODEBOOK_MIGRATE_ON_START", "false")
            .env("CODEBOOK_MAX_CONNECTIONS", "5")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start `server worker`")
    }

    /// Waits, watching the database, until no delivery is left to make.
    async fn wait_until_all_delivered(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = self.undelivered().await;
            if left == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{left} deliveries still not made"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn undelivered(&self) -> i64 {
        sqlx::query_scalar("select count(*) from webhook_deliveries where status <> 'succeeded'")
            .fetch_one(&self.db.superuser)
            .await
            .unwrap()
    }
}

/// Counts the webhook ids received until every one of `ids` has come, or
/// fails after `limit`.
async fn receive_all(
    receiver: &mut Receiver,
    ids: &[String],
    counts: &mut HashMap<String, usize>,
    limit: Duration,
) {
    let deadline = tokio::time::Instant::now() + limit;
    while ids.iter().any(|id| !counts.contains_key(id)) {
        let missing = ids.iter().filter(|id| !counts.contains_key(*id)).count();
        let hit = tokio::time::timeout_at(deadline, receiver.next())
            .await
            .unwrap_or_else(|_| panic!("{missing} events never arrived"));
        *counts
            .entry(hit.header("webhook-id").to_owned())
            .or_default() += 1;
    }
}

fn terminate(child: &mut Child) {
    // SIGTERM: the worker finishes and records what is under way.
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exited = child.wait().unwrap();
    assert!(exited.success(), "the worker stops cleanly: {exited}");
}

#[tokio::test]
async fn every_event_arrives_although_the_worker_is_killed_mid_flight() {
    let app = spawn_app_without_webhook_worker().await;
    let (owner, client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let mut receiver = Receiver::start().await;
    // Slow enough that many requests are on the wire when the kill comes.
    receiver.otherwise(Reply::status(200).after(Duration::from_millis(20)));
    let created = app
        .create_endpoint(&client, &receiver.url, &["code.created"])
        .await;
    // A short timeout: the killed worker's leases run out sooner.
    sqlx::query("update webhook_endpoints set timeout_seconds = 1 where id = $1")
        .bind(created.id)
        .execute(&app.db.superuser)
        .await
        .unwrap();
    let ids = app.queue_events(org, 2000).await;

    let mut first = app.worker_process();
    let mut counts = HashMap::new();
    while counts.len() < 300 {
        let hit = receiver.next().await;
        *counts
            .entry(hit.header("webhook-id").to_owned())
            .or_default() += 1;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    assert!(app.undelivered().await > 0, "killed with work left");

    let mut second = app.worker_process();
    receive_all(&mut receiver, &ids, &mut counts, Duration::from_secs(120)).await;
    // What the killed worker sent but never recorded is sent again once
    // its lease runs out (1 s timeout + 10 s margin).
    app.wait_until_all_delivered(Duration::from_secs(60)).await;
    terminate(&mut second);
    assert!(ids.iter().all(|id| counts[id] >= 1));
}

#[tokio::test]
async fn two_workers_side_by_side_deliver_each_event_exactly_once() {
    let app = spawn_app_without_webhook_worker().await;
    let (owner, client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let mut receiver = Receiver::start().await;
    app.create_endpoint(&client, &receiver.url, &["code.created"])
        .await;
    let mut workers = [app.worker_process(), app.worker_process()];
    let ids = app.queue_events(org, 2000).await;

    let mut counts = HashMap::new();
    receive_all(&mut receiver, &ids, &mut counts, Duration::from_secs(120)).await;
    for worker in &mut workers {
        terminate(worker);
    }
    // Stopped: whatever they sent has been recorded, and nothing more comes.
    assert_eq!(app.undelivered().await, 0);
    for hit in receiver.received() {
        *counts
            .entry(hit.header("webhook-id").to_owned())
            .or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(counts.len(), 2000);
}

#[tokio::test]
async fn one_organizations_backlog_does_not_delay_another_organizations_event() {
    // The server's own worker.
    let app = spawn_app().await;
    let (busy, busy_client) = app.signed_up_user().await;
    let (_, quiet_client) = app.signed_up_user().await;
    let slow = Receiver::start().await;
    slow.otherwise(Reply::status(200).after(Duration::from_secs(5)));
    let mut quick = Receiver::start().await;
    app.create_endpoint(&busy_client, &slow.url, &["code.created"])
        .await;
    app.create_endpoint(&quiet_client, &quick.url, &["code.created"])
        .await;
    let busy_org = app.org_id_of(&busy.email).await;
    app.queue_events(busy_org, 10_000).await;

    let started = tokio::time::Instant::now();
    let code = app.an_event(&quiet_client).await;
    let hit = tokio::time::timeout(Duration::from_secs(1), quick.next())
        .await
        .expect("the other organization's event within 1 s of its commit");
    assert_eq!(
        hit.json()["data"]["code"]["code"],
        code.content.code.as_str()
    );
    eprintln!(
        "delivered in {:?} behind a 10,000-delivery backlog",
        started.elapsed()
    );
}
