use crate::helpers::{app_error, body_of, spawn_app};
use app::model::orgs::{Dashboard, MyOrganization};
use app::model::Role;

#[tokio::test]
async fn a_user_creates_another_organization_which_becomes_current() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;

    let response = app
        .call(&client, "orgs/create", &[("name", "Second Clinic".into())])
        .await;

    assert!(response.status().is_success());
    let me = app.current_user(&client).await.expect("signed in");
    assert_eq!(me.organization.as_ref().unwrap().name, "Second Clinic");
    assert_eq!(me.organization.as_ref().unwrap().role, Role::Owner);
    let mine: Vec<MyOrganization> = body_of(app.call(&client, "orgs/mine", &[]).await).await;
    assert_eq!(mine.len(), 2);
}

#[tokio::test]
async fn admins_rename_and_reslug_and_others_cannot() {
    let app = spawn_app().await;
    let (owner, owner_client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let (_, member, _) = app.member_of(org, "manager").await;
    let (other, _) = app.signed_up_user().await;
    let taken: String = sqlx::query_scalar("select slug from organizations where id = $1")
        .bind(app.org_id_of(&other.email).await)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();

    let forbidden = app
        .call(
            &member,
            "orgs/update",
            &[("name", "Hijacked".into()), ("slug", "hijacked".into())],
        )
        .await;
    assert_eq!(forbidden.status().as_u16(), 403);
    let bad = app
        .call(
            &owner_client,
            "orgs/update",
            &[("name", "Fine".into()), ("slug", "Not a slug!".into())],
        )
        .await;
    assert_eq!(app_error(bad).await.field.as_deref(), Some("slug"));
    let clash = app
        .call(
            &owner_client,
            "orgs/update",
            &[("name", "Fine".into()), ("slug", taken)],
        )
        .await;
    assert_eq!(clash.status().as_u16(), 409);
    assert_eq!(app_error(clash).await.field.as_deref(), Some("slug"));

    let ok = app
        .call(
            &owner_client,
            "orgs/update",
            &[
                ("name", "Renamed Health".into()),
                ("slug", "renamed-health".into()),
            ],
        )
        .await;
    assert!(ok.status().is_success());
    let row: (String, String) =
        sqlx::query_as("select name, slug from organizations where id = $1")
            .bind(org)
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(row, ("Renamed Health".into(), "renamed-health".into()));
}

#[tokio::test]
async fn only_an_owner_deletes_an_organization_after_typing_its_slug() {
    let app = spawn_app().await;
    let (owner, owner_client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let (_, admin, _) = app.member_of(org, "admin").await;
    app.invite(&owner_client, "pending@example.com", "member")
        .await;
    let slug: String = sqlx::query_scalar("select slug from organizations where id = $1")
        .bind(org)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();

    assert_eq!(
        app.call(&admin, "orgs/delete", &[("confirmation", slug.clone())])
            .await
            .status()
            .as_u16(),
        403
    );
    let wrong = app
        .call(
            &owner_client,
            "orgs/delete",
            &[("confirmation", "nope".into())],
        )
        .await;
    assert_eq!(
        app_error(wrong).await.field.as_deref(),
        Some("confirmation")
    );
    let alive: i64 = sqlx::query_scalar("select count(*) from organizations where id = $1")
        .bind(org)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    assert_eq!(alive, 1);

    let response = app
        .call(&owner_client, "orgs/delete", &[("confirmation", slug)])
        .await;

    assert!(response.status().is_success());
    for table in [
        "organizations where id = $1",
        "memberships where organization_id = $1",
        "invitations where organization_id = $1",
        "audit_log where organization_id = $1",
        "outbox where organization_id = $1",
    ] {
        let left: i64 = sqlx::query_scalar(&format!("select count(*) from {table}"))
            .bind(org)
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
        assert_eq!(left, 0, "{table}");
    }
    // The admin belonged to it and to their own organization: they carry on there.
    assert_ne!(
        app.current_user(&admin)
            .await
            .unwrap()
            .organization
            .unwrap()
            .id,
        org
    );
}

#[tokio::test]
async fn the_dashboard_shows_usage_against_the_plan() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    app.invite(&client, "pending@example.com", "member").await;

    let dashboard: Dashboard = body_of(app.call(&client, "orgs/dashboard", &[]).await).await;

    assert_eq!(dashboard.usage.seats, 2);
    assert_eq!(dashboard.usage.limits.members, Some(5));
    assert_eq!(dashboard.usage.limits.codes, Some(1000));
}
