use crate::helpers::{error_of, spawn_app};

#[tokio::test]
async fn an_owner_changes_a_members_role_and_it_applies_on_the_next_request() {
    let app = spawn_app().await;
    let (owner, owner_client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let (_, member_client, member_id) = app.member_of(org, "member").await;
    assert_eq!(
        app.current_user(&member_client).await["organization"]["role"],
        "member"
    );

    let response = app.change_role(&owner_client, member_id, "viewer").await;

    assert!(response.status().is_success());
    assert_eq!(
        app.current_user(&member_client).await["organization"]["role"],
        "viewer"
    );
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where organization_id = $1 and action = 'member.role_changed'",
    )
    .bind(org)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    let events: i64 = sqlx::query_scalar(
        "select count(*) from outbox where organization_id = $1 and event_type = 'member.role_changed'",
    )
    .bind(org)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!((audited, events), (1, 1));
}

#[tokio::test]
async fn an_admin_cannot_promote_to_admin_nor_touch_an_admin_or_owner() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let owner_id = app.user_id_of(&owner.email).await;
    let (_, admin, _) = app.member_of(org, "admin").await;
    let (_, _, other_admin) = app.member_of(org, "admin").await;
    let (_, _, member) = app.member_of(org, "member").await;

    for (target, role) in [
        (member, "admin"),
        (member, "owner"),
        (other_admin, "member"),
        (owner_id, "viewer"),
    ] {
        let response = app.change_role(&admin, target, role).await;
        assert_eq!(response.status().as_u16(), 403, "{target} -> {role}");
        assert_eq!(error_of(response).await["code"], "forbidden");
    }
    assert_eq!(app.role_in(org, member).await.as_deref(), Some("member"));
    assert_eq!(
        app.role_in(org, other_admin).await.as_deref(),
        Some("admin")
    );
    assert_eq!(app.role_in(org, owner_id).await.as_deref(), Some("owner"));

    let response = app.change_role(&admin, member, "manager").await;
    assert!(response.status().is_success());
    assert_eq!(app.role_in(org, member).await.as_deref(), Some("manager"));

    let response = app.remove_member(&admin, other_admin).await;
    assert_eq!(response.status().as_u16(), 403);
}

#[tokio::test]
async fn members_and_viewers_cannot_change_roles_or_remove_anyone() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let (_, manager, _) = app.member_of(org, "manager").await;
    let (_, viewer, viewer_id) = app.member_of(org, "viewer").await;

    for client in [&manager, &viewer] {
        assert_eq!(
            app.change_role(client, viewer_id, "member")
                .await
                .status()
                .as_u16(),
            403
        );
    }
    assert_eq!(
        app.remove_member(&manager, viewer_id)
            .await
            .status()
            .as_u16(),
        403
    );
    assert_eq!(app.role_in(org, viewer_id).await.as_deref(), Some("viewer"));
}

#[tokio::test]
async fn the_last_owner_can_neither_be_demoted_nor_removed_nor_leave() {
    let app = spawn_app().await;
    let (owner, owner_client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let owner_id = app.user_id_of(&owner.email).await;

    let demote = app.change_role(&owner_client, owner_id, "admin").await;
    assert_eq!(demote.status().as_u16(), 409);
    assert!(error_of(demote).await["message"]
        .as_str()
        .unwrap()
        .contains("at least one owner"));
    assert_eq!(
        app.remove_member(&owner_client, owner_id)
            .await
            .status()
            .as_u16(),
        409
    );
    assert_eq!(
        app.call(&owner_client, "members/leave", &[])
            .await
            .status()
            .as_u16(),
        409
    );
    assert_eq!(app.role_in(org, owner_id).await.as_deref(), Some("owner"));

    // With a second owner, the first may step down.
    let (_, _, second) = app.member_of(org, "member").await;
    assert!(app
        .change_role(&owner_client, second, "owner")
        .await
        .status()
        .is_success());
    assert!(app
        .change_role(&owner_client, owner_id, "admin")
        .await
        .status()
        .is_success());
    assert_eq!(app.role_in(org, owner_id).await.as_deref(), Some("admin"));
}

#[tokio::test]
async fn a_removed_member_is_refused_on_their_next_request() {
    let app = spawn_app().await;
    let (owner, owner_client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let (_, member_client, member_id) = app.member_of(org, "member").await;
    assert!(app
        .call(&member_client, "members/list", &[])
        .await
        .status()
        .is_success());

    assert!(app
        .remove_member(&owner_client, member_id)
        .await
        .status()
        .is_success());

    // They fall back to their own organization and no longer see this one.
    let me = app.current_user(&member_client).await;
    assert_ne!(me["organization"]["id"], org.to_string());
    let switch = app
        .call(
            &member_client,
            "orgs/switch",
            &[("organization_id", org.to_string())],
        )
        .await;
    assert_eq!(switch.status().as_u16(), 404);
    assert_eq!(app.role_in(org, member_id).await, None);
}

#[tokio::test]
async fn a_member_may_leave() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let (_, member_client, member_id) = app.member_of(org, "viewer").await;

    assert!(app
        .call(&member_client, "members/leave", &[])
        .await
        .status()
        .is_success());

    assert_eq!(app.role_in(org, member_id).await, None);
}

#[tokio::test]
async fn a_user_in_two_organizations_sees_only_the_current_ones_members() {
    let app = spawn_app().await;
    let (a_owner, _) = app.signed_up_user().await;
    let org_a = app.org_id_of(&a_owner.email).await;
    let (user, client, _) = app.member_of(org_a, "member").await;
    let own_org = app.org_id_of(&user.email).await;

    let members: serde_json::Value = app
        .call(&client, "members/list", &[])
        .await
        .json()
        .await
        .unwrap();
    let emails: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert!(emails.contains(&a_owner.email.as_str()));

    app.call(
        &client,
        "orgs/switch",
        &[("organization_id", own_org.to_string())],
    )
    .await;
    let members: serde_json::Value = app
        .call(&client, "members/list", &[])
        .await
        .json()
        .await
        .unwrap();
    let emails: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, [user.email.as_str()]);

    let mine: serde_json::Value = app
        .call(&client, "orgs/mine", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 2);
}

/// A member of organization B, using organization A's ids, gets 404 or 403
/// from every members and organization function, and nothing changes.
#[tokio::test]
async fn another_organizations_ids_find_nothing() {
    let app = spawn_app().await;
    let (a_owner, _) = app.signed_up_user().await;
    let org_a = app.org_id_of(&a_owner.email).await;
    let a_owner_id = app.user_id_of(&a_owner.email).await;
    let (_, _, a_member) = app.member_of(org_a, "member").await;
    let (_, b_owner) = app.signed_up_user().await;

    for response in [
        app.change_role(&b_owner, a_member, "viewer").await,
        app.change_role(&b_owner, a_owner_id, "viewer").await,
        app.remove_member(&b_owner, a_member).await,
        app.call(
            &b_owner,
            "orgs/switch",
            &[("organization_id", org_a.to_string())],
        )
        .await,
    ] {
        assert_eq!(response.status().as_u16(), 404);
        assert_eq!(error_of(response).await["code"], "not_found");
    }
    assert_eq!(
        app.role_in(org_a, a_member).await.as_deref(),
        Some("member")
    );
    assert_eq!(
        app.role_in(org_a, a_owner_id).await.as_deref(),
        Some("owner")
    );
    let listed: serde_json::Value = app
        .call(&b_owner, "members/list", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["members"].as_array().unwrap().len(), 1);
}
