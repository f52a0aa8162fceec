use app::model::platform::OrgAdminPage;
use app::model::ErrorCode;

use crate::helpers::{app_error, body_of, spawn_app};

#[tokio::test]
async fn only_platform_admins_reach_the_organizations_page() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_up_user().await; // first user of a development instance
    let (user, member) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await.to_string();

    for (endpoint, form) in [
        (
            "platform/organizations",
            vec![("q", String::new()), ("page", "1".into())],
        ),
        (
            "platform/set_active",
            vec![("organization_id", org.clone()), ("active", "false".into())],
        ),
        (
            "platform/set_plan",
            vec![
                ("organization_id", org.clone()),
                ("plan", "enterprise".into()),
            ],
        ),
        (
            "platform/set_limits",
            vec![
                ("organization_id", org.clone()),
                ("max_members", "99".into()),
            ],
        ),
    ] {
        let response = app.call(&member, endpoint, &form).await;
        assert_eq!(response.status().as_u16(), 403, "{endpoint}");
    }
    let row: (bool, String, Option<i32>) = sqlx::query_as(
        "select active, plan::text, max_members from organizations where id = $1::uuid",
    )
    .bind(&org)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(row, (true, "free".into(), None));

    let listed: OrgAdminPage = body_of(
        app.call(
            &admin,
            "platform/organizations",
            &[("q", String::new()), ("page", "1".into())],
        )
        .await,
    )
    .await;
    assert_eq!(listed.total, 2);
    assert_eq!(listed.rows[0].members, 1);
}

#[tokio::test]
async fn search_finds_organizations_by_name_or_slug() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_up_user().await;
    let (user, _) = app.signed_up_user().await;

    let found: OrgAdminPage = body_of(
        app.call(
            &admin,
            "platform/organizations",
            &[
                ("q", user.organization.to_lowercase()),
                ("page", "1".into()),
            ],
        )
        .await,
    )
    .await;

    assert_eq!(found.total, 1);
    assert_eq!(found.rows[0].name, user.organization);
}

#[tokio::test]
async fn a_deactivated_organization_refuses_its_members_and_keeps_its_data() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_up_user().await;
    let (user, member) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await;

    let response = app
        .call(
            &admin,
            "platform/set_active",
            &[
                ("organization_id", org.to_string()),
                ("active", "false".into()),
            ],
        )
        .await;
    assert!(response.status().is_success());

    let refused = app.call(&member, "orgs/dashboard", &[]).await;
    assert_eq!(refused.status().as_u16(), 403);
    let error = app_error(refused).await;
    assert_eq!(error.code, ErrorCode::OrganizationInactive);
    assert!(error.message.contains("deactivated"), "{error:?}");
    assert_eq!(
        app.call(&member, "members/list", &[])
            .await
            .status()
            .as_u16(),
        403
    );
    let members: i64 =
        sqlx::query_scalar("select count(*) from memberships where organization_id = $1")
            .bind(org)
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(members, 1, "the data is kept");

    app.call(
        &admin,
        "platform/set_active",
        &[
            ("organization_id", org.to_string()),
            ("active", "true".into()),
        ],
    )
    .await;
    assert!(app
        .call(&member, "orgs/dashboard", &[])
        .await
        .status()
        .is_success());
    let audited: Vec<String> = sqlx::query_scalar(
        "select action from audit_log where organization_id = $1 and action like 'organization.%activated' order by seq",
    )
    .bind(org)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(
        audited,
        ["organization.deactivated", "organization.activated"]
    );
}

#[tokio::test]
async fn a_tier_change_and_an_override_change_the_member_limit() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_up_user().await;
    let (user, owner) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await.to_string();
    app.call(
        &admin,
        "platform/set_limits",
        &[
            ("organization_id", org.clone()),
            ("max_members", "1".into()),
        ],
    )
    .await;
    let refused = app.invite(&owner, "someone@example.com", "member").await;
    assert_eq!(app_error(refused).await.code, ErrorCode::LimitReached);

    // Back to the plan's limit (empty), and a bigger plan.
    app.call(
        &admin,
        "platform/set_limits",
        &[
            ("organization_id", org.clone()),
            ("max_members", String::new()),
        ],
    )
    .await;
    let response = app
        .call(
            &admin,
            "platform/set_plan",
            &[("organization_id", org.clone()), ("plan", "starter".into())],
        )
        .await;
    assert!(response.status().is_success());
    assert!(app
        .invite(&owner, "someone@example.com", "member")
        .await
        .status()
        .is_success());
    let plan: String =
        sqlx::query_scalar("select plan::text from organizations where id = $1::uuid")
            .bind(&org)
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(plan, "starter");
}

#[tokio::test]
async fn invalid_limits_are_refused() {
    let app = spawn_app().await;
    let (user, admin) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await.to_string();
    for bad in ["-1", "many", "1.5"] {
        let response = app
            .call(
                &admin,
                "platform/set_limits",
                &[("organization_id", org.clone()), ("max_codes", bad.into())],
            )
            .await;
        assert_eq!(
            app_error(response).await.field.as_deref(),
            Some("max_codes"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn configured_addresses_become_platform_admins_when_they_sign_up() {
    use crate::helpers::{spawn_app_with, NewUser};
    let app =
        spawn_app_with(|s| s.platform_admins = " Ops@Example.com, other@example.com".into()).await;
    let (_, first) = app.signed_up_user().await;
    let ops = NewUser {
        email: "ops@example.com".into(),
        ..NewUser::random()
    };
    let client = crate::helpers::new_client();
    assert!(app.sign_up(&client, &ops).await.status().is_success());

    assert!(app.current_user(&client).await.unwrap().is_platform_admin);
    // The first user of a development instance still is one too.
    assert!(app.current_user(&first).await.unwrap().is_platform_admin);
}
