use server::config::{DatabaseUrls, Settings};
use server::embedded_pg::EmbeddedPostgres;
use server::startup::{Application, Database};
use std::net::SocketAddr;
use uuid::Uuid;

use crate::helpers::{leptos_options_at, test_settings, TestDb};
use app::backend::mode::Mode;

#[tokio::test]
async fn the_server_refuses_to_run_as_a_superuser() {
    let db = TestDb::create().await;
    let urls = DatabaseUrls {
        owner: Some(db.url.clone()),
        app: Some(db.url.clone()),
        worker: None,
    };

    let error = Database::open(&test_settings(Mode::Development), &urls, true)
        .await
        .err()
        .unwrap();

    assert!(error.to_string().contains("is a superuser"), "{error}");
}

#[tokio::test]
async fn the_server_refuses_a_role_with_bypassrls() {
    let db = TestDb::create().await;
    let role = format!(
        "cb_test_bypass_{}",
        &Uuid::new_v4().simple().to_string()[..8]
    );
    sqlx::query(&format!("create role {role} login bypassrls"))
        .execute(&db.superuser)
        .await
        .unwrap();
    let urls = DatabaseUrls {
        owner: Some(db.url.clone()),
        app: Some(db.url_as(&role)),
        worker: None,
    };

    let error = Database::open(&test_settings(Mode::Development), &urls, true)
        .await
        .err()
        .unwrap();

    assert!(error.to_string().contains("BYPASSRLS"), "{error}");
}

#[tokio::test]
async fn the_server_binary_exits_with_a_clear_message_for_a_superuser_connection() {
    let db = TestDb::create().await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("APP_DATABASE_URL", &db.url)
        .env(
            "CODEBOOK_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../Leptos.toml"),
        )
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("Refusing to start") && stderr.contains("superuser"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_application_role_is_restricted() {
    let db = TestDb::create().await;
    let urls = DatabaseUrls {
        owner: Some(db.url.clone()),
        app: None,
        worker: None,
    };
    let database = Database::open(&test_settings(Mode::Development), &urls, true)
        .await
        .unwrap();
    let (name, is_super, bypass): (String, bool, bool) = sqlx::query_as(
        "select rolname::text, rolsuper, rolbypassrls from pg_roles where rolname = current_user",
    )
    .fetch_one(&database.app_pool)
    .await
    .unwrap();
    assert_eq!(
        (name.as_str(), is_super, bypass),
        ("codebook_app", false, false)
    );
}

/// Production settings that pass every start-up check, so that each test
/// below can break exactly one.
fn production_settings() -> Settings {
    let mut settings = test_settings(Mode::Production);
    crate::helpers::production_defaults(&mut settings);
    settings
}

fn some_database() -> DatabaseUrls {
    // Never connected to: the checks refuse before any connection.
    DatabaseUrls {
        owner: Some("postgres://postgres@127.0.0.1:1/never".into()),
        app: None,
        worker: None,
    }
}

async fn build_error(settings: &Settings, urls: &DatabaseUrls, addr: SocketAddr) -> String {
    std::env::set_var("JWT_SECRET", "a test secret that is long enough for HS256");
    match Application::build(settings, urls, leptos_options_at(addr)).await {
        Ok(_) => panic!("the application started"),
        Err(e) => format!("{e:#}"),
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[tokio::test]
async fn production_refuses_to_start_without_a_database_url() {
    let settings = production_settings();
    let error = build_error(&settings, &DatabaseUrls::default(), loopback()).await;
    assert!(
        error.contains("Refusing to start") && error.contains("DATABASE_URL"),
        "{error}"
    );
    // Nor does any other command start the embedded cluster in production.
    let error = Database::open(&settings, &DatabaseUrls::default(), true)
        .await
        .err()
        .unwrap();
    assert!(error.to_string().contains("DATABASE_URL"), "{error}");
}

#[tokio::test]
async fn production_refuses_to_start_without_a_mail_server() {
    let settings = Settings {
        smtp_url: String::new(),
        ..production_settings()
    };
    let error = build_error(&settings, &some_database(), loopback()).await;
    assert!(error.contains("smtp-url"), "{error}");
}

#[tokio::test]
async fn production_refuses_to_start_without_an_https_public_url() {
    for public_url in ["", "  ", "http://codebook.example.com"] {
        let settings = Settings {
            public_url: public_url.into(),
            ..production_settings()
        };
        let error = build_error(&settings, &some_database(), loopback()).await;
        assert!(error.contains("public-url"), "{public_url:?}: {error}");
    }
}

#[tokio::test]
async fn production_refuses_to_start_without_a_jwt_secret() {
    let settings = production_settings();
    std::env::remove_var("JWT_SECRET");
    let error = match Application::build(&settings, &some_database(), leptos_options_at(loopback()))
        .await
    {
        Ok(_) => panic!("the application started"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("JWT_SECRET"), "{error}");
}

#[tokio::test]
async fn production_refuses_an_email_list_of_platform_admins_and_points_at_admin_grant() {
    let settings = Settings {
        platform_admins: "ops@example.com".into(),
        ..production_settings()
    };
    let error = build_error(&settings, &some_database(), loopback()).await;
    assert!(
        error.contains("platform-admins") && error.contains("server admin grant <email>"),
        "{error}"
    );
}

#[tokio::test]
async fn development_refuses_a_non_loopback_address_unless_allowed() {
    let settings = test_settings(Mode::Development);
    let anywhere = SocketAddr::from(([0, 0, 0, 0], 0));
    let error = build_error(&settings, &some_database(), anywhere).await;
    assert!(
        error.contains("loopback") && error.contains("allow-remote"),
        "{error}"
    );

    // Told explicitly, it starts.
    let allowed = Settings {
        allow_remote: true,
        ..settings
    };
    let db = TestDb::create().await;
    let urls = DatabaseUrls {
        owner: Some(db.url.clone()),
        app: None,
        worker: None,
    };
    Application::build(&allowed, &urls, leptos_options_at(anywhere))
        .await
        .expect("allow-remote lets development listen anywhere");
}

#[tokio::test]
async fn a_malformed_trusted_proxies_setting_refuses_to_start() {
    let settings = Settings {
        trusted_proxies: "10.0.0.0/8, the-load-balancer".into(),
        ..test_settings(Mode::Development)
    };
    let error = build_error(&settings, &some_database(), loopback()).await;
    assert!(
        error.contains("trusted-proxies") && error.contains("the-load-balancer"),
        "{error}"
    );
}

#[tokio::test]
async fn the_embedded_cluster_syncs_to_disk_unless_it_is_a_test_cluster() {
    let dir = std::env::temp_dir().join(format!("codebook-fsync-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    // As root the cluster runs as `postgres`, which must reach the folder.
    std::process::Command::new("chmod")
        .arg("755")
        .arg(&dir)
        .status()
        .unwrap();
    for (fsync, expected) in [(true, "on"), (false, "off")] {
        let data_dir = dir.clone();
        let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&data_dir, fsync))
            .await
            .unwrap()
            .expect("the embedded cluster starts");
        let pool = sqlx::PgPool::connect(&pg.url("postgres")).await.unwrap();
        let setting: String = sqlx::query_scalar("show fsync")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
        assert_eq!(setting, expected);
    }
    assert!(
        Settings::default().embedded_fsync,
        "fsync is on unless a test cluster turns it off"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Connections in steady use are handed out unchecked (a round trip per
/// transaction saved); one that sat idle past the trusted time is checked
/// first, so a connection PostgreSQL closed meanwhile (a restart, an idle
/// cut by a proxy) is replaced before anyone uses it. One handed out dead
/// fails its request with "try again" (503).
#[tokio::test]
async fn a_connection_closed_while_idle_is_replaced_before_use() {
    let db = TestDb::create().await;
    for (trusted_idle, replaced) in [
        (std::time::Duration::ZERO, true),
        (std::time::Duration::from_secs(3600), false),
    ] {
        let pool = app::backend::db::connect_trusting_idle(&db.url, 1, trusted_idle)
            .await
            .unwrap();
        let pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .unwrap();
        // sqlx checks a connection as it comes back to the pool, in a task
        // of its own: the connection must die idle, after that check.
        while pool.num_idle() < 1 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        // Waits (up to 5 s) until the backend is gone.
        let terminated: bool = sqlx::query_scalar("select pg_terminate_backend($1, 5000)")
            .bind(pid)
            .fetch_one(&db.superuser)
            .await
            .unwrap();
        assert!(terminated);

        let answer = sqlx::query_scalar::<_, i32>("select 1")
            .fetch_one(&pool)
            .await;
        assert_eq!(
            answer.is_ok(),
            replaced,
            "trusted idle {trusted_idle:?}: {answer:?}"
        );
        if let Err(error) = answer {
            // The caller is told to try again (503), not that the server
            // broke (500).
            let error = app::backend::Error::from(error);
            assert!(
                matches!(error, app::backend::Error::Unavailable),
                "{error:?}"
            );
            assert_eq!(error.into_app_error(None).code.http_status(), 503);
        }
        pool.close().await;
    }
}

/// `Plans::Generic` holds for its transaction only: the connection goes
/// back to the pool planning as PostgreSQL chooses.
#[tokio::test]
async fn generic_plans_last_as_long_as_their_transaction() {
    use app::backend::{Actor, OrgTx, Plans, RequestMeta};

    let db = TestDb::create().await;
    // One connection, so the second transaction runs where the first did.
    let pool = app::backend::db::connect(&db.url, 1).await.unwrap();
    let mode = async |tx: &mut OrgTx| -> String {
        sqlx::query_scalar("select current_setting('plan_cache_mode')")
            .fetch_one(tx.conn())
            .await
            .unwrap()
    };
    let org = app::model::OrgId::new_v4();
    let meta = RequestMeta::default();
    let mut generic = OrgTx::begin_planned(&pool, org, Actor::System, meta.clone(), Plans::Generic)
        .await
        .unwrap();
    assert_eq!(mode(&mut generic).await, "force_generic_plan");
    generic.commit().await.unwrap();

    let mut chosen = OrgTx::begin(&pool, org, Actor::System, meta).await.unwrap();
    assert_eq!(mode(&mut chosen).await, "auto");
    chosen.commit().await.unwrap();
}
