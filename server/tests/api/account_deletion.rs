//! Deleting one's own account, and never an organization's last owner.

use crate::helpers::{app_error, new_client, spawn_app, TestApp};

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
    assert_eq!(app_error(response).await.field.as_deref(), Some("password"));
    assert!(user_exists(&app, &ada.email).await);

    // The last owner of an organization: refused, naming it.
    let response = delete_account(&app, &ada_client, &ada.password).await;
    assert_eq!(response.status().as_u16(), 409);
    let error = app_error(response).await;
    assert!(error.message.contains(&ada.organization), "{error:?}");
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
    assert!(app.current_user(&ada_client).await.is_none(), "signed out");
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
