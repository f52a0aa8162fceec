use app::backend::mode::Mode;
use leptos::prelude::LeptosOptions;
use reqwest::{header, Response};
use server::config::{DatabaseUrls, Settings};
use server::startup::Application;
use sqlx::PgPool;
use std::net::SocketAddr;
use uuid::Uuid;

use app::model::accounts::CurrentUser;
use app::model::codes::RowError;
use app::model::{AppError, ErrorCode, OrgId, UserId};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// A superuser connection to the test cluster: `DATABASE_URL`, which the
/// test script sets (this machine's server, or the embedded one).
pub fn cluster_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL must point at a PostgreSQL server where the tests may create databases; \
         `make test` sets it",
    )
}

fn with_database(url: &str, database: &str) -> String {
    let mut url = url::Url::parse(url).expect("valid DATABASE_URL");
    url.set_path(&format!("/{database}"));
    url.to_string()
}

/// A fresh database for one test, dropped by the test script afterwards
/// (`cb_test_*`), so a failing test leaves its data to look at.
pub struct TestDb {
    /// The owner's (superuser's) URL of this database.
    pub url: String,
    /// Superuser access, for what the application may not do (tampering).
    pub superuser: PgPool,
}

impl TestDb {
    pub async fn create() -> Self {
        let name = format!("cb_test_{}", Uuid::new_v4().simple());
        let admin = PgPool::connect(&cluster_url())
            .await
            .expect("connect to DATABASE_URL");
        sqlx::query(&format!("create database {name}"))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let url = with_database(&cluster_url(), &name);
        let superuser = PgPool::connect(&url)
            .await
            .expect("connect to test database");
        Self { url, superuser }
    }

    /// The URL of this database as another role.
    pub fn url_as(&self, role: &str) -> String {
        let mut url = url::Url::parse(&self.url).unwrap();
        url.set_username(role).unwrap();
        url.set_password(None).unwrap();
        url.to_string()
    }
}

pub struct TestApp {
    pub address: String,
    /// Where this test's mail goes (the outbox; no SMTP in tests).
    pub mail_dir: std::path::PathBuf,
    /// The server's data folder (its development webhook key).
    pub data_dir: std::path::PathBuf,
    pub db: TestDb,
    /// The application's own pool: the restricted role.
    pub app_pool: PgPool,
    /// The delivery workers' role.
    pub worker_pool: PgPool,
    /// Where the app sends mail, for running its jobs from the test.
    pub mailer: app::backend::mail::Mailer,
    /// The app's webhook key and guard, for delivering from the test.
    pub webhooks: app::backend::webhooks::Webhooks,
    /// The imports the app runs at once, for a test to take.
    pub import_slots: app::backend::codes::import_slots::ImportSlots,
}

pub fn test_settings(mode: Mode) -> Settings {
    Settings {
        mode,
        max_connections: 10,
        ..Settings::default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_in(Mode::Development).await
}

pub async fn spawn_app_in(mode: Mode) -> TestApp {
    spawn_app_with(|s| s.mode = mode).await
}

/// An app whose settings `adjust` changes first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings(Mode::Development);
    adjust(&mut settings);
    let mode = settings.mode;
    if mode == Mode::Production {
        // Each test runs in its own process (nextest), so this is local to it.
        std::env::set_var("JWT_SECRET", "a test secret that is long enough for HS256");
        production_defaults(&mut settings);
    }
    let db = TestDb::create().await;
    let urls = DatabaseUrls {
        owner: Some(db.url.clone()),
        app: None,
        worker: None,
    };
    let mail_dir = std::env::temp_dir().join(format!("codebook-mail-{}", Uuid::new_v4().simple()));
    settings.mail_outbox_dir = mail_dir.clone();
    // The development webhook key is made here, not in the source tree.
    let data_dir = std::env::temp_dir().join(format!("codebook-data-{}", Uuid::new_v4().simple()));
    settings.data_dir = data_dir.clone();
    let mailer = settings.mailer().expect("valid mail settings");
    let webhooks = settings.webhooks().expect("valid webhook settings");
    let options = LeptosOptions::builder()
        .output_name("codebook")
        .site_root("target/site")
        .site_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .build();
    let application = Application::build(&settings, &urls, options)
        .await
        .expect("the application builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let app_pool = application.app_pool();
    let worker_pool = application
        .worker_pool()
        .await
        .expect("the workers' role connects");
    let import_slots = application.import_slots();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        mail_dir,
        data_dir,
        db,
        app_pool,
        worker_pool,
        mailer,
        webhooks,
        import_slots,
    }
}

/// An app that delivers no webhooks by itself: the test drives deliveries
/// with its own clock (`TestApp::deliver_webhooks_at`).
pub async fn spawn_app_without_webhook_worker() -> TestApp {
    spawn_app_with(|s| s.webhook_worker = false).await
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub struct NewUser {
    pub name: String,
    pub email: String,
    pub password: String,
    pub organization: String,
}

impl NewUser {
    pub fn random() -> Self {
        let id = &Uuid::new_v4().simple().to_string()[..8];
        Self {
            name: format!("Ada {id}"),
            email: format!("ada-{id}@example.com"),
            password: "correct horse battery staple".into(),
            organization: format!("Acme {id}"),
        }
    }

    pub fn form(&self) -> Vec<(&'static str, String)> {
        vec![
            ("name", self.name.clone()),
            ("email", self.email.clone()),
            ("password", self.password.clone()),
            ("organization", self.organization.clone()),
        ]
    }
}

impl TestApp {
    /// A transaction of the application role that claims to be `user`,
    /// working in `org`, as SQL run with its credentials would.
    pub async fn as_app(
        &self,
        user: Option<UserId>,
        org: Option<OrgId>,
    ) -> sqlx::Transaction<'static, sqlx::Postgres> {
        let mut tx = self.app_pool.begin().await.unwrap();
        sqlx::query(
            "select set_config('app.user_id', $1, true), set_config('app.org_id', $2, true)",
        )
        .bind(user.map(|u| u.to_string()).unwrap_or_default())
        .bind(org.map(|o| o.to_string()).unwrap_or_default())
        .execute(&mut *tx)
        .await
        .unwrap();
        tx
    }

    /// Calls a server function the way a hydrated page does.
    pub async fn call(
        &self,
        client: &reqwest::Client,
        endpoint: &str,
        form: &[(&str, String)],
    ) -> Response {
        client
            .post(format!("{}/api/{endpoint}", self.address))
            .header(header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn sign_up(&self, client: &reqwest::Client, user: &NewUser) -> Response {
        self.call(client, "accounts/sign_up", &user.form()).await
    }

    /// Signs a new random user up with their own client; returns both.
    pub async fn signed_up_user(&self) -> (NewUser, reqwest::Client) {
        let user = NewUser::random();
        let client = new_client();
        let response = self.sign_up(&client, &user).await;
        assert!(
            response.status().is_success(),
            "sign-up failed: {}",
            response.text().await.unwrap()
        );
        (user, client)
    }

    pub async fn log_in(&self, client: &reqwest::Client, email: &str, password: &str) -> Response {
        self.call(
            client,
            "accounts/log_in",
            &[("email", email.into()), ("password", password.into())],
        )
        .await
    }

    /// Who the client is signed in as, if anyone.
    pub async fn current_user(&self, client: &reqwest::Client) -> Option<CurrentUser> {
        body_of(self.call(client, "accounts/current_user", &[]).await).await
    }

    pub async fn org_id_of(&self, email: &str) -> OrgId {
        sqlx::query_scalar(
            "select m.organization_id from memberships m join users u on u.id = m.user_id
             where u.email = $1 order by m.created_at limit 1",
        )
        .bind(email)
        .fetch_one(&self.db.superuser)
        .await
        .unwrap()
    }

    /// Opens a page of the app as `client` (the answer as it came).
    pub async fn page(&self, client: &reqwest::Client, path: &str) -> Response {
        client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&self.db.superuser)
            .await
            .unwrap()
    }

    /// Runs the server binary's command line against this test's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .args(args)
            .env("DATABASE_URL", &self.db.url)
            .env_remove("APP_DATABASE_URL")
            .env("CODEBOOK_CONFIG", "/nonexistent/Leptos.toml")
            .output()
            .expect("run the server binary")
    }
}

/// A successful answer's JSON body as `T`, or the test fails with the
/// status and the body.
pub async fn body_of<T: DeserializeOwned>(response: Response) -> T {
    let status = response.status();
    let text = response.text().await.expect("a body");
    assert!(
        status.is_success(),
        "expected success, got {status}: {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A refused server function's error, as the browser's app reads it.
pub async fn app_error(response: Response) -> AppError {
    let status = response.status();
    let text = response.text().await.expect("a body");
    assert!(
        !status.is_success(),
        "expected an error, got {status}: {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A page of any list the REST API answers: `{items, next_cursor}` (lists
/// that are never paged have no cursor).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// A REST error as it goes over the wire, `{"error": {code, message,
/// details}}`, read independently of the server's own types so that a
/// change to the format fails the tests.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestErrorBody {
    pub error: RestError,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestError {
    pub code: ErrorCode,
    pub message: String,
    /// Always present, null when there is nothing more to say.
    pub details: Option<RestErrorDetails>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestErrorDetails {
    pub field: Option<String>,
    pub rows: Option<Vec<RowError>>,
    pub codes: Option<Vec<app::model::codes::ChangedSince>>,
}

impl RestError {
    pub fn field(&self) -> Option<&str> {
        self.details.as_ref()?.field.as_deref()
    }
}

impl TestApp {
    /// Test set-up (invitations come later): puts a fresh user into
    /// `org_id` with `role` and makes it their current organization.
    pub async fn member_of(&self, org_id: OrgId, role: &str) -> (NewUser, reqwest::Client, UserId) {
        let (user, client) = self.signed_up_user().await;
        let user_id: UserId = sqlx::query_scalar("select id from users where email = $1")
            .bind(&user.email)
            .fetch_one(&self.db.superuser)
            .await
            .unwrap();
        sqlx::query("insert into memberships (organization_id, user_id, role) values ($1, $2, $3::member_role)")
            .bind(org_id)
            .bind(user_id)
            .bind(role)
            .execute(&self.db.superuser)
            .await
            .unwrap();
        let response = self
            .call(
                &client,
                "orgs/switch",
                &[("organization_id", org_id.to_string())],
            )
            .await;
        assert!(
            response.status().is_success(),
            "switch failed: {}",
            response.text().await.unwrap()
        );
        (user, client, user_id)
    }

    pub async fn user_id_of(&self, email: &str) -> UserId {
        sqlx::query_scalar("select id from users where email = $1")
            .bind(email)
            .fetch_one(&self.db.superuser)
            .await
            .unwrap()
    }

    pub async fn role_in(&self, org_id: OrgId, user_id: UserId) -> Option<String> {
        sqlx::query_scalar(
            "select role::text from memberships where organization_id = $1 and user_id = $2",
        )
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(&self.db.superuser)
        .await
        .unwrap()
    }

    pub async fn change_role(
        &self,
        client: &reqwest::Client,
        user_id: UserId,
        role: &str,
    ) -> Response {
        self.call(
            client,
            "members/change_role",
            &[("user_id", user_id.to_string()), ("role", role.into())],
        )
        .await
    }

    pub async fn remove_member(&self, client: &reqwest::Client, user_id: UserId) -> Response {
        self.call(
            client,
            "members/remove",
            &[("user_id", user_id.to_string())],
        )
        .await
    }
}

impl TestApp {
    /// The newest mail to `to`, as raw text (soft line breaks undone).
    pub fn last_mail_to(&self, to: &str) -> Option<String> {
        let mut files: Vec<_> = std::fs::read_dir(&self.mail_dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        files.into_iter().rev().find_map(|path| {
            let text = std::fs::read_to_string(path)
                .ok()?
                .replace("=\r\n", "")
                .replace("=3D", "=");
            text.contains(&format!("To: {to}")).then_some(text)
        })
    }

    /// The invitation token in the newest mail to `to` (sent first).
    pub async fn invitation_token_for(&self, to: &str) -> String {
        let mail = self.mail_to(to).await.expect("an invitation mail");
        let start = mail.find("/invite/").expect("a link in the mail") + "/invite/".len();
        mail[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    pub async fn invite(&self, client: &reqwest::Client, email: &str, role: &str) -> Response {
        self.call(
            client,
            "invitations/create",
            &[("email", email.into()), ("role", role.into())],
        )
        .await
    }

    pub async fn accept_as_new(
        &self,
        client: &reqwest::Client,
        token: &str,
        name: &str,
    ) -> Response {
        self.call(
            client,
            "invitations/accept",
            &[
                ("token", token.into()),
                ("name", name.into()),
                ("password", "another good password".into()),
            ],
        )
        .await
    }
}

impl TestApp {
    /// Runs the background jobs due now: mail goes out.
    pub async fn deliver_mail(&self) {
        self.run_jobs_at(chrono::Utc::now()).await;
    }

    /// Sends what is queued, then the newest mail to `to`.
    pub async fn mail_to(&self, to: &str) -> Option<String> {
        self.deliver_mail().await;
        self.last_mail_to(to)
    }

    /// Runs every job due at `now` (a test clock), until none is left: the
    /// server's own worker may hold some, so this waits for it to say it
    /// finished one (`jobs_done`) before looking again; no sleeping.
    /// A delivery worker of this app's database, as `serve` runs one.
    pub fn deliverer(&self) -> app::backend::webhooks::worker::Deliverer {
        app::backend::webhooks::worker::Deliverer::new(
            self.worker_pool.clone(),
            self.webhooks.clone(),
        )
    }

    /// Sends every webhook delivery due at `now` once, and records the
    /// attempts; returns how many were sent.
    pub async fn deliver_webhooks_at(&self, now: chrono::DateTime<chrono::Utc>) -> usize {
        self.deliverer()
            .deliver_due(now)
            .await
            .expect("deliveries run")
    }

    pub async fn run_jobs_at(&self, now: chrono::DateTime<chrono::Utc>) {
        use app::backend::jobs::{runner::Runner, DONE_CHANNEL};
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.db.superuser)
            .await
            .unwrap();
        listener.listen(DONE_CHANNEL).await.unwrap();
        let runner = Runner::new(self.app_pool.clone(), self.mailer.clone(), &self.address);
        loop {
            runner.run_due(now).await.expect("jobs run");
            let pending: i64 = sqlx::query_scalar(
                "select count(*) from jobs
                 where done_at is null and failed_at is null and run_at <= $1",
            )
            .bind(now)
            .fetch_one(&self.db.superuser)
            .await
            .unwrap();
            if pending == 0 {
                return;
            }
            tokio::time::timeout(std::time::Duration::from_secs(30), listener.recv())
                .await
                .expect("the server's worker finishes the job it holds")
                .unwrap();
        }
    }
}

/// What production refuses to start without, for a test instance: a public
/// URL, and an SMTP server (nothing listens there; tests that need mail run
/// in development, with the outbox).
pub fn production_defaults(settings: &mut Settings) {
    // Each test runs in its own process (nextest), so this is local to it.
    std::env::set_var(
        "CODEBOOK_WEBHOOK_KEY",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    );
    if settings.public_url.is_empty() {
        settings.public_url = "https://codebook.test".into();
    }
    if settings.smtp_url.is_empty() {
        settings.smtp_url = "smtp://127.0.0.1:1".into();
    }
}

/// Leptos settings of a test server listening on `addr`.
pub fn leptos_options_at(addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("codebook")
        .site_root("target/site")
        .site_addr(addr)
        .build()
}
