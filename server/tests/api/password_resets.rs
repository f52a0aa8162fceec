//! Forgotten passwords: reset links, single use and short-lived, made
//! with their audit entries, answering alike for unknown addresses.

use crate::account_security::{audited, break_audit, mend_audit};
use crate::helpers::{new_client, spawn_app};

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

pub(crate) async fn reset_with(app: &crate::helpers::TestApp, token: &str, password: &str) -> u16 {
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
        app.current_user(&client).await.is_none(),
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
