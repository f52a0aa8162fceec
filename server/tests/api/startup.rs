use server::config::DatabaseUrls;
use server::startup::Database;
use uuid::Uuid;

use crate::helpers::{test_settings, TestDb};
use app::backend::state::Mode;

#[tokio::test]
async fn the_server_refuses_to_run_as_a_superuser() {
    let db = TestDb::create().await;
    let urls = DatabaseUrls {
        owner: Some(db.url.clone()),
        app: Some(db.url.clone()),
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
