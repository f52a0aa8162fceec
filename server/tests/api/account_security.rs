//! A signed-in user's own security: changing the password, listing and
//! revoking sessions, each committed with its audit entries or not at all.
use app::model::accounts::SessionOut;
use app::model::SessionId;

use crate::helpers::{app_error, body_of, new_client, spawn_app};

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
    assert_eq!(
        app_error(wrong).await.field.as_deref(),
        Some("current_password")
    );
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
    assert_eq!(
        app_error(short).await.field.as_deref(),
        Some("new_password")
    );
    assert!(
        app.current_user(&other).await.is_some(),
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
        app.current_user(&client).await.is_some(),
        "the current session stays"
    );
    assert!(
        app.current_user(&other).await.is_none(),
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

    let sessions: Vec<SessionOut> =
        body_of(app.call(&client, "accounts/sessions", &[]).await).await;
    assert_eq!(sessions.len(), 2);
    assert!(sessions[0].current);
    assert_eq!(sessions[0].ip.as_deref(), Some("127.0.0.1"));
    let laptop_id = sessions[1].id.to_string();

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
    assert!(app.current_user(&laptop).await.is_some());

    assert!(app
        .call(&client, "accounts/revoke_session", &[("id", laptop_id)])
        .await
        .status()
        .is_success());
    assert!(app.current_user(&laptop).await.is_none());

    app.log_in(&laptop, &user.email, &user.password).await;
    let revoked: u64 = body_of(
        app.call(&client, "accounts/revoke_other_sessions", &[])
            .await,
    )
    .await;
    assert_eq!(revoked, 1);
    assert!(app.current_user(&laptop).await.is_none());
    assert!(app.current_user(&client).await.is_some());
}

/// Makes the database refuse audit entries of `action` in `org`, standing
/// in for a crash between a change and its audit entry.
pub(crate) async fn break_audit(
    app: &crate::helpers::TestApp,
    org: app::model::OrgId,
    action: &str,
) {
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

pub(crate) async fn mend_audit(app: &crate::helpers::TestApp) {
    sqlx::query("drop trigger cb_break_audit on audit_log")
        .execute(&app.db.superuser)
        .await
        .unwrap();
}

pub(crate) async fn audited(app: &crate::helpers::TestApp, action: &str) -> Vec<app::model::OrgId> {
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
    app::model::OrgId,
    reqwest::Client,
) {
    let (user, client) = app.signed_up_user().await;
    let response = app
        .call(&client, "orgs/create", &[("name", "Second Org".into())])
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    let second: app::model::OrgId = sqlx::query_scalar(
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

pub(crate) fn change_password_form(current: &str, new: &str) -> [(&'static str, String); 2] {
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
        app.current_user(&other).await.is_some(),
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
    assert!(app.current_user(&other).await.is_some());
    mend_audit(&app).await;

    break_audit(&app, second, "user.session_revoked").await;
    let other_id: SessionId = sqlx::query_scalar(
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
    assert!(app.current_user(&other).await.is_some());
    assert!(audited(&app, "user.session_revoked").await.is_empty());
}
