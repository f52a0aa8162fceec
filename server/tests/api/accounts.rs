use app::backend::mode::Mode;
use reqwest::header;

use crate::helpers::{error_of, new_client, spawn_app, spawn_app_in, NewUser, TestApp};

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
    let mail = app.mail_to(email).await.expect("a reset mail");
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
    assert!(app.mail_to("nobody@example.com").await.is_none());
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
        "the current session stays"
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

/// Makes the database refuse audit entries of `action` in `org`, standing
/// in for a crash between a change and its audit entry.
async fn break_audit(app: &crate::helpers::TestApp, org: uuid::Uuid, action: &str) {
    // Test-made values, not input.
    sqlx::raw_sql(&format!(
        "create or replace function cb_break_audit() returns trigger language plpgsql as $$
         begin
             if new.organization_id = '{org}' and new.action = '{action}' then
                 raise exception 'the audit log is down';
             end if;
             return new;
         end $$;
         create trigger cb_break_audit before insert on audit_log
             for each row execute function cb_break_audit();"
    ))
    .execute(&app.db.superuser)
    .await
    .unwrap();
}

async fn mend_audit(app: &crate::helpers::TestApp) {
    sqlx::query("drop trigger cb_break_audit on audit_log")
        .execute(&app.db.superuser)
        .await
        .unwrap();
}

async fn audited(app: &crate::helpers::TestApp, action: &str) -> Vec<uuid::Uuid> {
    sqlx::query_scalar(
        "select organization_id from audit_log where action = $1 and outcome = 'success'
         order by organization_id",
    )
    .bind(action)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap()
}

/// A user in two organizations (the second one current), with a second
/// session; returns the second organization's id and that session.
async fn user_in_two_orgs(
    app: &crate::helpers::TestApp,
) -> (
    crate::helpers::NewUser,
    reqwest::Client,
    uuid::Uuid,
    reqwest::Client,
) {
    let (user, client) = app.signed_up_user().await;
    let response = app
        .call(&client, "orgs/create", &[("name", "Second Org".into())])
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    let second: uuid::Uuid = sqlx::query_scalar(
        "select m.organization_id from memberships m join users u on u.id = m.user_id
         where u.email = $1 order by m.created_at desc limit 1",
    )
    .bind(&user.email)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    let other = new_client();
    app.log_in(&other, &user.email, &user.password).await;
    (user, client, second, other)
}

fn change_password_form(current: &str, new: &str) -> [(&'static str, String); 2] {
    [
        ("current_password", current.to_owned()),
        ("new_password", new.to_owned()),
    ]
}

#[tokio::test]
async fn a_password_change_commits_with_its_audit_entries_or_not_at_all() {
    let app = spawn_app().await;
    let (user, client, second, other) = user_in_two_orgs(&app).await;
    break_audit(&app, second, "user.password_changed").await;

    let form = change_password_form(&user.password, "a brand new password");
    let response = app.call(&client, "accounts/change_password", &form).await;

    assert_eq!(response.status().as_u16(), 500);
    assert!(
        app.log_in(&new_client(), &user.email, &user.password)
            .await
            .status()
            .is_success(),
        "the old password still works"
    );
    assert!(
        !app.current_user(&other).await.is_null(),
        "no session was ended"
    );
    assert!(audited(&app, "user.password_changed").await.is_empty());

    mend_audit(&app).await;
    let response = app.call(&client, "accounts/change_password", &form).await;
    assert!(response.status().is_success());
    let mut orgs = vec![app.org_id_of(&user.email).await, second];
    orgs.sort();
    assert_eq!(
        audited(&app, "user.password_changed").await,
        orgs,
        "one entry in each organization"
    );
}

#[tokio::test]
async fn revoking_sessions_commits_with_its_audit_entries_or_not_at_all() {
    let app = spawn_app().await;
    let (user, client, second, other) = user_in_two_orgs(&app).await;
    break_audit(&app, second, "user.sessions_revoked").await;
    let response = app
        .call(&client, "accounts/revoke_other_sessions", &[])
        .await;
    assert_eq!(response.status().as_u16(), 500);
    assert!(!app.current_user(&other).await.is_null());
    mend_audit(&app).await;

    break_audit(&app, second, "user.session_revoked").await;
    let other_id: uuid::Uuid = sqlx::query_scalar(
        "select s.id from sessions s join users u on u.id = s.user_id
         where u.email = $1 order by s.created_at desc limit 1",
    )
    .bind(&user.email)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    let response = app
        .call(
            &client,
            "accounts/revoke_session",
            &[("id", other_id.to_string())],
        )
        .await;
    assert_eq!(response.status().as_u16(), 500);
    assert!(!app.current_user(&other).await.is_null());
    assert!(audited(&app, "user.session_revoked").await.is_empty());
}

#[tokio::test]
async fn a_password_reset_commits_with_its_audit_entries_or_not_at_all() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await;
    let token = request_reset(&app, &user.email).await;
    break_audit(&app, org, "user.password_reset").await;

    assert_eq!(reset_with(&app, &token, "a brand new password").await, 500);
    assert!(app
        .log_in(&new_client(), &user.email, &user.password)
        .await
        .status()
        .is_success());

    mend_audit(&app).await;
    assert_eq!(
        reset_with(&app, &token, "a brand new password").await,
        200,
        "the link was not used up"
    );
    assert_eq!(audited(&app, "user.password_reset").await, [org]);
}

#[tokio::test]
async fn a_reset_link_is_made_with_its_audit_entry_or_not_at_all() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await;
    break_audit(&app, org, "user.password_reset_requested").await;

    let response = app
        .call(
            &new_client(),
            "accounts/forgot_password",
            &[("email", user.email.clone())],
        )
        .await;
    assert!(response.status().is_success());

    assert!(app.mail_to(&user.email).await.is_none(), "no link mailed");
    assert_eq!(app.count("password_resets").await, 0, "no link made");
    let error: Option<String> = sqlx::query_scalar("select last_error from jobs")
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    assert!(error.unwrap().contains("audit log is down"));

    // The job tries again later, and then it works.
    mend_audit(&app).await;
    app.run_jobs_at(chrono::Utc::now() + chrono::Duration::minutes(5))
        .await;
    assert!(app.last_mail_to(&user.email).is_some());
    assert_eq!(audited(&app, "user.password_reset_requested").await, [org]);
}

#[tokio::test]
async fn a_reset_request_does_the_same_work_for_known_and_unknown_addresses() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let mut answers = Vec::new();
    for email in [user.email.as_str(), "nobody@example.com"] {
        let response = app
            .call(
                &new_client(),
                "accounts/forgot_password",
                &[("email", email.into())],
            )
            .await;
        answers.push((response.status().as_u16(), response.text().await.unwrap()));
    }

    assert_eq!(answers[0], answers[1]);
    // Each request queued the same job and nothing else: the lookup, the
    // link and the mail are the job's.
    let jobs: Vec<(String, String)> =
        sqlx::query_as("select kind, payload ->> 'email' from jobs order by created_at")
            .fetch_all(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(
        jobs,
        [
            ("password_reset".to_owned(), user.email.clone()),
            ("password_reset".to_owned(), "nobody@example.com".to_owned())
        ]
    );
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
    assert_eq!(error_of(response).await["code"], "rate_limited");
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
        assert_eq!(error_of(response).await["code"], "rate_limited");
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

async fn delete_account(
    app: &TestApp,
    client: &reqwest::Client,
    password: &str,
) -> reqwest::Response {
    app.call(
        client,
        "accounts/delete_account",
        &[("password", password.to_owned())],
    )
    .await
}

async fn user_exists(app: &TestApp, email: &str) -> bool {
    sqlx::query_scalar("select exists (select 1 from users where email = $1)")
        .bind(email)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_account_is_deleted_after_its_password_unless_it_is_a_last_owner() {
    let app = spawn_app().await;
    let (ada, ada_client) = app.signed_up_user().await;
    let (bob, _) = app.signed_up_user().await;
    let org = app.org_id_of(&ada.email).await;

    // A wrong password: refused by field, nothing deleted.
    let response = delete_account(&app, &ada_client, "not the password at all").await;
    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(error_of(response).await["field"], "password");
    assert!(user_exists(&app, &ada.email).await);

    // The last owner of an organization: refused, naming it.
    let response = delete_account(&app, &ada_client, &ada.password).await;
    assert_eq!(response.status().as_u16(), 409);
    let error = error_of(response).await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains(&ada.organization),
        "{error}"
    );
    assert!(user_exists(&app, &ada.email).await);

    // With a second owner it goes, with its memberships and sessions.
    let bob_id = app.user_id_of(&bob.email).await;
    sqlx::query(
        "insert into memberships (organization_id, user_id, role) values ($1, $2, 'owner')",
    )
    .bind(org)
    .bind(bob_id)
    .execute(&app.db.superuser)
    .await
    .unwrap();
    let ada_id = app.user_id_of(&ada.email).await;
    let response = delete_account(&app, &ada_client, &ada.password).await;
    assert!(
        response.status().is_success() || response.status().is_redirection(),
        "{}",
        response.status()
    );
    assert!(!user_exists(&app, &ada.email).await);
    let left: i64 = sqlx::query_scalar(
        "select (select count(*) from memberships where user_id = $1)
              + (select count(*) from sessions where user_id = $1)",
    )
    .bind(ada_id)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(left, 0);
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where organization_id = $1 and action = 'user.deleted'
           and actor_id = $2",
    )
    .bind(org)
    .bind(ada_id)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    assert!(app.current_user(&ada_client).await.is_null(), "signed out");
    let again = app.log_in(&new_client(), &ada.email, &ada.password).await;
    assert!(!again.status().is_success());
}

#[tokio::test]
async fn two_co_owners_deleting_at_once_leave_one_owner() {
    let app = spawn_app().await;
    let (ada, ada_client) = app.signed_up_user().await;
    let (bob, bob_client) = app.signed_up_user().await;
    let org = app.org_id_of(&ada.email).await;
    // Bob owns Ada's organization too, and his own gets a second owner.
    let (ada_id, bob_id) = (
        app.user_id_of(&ada.email).await,
        app.user_id_of(&bob.email).await,
    );
    let bob_org = app.org_id_of(&bob.email).await;
    for (org_id, user_id) in [(org, bob_id), (bob_org, ada_id)] {
        sqlx::query(
            "insert into memberships (organization_id, user_id, role) values ($1, $2, 'owner')",
        )
        .bind(org_id)
        .bind(user_id)
        .execute(&app.db.superuser)
        .await
        .unwrap();
    }

    let (a, b) = tokio::join!(
        delete_account(&app, &ada_client, &ada.password),
        delete_account(&app, &bob_client, &bob.password)
    );
    let statuses = [a.status().as_u16(), b.status().as_u16()];
    assert!(statuses.contains(&409), "one is refused: {statuses:?}");
    let owners: i64 = sqlx::query_scalar(
        "select count(*) from memberships where organization_id = $1 and role = 'owner'",
    )
    .bind(org)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(owners, 1);
}
