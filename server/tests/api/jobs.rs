//! Background jobs: written with the request, run after it, retried with
//! backoff, each run once however many workers there are.
use app::backend::jobs::{self, runner::Runner, DONE_CHANNEL};
use chrono::{Duration, Utc};
use futures::future::join_all;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

fn fresh_email() -> String {
    format!(
        "job-{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

async fn job_state(app: &TestApp) -> (i32, Option<String>, bool, bool) {
    sqlx::query_as(
        "select attempts, last_error, done_at is not null, failed_at is not null from jobs",
    )
    .fetch_one(&app.db.superuser)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_unsendable_mail_is_retried_with_growing_pauses_then_given_up() {
    // An SMTP server that is not there: a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(|s| s.smtp_url = format!("smtp://127.0.0.1:{closed}")).await;
    let (_, owner) = app.signed_up_user().await;
    assert!(app
        .invite(&owner, "far-away@example.com", "member")
        .await
        .status()
        .is_success());
    let start = Utc::now();

    app.run_jobs_at(start).await;
    let (attempts, error, done, failed) = job_state(&app).await;
    assert_eq!((attempts, done, failed), (1, false, false));
    assert!(error.is_some());

    // Not due again before the pause is over, then due.
    app.run_jobs_at(start + Duration::seconds(20)).await;
    assert_eq!(job_state(&app).await.0, 1);
    app.run_jobs_at(start + Duration::seconds(31)).await;
    assert_eq!(job_state(&app).await.0, 2);

    let mut clock = start + Duration::seconds(31);
    for _ in 0..4 {
        clock += Duration::hours(1);
        app.run_jobs_at(clock).await;
    }
    let (attempts, error, done, failed) = job_state(&app).await;
    assert_eq!((attempts, done, failed), (6, false, true), "given up");
    assert!(error.is_some_and(|e| !e.is_empty()));
    let text: Option<serde_json::Value> =
        sqlx::query_scalar("select payload -> 'mail' -> 'text' from jobs")
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(text, None, "the link is not kept");
    let mail_error: Option<String> = sqlx::query_scalar("select mail_error from invitations")
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    assert!(mail_error.is_some(), "admins see it");
}

#[tokio::test]
async fn a_request_that_fails_leaves_no_job_and_one_that_succeeds_leaves_one() {
    let app = spawn_app().await;
    let (owner, client) = app.signed_up_user().await;

    let response = app.invite(&client, &owner.email, "member").await;
    assert_eq!(response.status().as_u16(), 409, "already a member");
    assert_eq!(app.count("jobs").await, 0);

    assert!(app
        .invite(&client, &fresh_email(), "member")
        .await
        .status()
        .is_success());
    assert_eq!(app.count("jobs").await, 1);
}

#[tokio::test]
async fn parallel_workers_send_each_mail_exactly_once() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let org: uuid::Uuid = sqlx::query_scalar("select id from organizations")
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    sqlx::query("update organizations set max_members = 100 where id = $1")
        .bind(org)
        .execute(&app.db.superuser)
        .await
        .unwrap();
    for _ in 0..20 {
        assert!(app
            .invite(&client, &fresh_email(), "member")
            .await
            .status()
            .is_success());
    }

    // Four workers here, and the server's own.
    let now = Utc::now();
    let workers = (0..4).map(|_| {
        let runner = Runner::new(app.app_pool.clone(), app.mailer.clone(), &app.address);
        async move { runner.run_due(now).await.unwrap() }
    });
    join_all(workers).await;
    app.run_jobs_at(now).await;

    let sent = std::fs::read_dir(&app.mail_dir).unwrap().count();
    assert_eq!(sent, 20);
    let attempts: i64 =
        sqlx::query_scalar("select sum(attempts) from jobs where done_at is not null")
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(attempts, 20);
}

#[tokio::test]
async fn the_server_sends_mail_by_itself_moments_after_the_request() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let mut done = sqlx::postgres::PgListener::connect_with(&app.db.superuser)
        .await
        .unwrap();
    done.listen(DONE_CHANNEL).await.unwrap();
    let email = fresh_email();

    assert!(app
        .invite(&client, &email, "member")
        .await
        .status()
        .is_success());

    // Nobody runs jobs from this test: the server's worker, woken by the
    // job's notification, sends it.
    tokio::time::timeout(std::time::Duration::from_secs(10), done.recv())
        .await
        .expect("the server's worker sent the mail")
        .unwrap();
    assert!(app.last_mail_to(&email).is_some());
}

#[tokio::test]
async fn a_job_enqueued_in_a_rolled_back_transaction_never_runs() {
    let app = spawn_app().await;
    let mut tx = app.app_pool.begin().await.unwrap();
    let job = jobs::Job::PasswordReset(jobs::PasswordResetJob {
        email: "nobody@example.com".into(),
        meta: Default::default(),
    });
    jobs::enqueue(&mut tx, &job).await.unwrap();
    drop(tx);

    assert_eq!(app.count("jobs").await, 0);
}

#[tokio::test]
async fn the_worker_command_runs_jobs_alone_and_stops_on_sigterm() {
    use app::backend::mail::Mail;
    use app::backend::mode::Mode;
    use server::config::DatabaseUrls;
    use server::startup::Database;

    let db = crate::helpers::TestDb::create().await;
    let urls = DatabaseUrls {
        owner: Some(db.url.clone()),
        app: None,
        worker: None,
    };
    let database = Database::open(
        &crate::helpers::test_settings(Mode::Development),
        &urls,
        true,
    )
    .await
    .unwrap();
    let mut done = sqlx::postgres::PgListener::connect_with(&db.superuser)
        .await
        .unwrap();
    done.listen(DONE_CHANNEL).await.unwrap();
    let mut tx = database.app_pool.begin().await.unwrap();
    let job = jobs::Job::Mail(jobs::MailJob {
        mail: Mail {
            to: "someone@example.com".into(),
            subject: "Hello".into(),
            text: "From the worker.".into(),
        },
        invitation: None,
    });
    jobs::enqueue(&mut tx, &job).await.unwrap();
    tx.commit().await.unwrap();
    let mail_dir =
        std::env::temp_dir().join(format!("codebook-worker-{}", uuid::Uuid::new_v4().simple()));

    let mut worker = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("worker")
        .env("DATABASE_URL", &db.url)
        .env_remove("APP_DATABASE_URL")
        .env("CODEBOOK_CONFIG", "/nonexistent/Leptos.toml")
        .env("CODEBOOK_MAIL_OUTBOX_DIR", &mail_dir)
        .spawn()
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), done.recv())
        .await
        .expect("the worker ran the job")
        .unwrap();
    // SAFETY: signalling the child this test started, by its own pid.
    unsafe {
        libc::kill(worker.id().unwrap() as i32, libc::SIGTERM);
    }
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), worker.wait())
        .await
        .expect("the worker stops")
        .unwrap();

    assert!(status.success(), "{status}");
    assert_eq!(std::fs::read_dir(&mail_dir).unwrap().count(), 1);
}
