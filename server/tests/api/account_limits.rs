//! What stops guessing: accounts locked after failed log-ins, and the
//! rate limits per address and per email on log-in, sign-up and resets.
use app::backend::mode::Mode;
use app::model::ErrorCode;

use crate::account_security::change_password_form;
use crate::helpers::{app_error, new_client, spawn_app, spawn_app_in, NewUser};
use crate::password_resets::reset_with;

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_even_against_the_right_one() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let client = new_client();
    for _ in 0..4 {
        assert_eq!(
            app.log_in(&client, &user.email, "wrong password!")
                .await
                .status()
                .as_u16(),
            401
        );
    }
    let fifth = app.log_in(&client, &user.email, "wrong password!").await;
    assert_eq!(fifth.status().as_u16(), 423);

    let right = app.log_in(&client, &user.email, &user.password).await;

    assert_eq!(right.status().as_u16(), 423);
    let error = app_error(right).await;
    assert_eq!(error.code, ErrorCode::AccountLocked);
    assert!(error.message.contains("locked for 15 minutes"), "{error:?}");
    assert!(app.current_user(&client).await.is_none());

    // Fifteen minutes later (moved by the test, not waited for) it opens.
    sqlx::query("update login_throttles set locked_until = now() - interval '1 second'")
        .execute(&app.db.superuser)
        .await
        .unwrap();
    assert!(app
        .log_in(&client, &user.email, &user.password)
        .await
        .status()
        .is_success());
}

#[tokio::test]
async fn twenty_parallel_wrong_passwords_check_at_most_five() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;

    let attempts = (0..20).map(|_| {
        let (app, email) = (&app, user.email.clone());
        async move {
            app.log_in(&new_client(), &email, "wrong password!")
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(attempts).await;

    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(checked <= 4, "{statuses:?}");
    assert_eq!(
        checked + statuses.iter().filter(|s| **s == 423).count(),
        20,
        "{statuses:?}"
    );
    let failures: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'user.login' and outcome = 'failure'",
    )
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(failures, 5, "exactly five passwords were checked");
    let right = app.log_in(&new_client(), &user.email, &user.password).await;
    assert_eq!(right.status().as_u16(), 423);
}

#[tokio::test]
async fn an_address_that_keeps_failing_is_rate_limited() {
    let app = spawn_app().await;
    let client = new_client();
    for i in 0..50 {
        let response = app
            .log_in(
                &client,
                &format!("nobody{i}@example.com"),
                "some password here",
            )
            .await;
        assert_eq!(response.status().as_u16(), 401, "attempt {i}");
    }

    let response = app
        .log_in(&client, "nobody@example.com", "some password here")
        .await;

    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(app_error(response).await.code, ErrorCode::RateLimited);
}

#[tokio::test]
async fn a_successful_log_in_resets_the_accounts_failures() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    for _ in 0..4 {
        app.log_in(&client, &user.email, "wrong password!").await;
    }
    assert!(app
        .log_in(&client, &user.email, &user.password)
        .await
        .status()
        .is_success());
    for _ in 0..4 {
        assert_eq!(
            app.log_in(&client, &user.email, "wrong password!")
                .await
                .status()
                .as_u16(),
            401
        );
    }
}

#[tokio::test]
async fn five_wrong_current_passwords_lock_the_account_like_log_in() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    for attempt in 1..=4 {
        let form = change_password_form("not it at all", "a brand new password");
        let response = app.call(&client, "accounts/change_password", &form).await;
        assert_eq!(response.status().as_u16(), 422, "attempt {attempt}");
    }
    let form = change_password_form("not it at all", "a brand new password");
    let fifth = app.call(&client, "accounts/change_password", &form).await;
    assert_eq!(fifth.status().as_u16(), 423);

    let form = change_password_form(&user.password, "a brand new password");
    let right = app.call(&client, "accounts/change_password", &form).await;
    assert_eq!(
        right.status().as_u16(),
        423,
        "locked even for the right one"
    );
    assert_eq!(
        app.log_in(&new_client(), &user.email, &user.password)
            .await
            .status()
            .as_u16(),
        423,
        "and log-in is locked too"
    );
}

#[tokio::test]
async fn sign_ups_from_one_address_are_rate_limited() {
    let app = spawn_app_in(Mode::Production).await;
    for i in 0..10 {
        let response = app.sign_up(&new_client(), &NewUser::random()).await;
        assert!(response.status().is_success(), "sign-up {i}");
    }
    let response = app.sign_up(&new_client(), &NewUser::random()).await;
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(app_error(response).await.code, ErrorCode::RateLimited);
}

async fn forgot(app: &crate::helpers::TestApp, email: &str) -> reqwest::Response {
    app.call(
        &new_client(),
        "accounts/forgot_password",
        &[("email", email.into())],
    )
    .await
}

#[tokio::test]
async fn reset_requests_for_one_email_are_rate_limited_alike_for_unknown_ones() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    for email in [user.email.as_str(), "nobody@example.com"] {
        for i in 0..5 {
            assert!(
                forgot(&app, email).await.status().is_success(),
                "{email} {i}"
            );
        }
        let response = forgot(&app, email).await;
        assert_eq!(response.status().as_u16(), 429, "{email}");
        assert_eq!(app_error(response).await.code, ErrorCode::RateLimited);
    }
    app.deliver_mail().await;
    assert_eq!(
        app.count("password_resets").await,
        5,
        "only the allowed requests made links"
    );
}

#[tokio::test]
async fn reset_requests_and_resets_from_one_network_are_rate_limited() {
    let app = spawn_app_in(Mode::Production).await;
    for i in 0..20 {
        let response = forgot(&app, &format!("someone-{i}@example.com")).await;
        assert!(response.status().is_success(), "request {i}");
    }
    assert_eq!(
        forgot(&app, "one-more@example.com").await.status().as_u16(),
        429
    );

    for i in 0..20 {
        assert_eq!(
            reset_with(&app, "made-up-token", "a brand new password").await,
            404,
            "reset {i}"
        );
    }
    assert_eq!(
        reset_with(&app, "made-up-token", "a brand new password").await,
        429
    );
}
