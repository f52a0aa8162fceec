//! Signing up and logging in and out: the user, their organization and
//! session, cookies, what is audited, and who becomes platform admin.
use app::backend::mode::Mode;
use app::model::accounts::CurrentUser;
use app::model::orgs::Dashboard;
use app::model::{ErrorCode, Role};
use reqwest::header;

use crate::helpers::{app_error, body_of, new_client, spawn_app, spawn_app_in, NewUser};

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
    let me = app.current_user(&client).await.expect("signed in");
    assert_eq!(me.email, user.email);
    assert_eq!(me.organization.as_ref().unwrap().name, user.organization);
    assert_eq!(me.organization.as_ref().unwrap().role, Role::Owner);
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
        let error = app_error(response).await;
        assert_eq!(error.field.as_deref(), Some(field), "{error:?}");
        assert!(error.message.contains(message), "{error:?}");
        let expected_code = if message == "already exists" {
            ErrorCode::Conflict
        } else {
            ErrorCode::Validation
        };
        assert_eq!(error.code, expected_code);
        assert_eq!(
            status,
            if expected_code == ErrorCode::Conflict {
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
    assert!(app.current_user(&client).await.is_none());

    let response = app.log_in(&client, &user.email, &user.password).await;
    assert!(response.status().is_success());
    assert_eq!(
        app.current_user(&client).await.unwrap().email,
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
    let stolen: Option<CurrentUser> = body_of(replay(&thief).await.unwrap()).await;
    assert_eq!(stolen.expect("signed in").email, user.email);

    let owner = new_client();
    owner
        .post(format!("{}/api/accounts/log_out", app.address))
        .header(header::COOKIE, pair.clone())
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .unwrap();

    let stolen: Option<CurrentUser> = body_of(replay(&thief).await.unwrap()).await;
    assert_eq!(stolen, None);
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_audited_as_a_failure() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let client = new_client();

    let response = app.log_in(&client, &user.email, "wrong password!").await;

    assert_eq!(response.status().as_u16(), 401);
    let error = app_error(response).await;
    assert_eq!(error.code, ErrorCode::Unauthenticated);
    assert_eq!(error.message, "Email or password is incorrect.");
    assert!(app.current_user(&client).await.is_none());
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
        app_error(response).await.message,
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
    assert!(app.current_user(&first).await.unwrap().is_platform_admin);
    assert!(!app.current_user(&second).await.unwrap().is_platform_admin);
}

#[tokio::test]
async fn no_one_becomes_platform_admin_by_signing_up_in_production() {
    let app = spawn_app_in(Mode::Production).await;
    let (user, client) = app.signed_up_user().await;
    assert!(!app.current_user(&client).await.unwrap().is_platform_admin);

    let output = app.cli(&["admin", "grant", &user.email]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(app.current_user(&client).await.unwrap().is_platform_admin);

    let output = app.cli(&["admin", "grant", "nobody@example.com"]);
    assert!(!output.status.success());
}

#[tokio::test]
async fn the_dashboard_needs_a_session_and_shows_the_members() {
    let app = spawn_app().await;
    let response = app.call(&new_client(), "orgs/dashboard", &[]).await;
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(app_error(response).await.code, ErrorCode::Unauthenticated);

    let (user, client) = app.signed_up_user().await;
    let dashboard: Dashboard = body_of(app.call(&client, "orgs/dashboard", &[]).await).await;
    assert_eq!(dashboard.organization.name, user.organization);
    assert_eq!(dashboard.members[0].email, user.email);
    assert_eq!(dashboard.members.len(), 1);
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
