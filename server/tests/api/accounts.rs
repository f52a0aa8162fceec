use app::backend::state::Mode;
use reqwest::header;

use crate::helpers::{error_of, new_client, spawn_app, spawn_app_in, NewUser};

#[tokio::test]
async fn sign_up_creates_the_user_their_organization_and_a_session() {
    let app = spawn_app().await;
    let user = NewUser::random();
    let client = new_client();

    let response = app.sign_up(&client, &user).await;

    assert!(response.status().is_success());
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("codebook_session="));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "development cookies work over plain HTTP"
    );
    let me = app.current_user(&client).await;
    assert_eq!(me["email"], user.email.as_str());
    assert_eq!(me["organization"]["name"], user.organization.as_str());
    assert_eq!(me["organization"]["role"], "owner");
}

#[tokio::test]
async fn cookies_are_secure_in_production() {
    let app = spawn_app_in(Mode::Production).await;
    let response = app.sign_up(&new_client(), &NewUser::random()).await;
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn passwords_and_session_tokens_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let user = NewUser::random();
    let client = new_client();
    let response = app.sign_up(&client, &user).await;
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();

    let hash: String = sqlx::query_scalar("select password_hash from users where email = $1")
        .bind(&user.email)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    let dump: String = sqlx::query_scalar("select string_agg(s::text, ' ') from sessions s")
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    assert!(!dump.contains(&token), "the raw session token is stored");
}

#[tokio::test]
async fn invalid_sign_ups_are_refused_next_to_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let (existing, _) = app.signed_up_user().await;
    let cases = [
        (
            "email",
            NewUser {
                email: "".into(),
                ..NewUser::random()
            },
            "Enter your email address.",
        ),
        (
            "email",
            NewUser {
                email: "not-an-email".into(),
                ..NewUser::random()
            },
            "Enter a valid email address",
        ),
        (
            "password",
            NewUser {
                password: "short".into(),
                ..NewUser::random()
            },
            "at least 10 characters",
        ),
        (
            "name",
            NewUser {
                name: "   ".into(),
                ..NewUser::random()
            },
            "required",
        ),
        (
            "organization",
            NewUser {
                organization: "".into(),
                ..NewUser::random()
            },
            "required",
        ),
        (
            "email",
            NewUser {
                email: existing.email.to_uppercase(),
                ..NewUser::random()
            },
            "already exists",
        ),
    ];
    let before = (
        app.count("users").await,
        app.count("organizations").await,
        app.count("audit_log").await,
    );

    for (field, user, message) in cases {
        let response = app.sign_up(&new_client(), &user).await;
        let status = response.status().as_u16();
        let error = error_of(response).await;
        assert_eq!(error["field"], field, "{error}");
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "{error}"
        );
        let expected_code = if message == "already exists" {
            "conflict"
        } else {
            "validation"
        };
        assert_eq!(error["code"], expected_code);
        assert_eq!(
            status,
            if expected_code == "conflict" {
                409
            } else {
                422
            }
        );
    }

    let after = (
        app.count("users").await,
        app.count("organizations").await,
        app.count("audit_log").await,
    );
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_user_logs_out_and_back_in() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;

    let response = app.call(&client, "accounts/log_out", &[]).await;
    assert!(response.status().is_success());
    assert!(response
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert!(app.current_user(&client).await.is_null());

    let response = app.log_in(&client, &user.email, &user.password).await;
    assert!(response.status().is_success());
    assert_eq!(
        app.current_user(&client).await["email"],
        user.email.as_str()
    );
}

#[tokio::test]
async fn a_revoked_session_cookie_no_longer_works() {
    let app = spawn_app().await;
    let user = NewUser::random();
    let response = app.sign_up(&new_client(), &user).await;
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let replay = |c: &reqwest::Client| {
        c.post(format!("{}/api/accounts/current_user", app.address))
            .header(header::COOKIE, pair.clone())
            .header(header::ACCEPT, "application/json")
            .send()
    };
    let thief = reqwest::Client::new();
    assert_eq!(
        replay(&thief)
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()["email"],
        user.email.as_str()
    );

    let owner = new_client();
    owner
        .post(format!("{}/api/accounts/log_out", app.address))
        .header(header::COOKIE, pair.clone())
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .unwrap();

    assert!(replay(&thief)
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()
        .is_null());
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_audited_as_a_failure() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let client = new_client();

    let response = app.log_in(&client, &user.email, "wrong password!").await;

    assert_eq!(response.status().as_u16(), 401);
    let error = error_of(response).await;
    assert_eq!(error["code"], "unauthenticated");
    assert_eq!(error["message"], "Email or password is incorrect.");
    assert!(app.current_user(&client).await.is_null());
    let failures: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'user.login' and outcome = 'failure' and organization_id = $1",
    )
    .bind(app.org_id_of(&user.email).await)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(failures, 1);
}

#[tokio::test]
async fn an_unknown_email_gets_the_same_answer_as_a_wrong_password() {
    let app = spawn_app().await;
    let response = app
        .log_in(&new_client(), "nobody@example.com", "some password here")
        .await;
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        error_of(response).await["message"],
        "Email or password is incorrect."
    );
}

#[tokio::test]
async fn sign_up_and_log_in_are_audited() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    app.log_in(&client, &user.email, &user.password).await;

    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_log where organization_id = $1 and outcome = 'success' order by seq",
    )
    .bind(app.org_id_of(&user.email).await)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(
        actions,
        ["user.signed_up", "organization.created", "user.login"]
    );
    let events: i64 =
        sqlx::query_scalar("select count(*) from outbox where event_type = 'audit.logged'")
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(events, 3, "each audit entry fires audit.logged");
}

#[tokio::test]
async fn the_first_user_of_a_development_instance_is_platform_admin_and_no_one_after() {
    let app = spawn_app().await;
    let (_, first) = app.signed_up_user().await;
    let (_, second) = app.signed_up_user().await;
    assert_eq!(app.current_user(&first).await["is_platform_admin"], true);
    assert_eq!(app.current_user(&second).await["is_platform_admin"], false);
}

#[tokio::test]
async fn no_one_becomes_platform_admin_by_signing_up_in_production() {
    let app = spawn_app_in(Mode::Production).await;
    let (user, client) = app.signed_up_user().await;
    assert_eq!(app.current_user(&client).await["is_platform_admin"], false);

    let output = app.cli(&["admin", "grant", &user.email]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(app.current_user(&client).await["is_platform_admin"], true);

    let output = app.cli(&["admin", "grant", "nobody@example.com"]);
    assert!(!output.status.success());
}

#[tokio::test]
async fn the_dashboard_needs_a_session_and_shows_the_members() {
    let app = spawn_app().await;
    let response = app.call(&new_client(), "orgs/dashboard", &[]).await;
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(error_of(response).await["code"], "unauthenticated");

    let (user, client) = app.signed_up_user().await;
    let dashboard: serde_json::Value = app
        .call(&client, "orgs/dashboard", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        dashboard["organization"]["name"],
        user.organization.as_str()
    );
    assert_eq!(dashboard["members"][0]["email"], user.email.as_str());
    assert_eq!(dashboard["members"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_form_post_without_javascript_redirects_with_its_error() {
    let app = spawn_app().await;
    let response = new_client()
        .post(format!("{}/api/accounts/log_in", app.address))
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, format!("{}/login", app.address))
        .form(&[("email", "nobody@example.com"), ("password", "whatever123")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 302);
    let location = response
        .headers()
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        location.contains("/login?") && location.contains("__err="),
        "{location}"
    );
}

#[tokio::test]
async fn organization_slugs_stay_unique() {
    let app = spawn_app().await;
    for _ in 0..3 {
        let user = NewUser {
            organization: "Same Name".into(),
            ..NewUser::random()
        };
        assert!(app
            .sign_up(&new_client(), &user)
            .await
            .status()
            .is_success());
    }
    let slugs: Vec<String> =
        sqlx::query_scalar("select slug from organizations order by created_at")
            .fetch_all(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(slugs[0], "same-name");
    assert_eq!(
        slugs.iter().collect::<std::collections::HashSet<_>>().len(),
        3
    );
    assert!(slugs.iter().all(|s| s.starts_with("same-name")));
}

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
    let error = error_of(right).await;
    assert_eq!(error["code"], "account_locked");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("locked for 15 minutes"),
        "{error}"
    );
    assert!(app.current_user(&client).await.is_null());

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
    assert_eq!(error_of(response).await["code"], "rate_limited");
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

async fn request_reset(app: &crate::helpers::TestApp, email: &str) -> String {
    let response = app
        .call(
            &new_client(),
            "accounts/forgot_password",
            &[("email", email.into())],
        )
        .await;
    assert!(response.status().is_success());
    let mail = app.last_mail_to(email).expect("a reset mail");
    let start = mail.find("/reset-password/").expect("a reset link") + "/reset-password/".len();
    mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

async fn reset_with(app: &crate::helpers::TestApp, token: &str, password: &str) -> u16 {
    let form = [
        ("token", token.to_owned()),
        ("password", password.to_owned()),
    ];
    app.call(&new_client(), "accounts/reset_password", &form)
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_password_reset_link_works_once_and_logs_out_every_session() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    let token = request_reset(&app, &user.email).await;

    assert_eq!(reset_with(&app, &token, "a brand new password").await, 200);

    assert!(
        app.current_user(&client).await.is_null(),
        "the old session was revoked"
    );
    assert_eq!(
        app.log_in(&new_client(), &user.email, &user.password)
            .await
            .status()
            .as_u16(),
        401
    );
    assert!(app
        .log_in(&new_client(), &user.email, "a brand new password")
        .await
        .status()
        .is_success());
    assert_eq!(reset_with(&app, &token, "yet another password").await, 404);
    assert!(app
        .log_in(&new_client(), &user.email, "a brand new password")
        .await
        .status()
        .is_success());
}

#[tokio::test]
async fn a_reset_link_expires_after_an_hour_and_only_the_newest_works() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let first = request_reset(&app, &user.email).await;
    let second = request_reset(&app, &user.email).await;
    assert_eq!(
        reset_with(&app, &first, "a brand new password").await,
        404,
        "replaced by the newer link"
    );

    sqlx::query("update password_resets set expires_at = now() - interval '1 second'")
        .execute(&app.db.superuser)
        .await
        .unwrap();
    assert_eq!(
        reset_with(&app, &second, "a brand new password").await,
        404,
        "expired"
    );
    assert!(app
        .log_in(&new_client(), &user.email, &user.password)
        .await
        .status()
        .is_success());
}

#[tokio::test]
async fn asking_for_a_reset_answers_the_same_for_unknown_addresses() {
    let app = spawn_app().await;
    let response = app
        .call(
            &new_client(),
            "accounts/forgot_password",
            &[("email", "nobody@example.com".into())],
        )
        .await;
    assert!(response.status().is_success());
    assert!(app.last_mail_to("nobody@example.com").is_none());
    assert_eq!(app.count("password_resets").await, 0);
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_logs_out_other_sessions() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    let other = new_client();
    app.log_in(&other, &user.email, &user.password).await;

    let wrong = app
        .call(
            &client,
            "accounts/change_password",
            &[
                ("current_password", "not it at all".into()),
                ("new_password", "a brand new password".into()),
            ],
        )
        .await;
    assert_eq!(error_of(wrong).await["field"], "current_password");
    let short = app
        .call(
            &client,
            "accounts/change_password",
            &[
                ("current_password", user.password.clone()),
                ("new_password", "short".into()),
            ],
        )
        .await;
    assert_eq!(error_of(short).await["field"], "new_password");
    assert!(
        !app.current_user(&other).await.is_null(),
        "nothing changed yet"
    );

    let response = app
        .call(
            &client,
            "accounts/change_password",
            &[
                ("current_password", user.password.clone()),
                ("new_password", "a brand new password".into()),
            ],
        )
        .await;
    assert!(response.status().is_success());
    assert!(
        !app.current_user(&client).await.is_null(),
        "this session stays"
    );
    assert!(
        app.current_user(&other).await.is_null(),
        "the other session is logged out"
    );
}

#[tokio::test]
async fn a_user_lists_and_revokes_their_own_sessions_only() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    let laptop = new_client();
    app.log_in(&laptop, &user.email, &user.password).await;
    let (_, stranger) = app.signed_up_user().await;

    let sessions: serde_json::Value = app
        .call(&client, "accounts/sessions", &[])
        .await
        .json()
        .await
        .unwrap();
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sessions[0]["ip"], "127.0.0.1");
    let laptop_id = sessions[1]["id"].as_str().unwrap().to_owned();

    let response = app
        .call(
            &stranger,
            "accounts/revoke_session",
            &[("id", laptop_id.clone())],
        )
        .await;
    assert_eq!(
        response.status().as_u16(),
        404,
        "another user's session is not found"
    );
    assert!(!app.current_user(&laptop).await.is_null());

    assert!(app
        .call(&client, "accounts/revoke_session", &[("id", laptop_id)])
        .await
        .status()
        .is_success());
    assert!(app.current_user(&laptop).await.is_null());

    app.log_in(&laptop, &user.email, &user.password).await;
    let revoked: u64 = app
        .call(&client, "accounts/revoke_other_sessions", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    assert!(app.current_user(&laptop).await.is_null());
    assert!(!app.current_user(&client).await.is_null());
}
