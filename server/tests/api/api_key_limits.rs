//! API keys under load and abuse: the rate limit (exact under parallel
//! requests and across processes), the plan's key limit, racing rotations,
//! bad and oversized settings, and a flood of refusals.
use app::model::api_keys::{ApiKeyWithSecret, Scope};
use app::model::orgs::Dashboard;
use app::model::ErrorCode;
use reqwest::StatusCode;

use crate::api_keys::*;
use crate::helpers::{app_error, body_of, spawn_app};
use crate::rest::api_error;

#[tokio::test]
async fn the_rate_limit_answers_429_with_its_headers_and_then_recovers() {
    let app = spawn_app().await;
    let (client, org_id, _) = owner_with_key(&app, &["codes:read"]).await;
    let key = app
        .create_api_key_with(
            &client,
            "slow",
            &["codes:read"],
            &[("rate_limit_per_minute", "3")],
        )
        .await;

    for remaining in ["2", "1", "0"] {
        let response = app.get_with_key(&key.secret, "/api/v1/codes").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["ratelimit-limit"], "3");
        assert_eq!(response.headers()["ratelimit-remaining"], remaining);
    }
    for _ in 0..2 {
        let response = app.get_with_key(&key.secret, "/api/v1/codes").await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let headers = response.headers().clone();
        let retry_after: i64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert_eq!(headers["ratelimit-remaining"], "0");
        assert!(headers.contains_key("x-request-id"));
        assert_eq!(api_error(response).await.1.code, ErrorCode::RateLimited);
    }
    // One audit entry per window, however many requests it refused.
    let hits: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where organization_id = $1 and action = 'rate_limit.exceeded'",
    )
    .bind(org_id)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(hits, 1);

    // The minute passes (moved back rather than waited for).
    sqlx::query(
        "update api_keys set window_started = window_started - interval '61 seconds' where id = $1",
    )
    .bind(key.id)
    .execute(&app.db.superuser)
    .await
    .unwrap();
    let response = app.get_with_key(&key.secret, "/api/v1/codes").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["ratelimit-remaining"], "2");
}

#[tokio::test]
async fn parallel_requests_never_pass_the_rate_limit() {
    let app = spawn_app().await;
    let (client, _, _) = owner_with_key(&app, &["codes:read"]).await;
    let key = app
        .create_api_key_with(
            &client,
            "burst",
            &["codes:read"],
            &[("rate_limit_per_minute", "5")],
        )
        .await;

    let requests = (0..20).map(|_| app.get_with_key(&key.secret, "/api/v1/codes"));
    let statuses: Vec<StatusCode> = futures::future::join_all(requests)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();

    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((ok, limited), (5, 15), "{statuses:?}");
}

#[tokio::test]
async fn a_busy_key_is_counted_exactly_and_stops_at_once_when_revoked() {
    let app = spawn_app().await;
    let (client, _, key) = owner_with_key(&app, &["codes:read"]).await;

    // Enough requests, in parallel, that the server leases many at a time.
    for _ in 0..4 {
        let requests = (0..10).map(|_| app.get_with_key(&key.secret, "/api/v1/codes"));
        for response in futures::future::join_all(requests).await {
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
    let response = app.get_with_key(&key.secret, "/api/v1/codes").await;
    // 600 a minute by default; 41 used, whatever the lease held back.
    assert_eq!(response.headers()["ratelimit-remaining"], "559");

    let listed = app.api_keys(&client).await;
    assert_eq!(listed[0].request_count, 41);

    let response = app
        .call(&client, "api_keys/revoke", &[("id", key.id.to_string())])
        .await;
    assert!(response.status().is_success() || response.status().is_redirection());
    let response = app.get_with_key(&key.secret, "/api/v1/codes").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

/// Two server processes serving one key (two gates on one database)
/// together let through no more than the key's limit.
#[tokio::test]
async fn two_processes_never_let_a_key_past_its_limit_together() {
    use app::backend::api_keys::KeyGate;
    use app::backend::RequestMeta;

    let app = spawn_app().await;
    let (client, _, _) = owner_with_key(&app, &["codes:read"]).await;
    let key = app
        .create_api_key_with(
            &client,
            "shared",
            &["codes:read"],
            &[("rate_limit_per_minute", "40")],
        )
        .await;
    let meta = RequestMeta::default();
    let attempts = |gate: KeyGate| {
        let (pool, secret, meta) = (app.app_pool.clone(), key.secret.clone(), meta.clone());
        async move {
            let mut admitted = 0;
            for _ in 0..40 {
                let key = gate.authenticate(&pool, &secret, &meta).await.unwrap();
                if !key.rate_limit.exceeded() {
                    admitted += 1;
                }
            }
            admitted
        }
    };

    let gates = [KeyGate::default(), KeyGate::default()];
    let (first, second) = tokio::join!(attempts(gates[0].clone()), attempts(gates[1].clone()));
    for gate in &gates {
        gate.flush_usage(&app.app_pool).await.unwrap();
    }

    // At most 4 (a tenth of the limit) may be held in a lease when the
    // other gate is refused; never more than the limit pass.
    assert!((36..=40).contains(&(first + second)), "{first} + {second}");
    let (hits, count): (i32, i64) =
        sqlx::query_as("select window_hits, request_count from api_keys where id = $1")
            .bind(key.id)
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert!(hits >= first + second, "{hits}");
    assert_eq!(count, 80);
}

#[tokio::test]
async fn the_plan_limit_on_keys_holds_under_parallel_creation() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    let org_id = app.org_id_of(&user.email).await;
    sqlx::query("update organizations set max_api_keys = 2 where id = $1")
        .bind(org_id)
        .execute(&app.db.superuser)
        .await
        .unwrap();

    let attempts = (0..6).map(|i| {
        let client = client.clone();
        let app = &app;
        async move {
            app.try_create_api_key(&client, &format!("key {i}"), &["codes:read"], &[])
                .await
                .status()
        }
    });
    let statuses = futures::future::join_all(attempts).await;

    let made = statuses.iter().filter(|s| s.is_success()).count();
    assert_eq!(made, 2, "{statuses:?}");
    assert_eq!(app.count("api_keys").await, 2);
    let dashboard: Dashboard = body_of(app.call(&client, "orgs/dashboard", &[]).await).await;
    assert_eq!(dashboard.usage.api_keys, 2);
    assert_eq!(dashboard.usage.limits.api_keys, Some(2));
    // Revoking one makes room for one more.
    let listed = app.api_keys(&client).await;
    let id = listed[0].id.to_string();
    app.call(&client, "api_keys/revoke", &[("id", id)]).await;
    app.create_api_key(&client, "after revoke", &["codes:read"])
        .await;
}

#[tokio::test]
async fn bad_key_settings_are_refused_next_to_their_field() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;

    for (scopes, extra, field) in [
        (vec![], vec![], "scopes"),
        (vec!["codes:root"], vec![], "scopes"),
        (
            vec!["codes:read"],
            vec![("expires_in_days", "0")],
            "expires_in_days",
        ),
        (
            vec!["codes:read"],
            vec![("rate_limit_per_minute", "99999999999")],
            "rate_limit_per_minute",
        ),
    ] {
        let response = app.try_create_api_key(&client, "k", &scopes, &extra).await;
        let error = app_error(response).await;
        assert_eq!(error.field.as_deref(), Some(field), "{error:?}");
    }
    let response = app
        .try_create_api_key(&client, "  ", &["codes:read"], &[])
        .await;
    assert_eq!(app_error(response).await.field.as_deref(), Some("name"));
    assert_eq!(app.count("api_keys").await, 0);
}

#[tokio::test]
async fn rotating_one_key_twice_at_once_makes_one_new_key() {
    let app = spawn_app().await;
    let (client, org_id, key) = owner_with_key(&app, &["codes:read"]).await;

    let form = [("id", key.id.to_string()), ("grace_hours", "1".to_owned())];
    let rotations = (0..4).map(|_| app.call(&client, "api_keys/rotate", &form));
    let statuses: Vec<StatusCode> = futures::future::join_all(rotations)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();

    assert_eq!(
        statuses.iter().filter(|s| s.is_success()).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses
        .iter()
        .all(|s| s.is_success() || *s == StatusCode::CONFLICT));
    let keys: i64 = sqlx::query_scalar("select count(*) from api_keys where organization_id = $1")
        .bind(org_id)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    assert_eq!(keys, 2);
}

#[tokio::test]
async fn oversized_and_malformed_key_input_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let (client, org_id, key) = owner_with_key(&app, &["codes:read"]).await;

    let long_name = "n".repeat(10_000);
    let many_scopes = vec!["codes:read"; 5_000];
    let response = app
        .try_create_api_key(&client, &long_name, &["codes:read"], &[])
        .await;
    assert_eq!(app_error(response).await.field.as_deref(), Some("name"));
    // Repeats of a scope are one scope.
    let response = app
        .try_create_api_key(&client, "many", &many_scopes, &[])
        .await;
    let made: ApiKeyWithSecret = body_of(response).await;
    assert_eq!(made.key.scopes, [Scope::CodesRead]);
    for grace in ["-1", "169", "soon", "1e3"] {
        let response = app
            .call(
                &client,
                "api_keys/rotate",
                &[("id", key.id.to_string()), ("grace_hours", grace.into())],
            )
            .await;
        assert_eq!(
            app_error(response).await.field.as_deref(),
            Some("grace_hours"),
            "{grace}"
        );
    }
    let response = app
        .call(&client, "api_keys/revoke", &[("id", "not-a-uuid".into())])
        .await;
    assert!(response.status().is_client_error());
    let live: i64 = sqlx::query_scalar(
        "select count(*) from api_keys
         where organization_id = $1 and revoked_at is null and replaced_by is null",
    )
    .bind(org_id)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(live, 2);
}

#[tokio::test]
async fn a_flood_of_refusals_is_audited_only_up_to_a_limit_per_minute() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let org_id = app.org_id_of(&user.email).await;
    let (_, viewer, viewer_id) = app.member_of(org_id, "viewer").await;

    for _ in 0..35 {
        let response = app.call(&viewer, "api_keys/list", &[]).await;
        assert_eq!(app_error(response).await.code, ErrorCode::Forbidden);
    }

    let recorded: i64 = sqlx::query_scalar(
        "select count(*) from audit_log
         where organization_id = $1 and action = 'permission.denied' and actor_id = $2",
    )
    .bind(org_id)
    .bind(viewer_id)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(recorded, 30);
}
