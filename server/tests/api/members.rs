use crate::helpers::{app_error, body_of, spawn_app};
use app::model::members::MembersPage;
use app::model::orgs::MyOrganization;
use app::model::{ErrorCode, Role};

#[tokio::test]
async fn an_owner_changes_a_members_role_and_it_applies_on_the_next_request() {
    let app = spawn_app().await;
    let (owner, owner_client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let (_, member_client, member_id) = app.member_of(org, "member").await;
    assert_eq!(
        app.current_user(&member_client)
            .await
            .unwrap()
            .organization
            .unwrap()
            .role,
        Role::Member
    );

    let response = app.change_role(&owner_client, member_id, "viewer").await;

    assert!(response.status().is_success());
    assert_eq!(
        app.current_user(&member_client)
            .await
            .unwrap()
            .organization
            .unwrap()
            .role,
        Role::Viewer
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
        assert_eq!(app_error(response).await.code, ErrorCode::Forbidden);
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
    let error = app_error(demote).await;
    assert!(error.message.contains("at least one owner"), "{error:?}");
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
    let me = app.current_user(&member_client).await.expect("signed in");
    assert_ne!(me.organization.as_ref().unwrap().id, org);
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

    let members: MembersPage = body_of(app.call(&client, "members/list", &[]).await).await;
    let emails: Vec<&str> = members.members.iter().map(|m| m.email.as_str()).collect();
    assert!(emails.contains(&a_owner.email.as_str()));

    app.call(
        &client,
        "orgs/switch",
        &[("organization_id", own_org.to_string())],
    )
    .await;
    let members: MembersPage = body_of(app.call(&client, "members/list", &[]).await).await;
    let emails: Vec<&str> = members.members.iter().map(|m| m.email.as_str()).collect();
    assert_eq!(emails, [user.email.as_str()]);

    let mine: Vec<MyOrganization> = body_of(app.call(&client, "orgs/mine", &[]).await).await;
    assert_eq!(mine.len(), 2);
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
        assert_eq!(app_error(response).await.code, ErrorCode::NotFound);
    }
    assert_eq!(
        app.role_in(org_a, a_member).await.as_deref(),
        Some("member")
    );
    assert_eq!(
        app.role_in(org_a, a_owner_id).await.as_deref(),
        Some("owner")
    );
    let listed: MembersPage = body_of(app.call(&b_owner, "members/list", &[]).await).await;
    assert_eq!(listed.members.len(), 1);
}

/// A transaction as the application role, working on `org`.
async fn org_transaction(
    app: &crate::helpers::TestApp,
    org: app::model::OrgId,
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = app.app_pool.begin().await.unwrap();
    sqlx::query("select set_config('app.org_id', $1, true)")
        .bind(org.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

/// Waits until `task` has finished or some statement in this test's
/// database is waiting for a lock, whichever comes first.
async fn finished_or_blocked<T>(app: &crate::helpers::TestApp, task: &tokio::task::JoinHandle<T>) {
    loop {
        if task.is_finished() {
            return;
        }
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
             where datname = current_database() and wait_event_type = 'Lock'",
        )
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::task::yield_now().await;
    }
}

async fn owners(app: &crate::helpers::TestApp, org: app::model::OrgId) -> i64 {
    sqlx::query_scalar(
        "select count(*) from memberships where organization_id = $1 and role = 'owner'",
    )
    .bind(org)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap()
}

/// Under READ COMMITTED each of two overlapping transactions used to see
/// the other's owner still there. Here the second one's change runs while
/// the first is still open, every round, in both orders, demoting and
/// removing.
#[tokio::test]
async fn two_owners_demoting_or_removing_each_other_at_once_leave_an_owner() {
    let app = spawn_app().await;
    let (a, _) = app.signed_up_user().await;
    let org = app.org_id_of(&a.email).await;
    let a_id = app.user_id_of(&a.email).await;
    let (_, _, b_id) = app.member_of(org, "owner").await;
    let statements = [
        "update memberships set role = 'admin' where organization_id = $1 and user_id = $2",
        "delete from memberships where organization_id = $1 and user_id = $2",
    ];

    for round in 0..20 {
        let (first, second) = if round % 2 == 0 {
            (a_id, b_id)
        } else {
            (b_id, a_id)
        };
        let statement = statements[(round / 2) % 2];
        let mut t1 = org_transaction(&app, org).await;
        let mut t2 = org_transaction(&app, org).await;
        sqlx::query(statement)
            .bind(org)
            .bind(first)
            .execute(&mut *t1)
            .await
            .expect("the other owner is still there");
        let racing = tokio::spawn(async move {
            let outcome = sqlx::query(statement)
                .bind(org)
                .bind(second)
                .execute(&mut *t2)
                .await;
            (t2, outcome)
        });
        finished_or_blocked(&app, &racing).await;
        t1.commit().await.unwrap();
        let (t2, outcome) = racing.await.unwrap();
        match outcome {
            Ok(_) => t2.commit().await.unwrap(),
            Err(e) => assert!(e.to_string().contains("at least one owner"), "{e}"),
        }

        assert_eq!(owners(&app, org).await, 1, "round {round}");
        // Put the first owner back for the next round.
        sqlx::query(
            "insert into memberships (organization_id, user_id, role) values ($1, $2, 'owner')
             on conflict (organization_id, user_id) do update set role = 'owner'",
        )
        .bind(org)
        .bind(first)
        .execute(&app.db.superuser)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn two_owners_removing_each_other_by_parallel_requests_leave_one_owner() {
    let app = spawn_app().await;
    let (a, a_client) = app.signed_up_user().await;
    let org = app.org_id_of(&a.email).await;
    let a_id = app.user_id_of(&a.email).await;
    for round in 0..10 {
        let (_, b_client, b_id) = app.member_of(org, "owner").await;
        let (by_a, by_b) = futures::join!(
            app.change_role(&a_client, b_id, "admin"),
            app.change_role(&b_client, a_id, "admin"),
        );

        let mut statuses = [by_a.status().as_u16(), by_b.status().as_u16()];
        statuses.sort();
        assert!(
            statuses == [200, 409] || statuses == [200, 403],
            "round {round}: {statuses:?}"
        );
        assert_eq!(owners(&app, org).await, 1, "round {round}");
        // A alone is owner again for the next round.
        for statement in [
            "update memberships set role = 'owner' where organization_id = $1 and user_id = $2",
            "delete from memberships where organization_id = $1 and user_id = $2",
        ] {
            let user = if statement.starts_with("update") {
                a_id
            } else {
                b_id
            };
            sqlx::query(statement)
                .bind(org)
                .bind(user)
                .execute(&app.db.superuser)
                .await
                .unwrap();
        }
    }
}
