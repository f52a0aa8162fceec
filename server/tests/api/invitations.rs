use app::model::{ErrorCode, Role};
use futures::future::join_all;
use uuid::Uuid;

use app::model::members::{InvitationOut, InvitationPreview};

use crate::helpers::{app_error, body_of, new_client, spawn_app};

fn fresh_email() -> String {
    format!(
        "invitee-{}@example.com",
        &Uuid::new_v4().simple().to_string()[..10]
    )
}

#[tokio::test]
async fn an_invited_person_joins_with_a_new_account_from_the_mailed_link() {
    let app = spawn_app().await;
    let (owner, owner_client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let email = fresh_email();

    let response = app.invite(&owner_client, &email, "manager").await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let mail = app
        .mail_to(&email)
        .await
        .expect("the invitation was mailed");
    assert!(mail.contains(&format!("{}/invite/", app.address)), "{mail}");
    let token = app.invitation_token_for(&email).await;

    let invitee = new_client();
    let preview: InvitationPreview = body_of(
        app.call(&invitee, "invitations/preview", &[("token", token.clone())])
            .await,
    )
    .await;
    assert_eq!(preview.email, email);
    assert_eq!(preview.role, Role::Manager);
    assert!(!preview.account_exists);

    let response = app.accept_as_new(&invitee, &token, "Grace").await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let me = app.current_user(&invitee).await.expect("signed in");
    assert_eq!(me.email, email);
    assert_eq!(me.organization.as_ref().unwrap().id, org);
    assert_eq!(me.organization.as_ref().unwrap().role, Role::Manager);

    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_log where organization_id = $1 and action like 'member.%' order by seq",
    )
    .bind(org)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(actions, ["member.invited", "member.joined"]);
    let events: Vec<String> = sqlx::query_scalar(
        "select event_type from outbox where organization_id = $1 and event_type like 'member.%' order by created_at",
    )
    .bind(org)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(events, ["member.invited", "member.joined"]);
}

#[tokio::test]
async fn an_invitation_link_works_only_once() {
    let app = spawn_app().await;
    let (_, owner) = app.signed_up_user().await;
    let email = fresh_email();
    app.invite(&owner, &email, "member").await;
    let token = app.invitation_token_for(&email).await;
    assert!(app
        .accept_as_new(&new_client(), &token, "Grace")
        .await
        .status()
        .is_success());

    let again = app.accept_as_new(&new_client(), &token, "Mallory").await;

    assert_eq!(again.status().as_u16(), 404);
    let error = app_error(again).await;
    assert!(error.message.contains("not valid"), "{error:?}");
}

#[tokio::test]
async fn a_revoked_or_expired_invitation_cannot_be_accepted() {
    let app = spawn_app().await;
    let (owner, owner_client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;

    let revoked = fresh_email();
    let created: InvitationOut = body_of(app.invite(&owner_client, &revoked, "member").await).await;
    let token = app.invitation_token_for(&revoked).await;
    let response = app
        .call(
            &owner_client,
            "invitations/revoke",
            &[("id", created.id.to_string())],
        )
        .await;
    assert!(response.status().is_success());
    assert_eq!(
        app.accept_as_new(&new_client(), &token, "Grace")
            .await
            .status()
            .as_u16(),
        404
    );

    let expired = fresh_email();
    app.invite(&owner_client, &expired, "member").await;
    let token = app.invitation_token_for(&expired).await;
    sqlx::query("update invitations set expires_at = now() - interval '1 second' where email = $1")
        .bind(&expired)
        .execute(&app.db.superuser)
        .await
        .unwrap();
    assert_eq!(
        app.accept_as_new(&new_client(), &token, "Grace")
            .await
            .status()
            .as_u16(),
        404
    );

    let members: i64 =
        sqlx::query_scalar("select count(*) from memberships where organization_id = $1")
            .bind(org)
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(members, 1);
}

#[tokio::test]
async fn resending_kills_the_old_link_and_mails_a_new_one() {
    let app = spawn_app().await;
    let (_, owner) = app.signed_up_user().await;
    let email = fresh_email();
    let created: InvitationOut = body_of(app.invite(&owner, &email, "viewer").await).await;
    let old_token = app.invitation_token_for(&email).await;

    let response = app
        .call(
            &owner,
            "invitations/resend",
            &[("id", created.id.to_string())],
        )
        .await;
    assert!(response.status().is_success());
    let new_token = app.invitation_token_for(&email).await;

    assert_ne!(old_token, new_token);
    assert_eq!(
        app.accept_as_new(&new_client(), &old_token, "Grace")
            .await
            .status()
            .as_u16(),
        404
    );
    assert!(app
        .accept_as_new(&new_client(), &new_token, "Grace")
        .await
        .status()
        .is_success());
}

#[tokio::test]
async fn an_existing_user_joins_and_the_organization_becomes_current() {
    let app = spawn_app().await;
    let (owner, owner_client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let (invitee, invitee_client) = app.signed_up_user().await;
    app.invite(&owner_client, &invitee.email, "member").await;
    let token = app.invitation_token_for(&invitee.email).await;

    // Another signed-in user cannot take it.
    let (_, stranger) = app.signed_up_user().await;
    let response = app
        .call(&stranger, "invitations/accept", &[("token", token.clone())])
        .await;
    assert_eq!(response.status().as_u16(), 403);
    // Nor can someone create an account for that address.
    let response = app.accept_as_new(&new_client(), &token, "Impostor").await;
    assert_eq!(response.status().as_u16(), 409);

    let response = app
        .call(&invitee_client, "invitations/accept", &[("token", token)])
        .await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let me = app.current_user(&invitee_client).await.expect("signed in");
    assert_eq!(me.organization.as_ref().unwrap().id, org);
    assert_eq!(me.organization.as_ref().unwrap().role, Role::Member);
}

#[tokio::test]
async fn an_admin_cannot_invite_above_admin_level_and_members_cannot_invite() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let (_, admin, _) = app.member_of(org, "admin").await;
    let (_, manager, _) = app.member_of(org, "manager").await;

    for role in ["admin", "owner"] {
        let response = app.invite(&admin, &fresh_email(), role).await;
        assert_eq!(response.status().as_u16(), 403, "{role}");
    }
    assert_eq!(
        app.invite(&manager, &fresh_email(), "viewer")
            .await
            .status()
            .as_u16(),
        403
    );
    assert!(app
        .invite(&admin, &fresh_email(), "manager")
        .await
        .status()
        .is_success());
    let open: i64 = sqlx::query_scalar("select count(*) from invitations")
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    assert_eq!(open, 1);
}

#[tokio::test]
async fn invalid_invitations_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (owner, owner_client) = app.signed_up_user().await;
    let email = fresh_email();
    app.invite(&owner_client, &email, "member").await;

    for (address, code) in [
        ("not-an-email", ErrorCode::Validation),
        (owner.email.as_str(), ErrorCode::Conflict),
        (email.as_str(), ErrorCode::Conflict),
    ] {
        let response = app.invite(&owner_client, address, "member").await;
        let error = app_error(response).await;
        assert_eq!(error.code, code, "{address}: {error:?}");
        assert_eq!(error.field.as_deref(), Some("email"));
    }
    assert_eq!(app.count("invitations").await, 1);
}

#[tokio::test]
async fn pending_invitations_count_against_the_member_limit() {
    let app = spawn_app().await;
    let (owner, owner_client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    // Free plan: 5 seats. Owner + 4 invitations fill them.
    for _ in 0..4 {
        assert!(app
            .invite(&owner_client, &fresh_email(), "member")
            .await
            .status()
            .is_success());
    }

    let response = app.invite(&owner_client, &fresh_email(), "member").await;

    assert_eq!(response.status().as_u16(), 409);
    let error = app_error(response).await;
    assert_eq!(error.code, ErrorCode::LimitReached);
    assert!(error.message.contains("member limit (5)"), "{error:?}");

    // A platform admin's override lifts it.
    sqlx::query("update organizations set max_members = 6 where id = $1")
        .bind(org)
        .execute(&app.db.superuser)
        .await
        .unwrap();
    assert!(app
        .invite(&owner_client, &fresh_email(), "member")
        .await
        .status()
        .is_success());
}

#[tokio::test]
async fn fifty_parallel_invitations_at_the_limit_let_exactly_one_through() {
    let app = spawn_app().await;
    let (owner, owner_client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    sqlx::query("update organizations set max_members = 10 where id = $1")
        .bind(org)
        .execute(&app.db.superuser)
        .await
        .unwrap();
    for _ in 0..8 {
        assert!(app
            .invite(&owner_client, &fresh_email(), "member")
            .await
            .status()
            .is_success());
    }

    let attempts = (0..50).map(|_| {
        let (app, client) = (&app, owner_client.clone());
        async move {
            app.invite(&client, &fresh_email(), "viewer")
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = join_all(attempts).await;

    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(app.count("invitations").await, 9);
}

#[tokio::test]
async fn another_organizations_invitations_cannot_be_seen_resent_or_revoked() {
    let app = spawn_app().await;
    let (_, a_owner) = app.signed_up_user().await;
    let email = fresh_email();
    let created: InvitationOut = body_of(app.invite(&a_owner, &email, "member").await).await;
    let id = created.id.to_string();
    let (_, b_owner) = app.signed_up_user().await;

    for endpoint in ["invitations/resend", "invitations/revoke"] {
        let response = app.call(&b_owner, endpoint, &[("id", id.clone())]).await;
        assert_eq!(response.status().as_u16(), 404, "{endpoint}");
    }
    let listed: Vec<InvitationOut> =
        body_of(app.call(&b_owner, "invitations/list", &[]).await).await;
    assert_eq!(listed.len(), 0);
    let open: i64 = sqlx::query_scalar("select count(*) from invitations where revoked_at is null")
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    assert_eq!(open, 1);
}

#[tokio::test]
async fn a_new_account_from_an_invitation_needs_a_valid_name_and_password() {
    let app = spawn_app().await;
    let (_, owner) = app.signed_up_user().await;
    let email = fresh_email();
    app.invite(&owner, &email, "member").await;
    let token = app.invitation_token_for(&email).await;
    let users_before = app.count("users").await;

    let response = app
        .call(
            &new_client(),
            "invitations/accept",
            &[
                ("token", token.clone()),
                ("name", "Grace".into()),
                ("password", "short".into()),
            ],
        )
        .await;

    assert_eq!(app_error(response).await.field.as_deref(), Some("password"));
    assert_eq!(app.count("users").await, users_before);
    assert!(app
        .accept_as_new(&new_client(), &token, "Grace")
        .await
        .status()
        .is_success());
}

#[tokio::test]
async fn an_undeliverable_invitation_mail_is_kept_and_its_failure_shown() {
    // An SMTP server that is not there: a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app =
        crate::helpers::spawn_app_with(|s| s.smtp_url = format!("smtp://127.0.0.1:{closed}")).await;
    let (_, owner) = app.signed_up_user().await;

    let response = app.invite(&owner, "far-away@example.com", "member").await;

    assert!(
        response.status().is_success(),
        "the invitation itself is made; the mail goes out afterwards"
    );
    app.deliver_mail().await;
    let listed: Vec<InvitationOut> = body_of(app.call(&owner, "invitations/list", &[]).await).await;
    assert_eq!(listed[0].email, "far-away@example.com");
    assert!(
        listed[0].mail_error.as_ref().is_some_and(|e| !e.is_empty()),
        "{listed:?}"
    );
}

#[tokio::test]
async fn invitations_to_one_address_are_rate_limited() {
    let app = spawn_app().await;
    let (_, owner) = app.signed_up_user().await;
    let email = fresh_email();
    let created: InvitationOut = body_of(app.invite(&owner, &email, "member").await).await;
    let id = created.id.to_string();
    for _ in 0..2 {
        let response = app
            .call(&owner, "invitations/resend", &[("id", id.clone())])
            .await;
        assert!(response.status().is_success());
    }

    let response = app
        .call(&owner, "invitations/resend", &[("id", id.clone())])
        .await;

    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(app_error(response).await.code, ErrorCode::RateLimited);
    // The refusal is in the audit log, as a failure.
    let recorded: (String, String) = sqlx::query_as(
        "select resource_id, outcome::text from audit_log where action = 'rate_limit.exceeded'",
    )
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(recorded, (email.clone(), "failure".to_owned()));
    // Another organization cannot flood the same inbox either.
    let (_, stranger) = app.signed_up_user().await;
    assert_eq!(
        app.invite(&stranger, &email, "member")
            .await
            .status()
            .as_u16(),
        429
    );
}

#[tokio::test]
async fn invitations_from_one_organization_are_rate_limited() {
    let app = spawn_app().await;
    let (owner, client) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    sqlx::query("update organizations set max_members = 1000 where id = $1")
        .bind(org)
        .execute(&app.db.superuser)
        .await
        .unwrap();
    for i in 0..50 {
        let response = app.invite(&client, &fresh_email(), "member").await;
        assert!(response.status().is_success(), "invitation {i}");
    }

    let response = app.invite(&client, &fresh_email(), "member").await;

    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(app.count("invitations").await, 50);
}

#[tokio::test]
async fn per_address_limits_count_each_address_and_spare_a_development_loopback() {
    use app::backend::mode::Mode;
    use app::backend::throttle::{hit_address, INVITE_PER_ADDRESS};
    use app::backend::{Error, RequestMeta};

    let app = spawn_app().await;
    let mut conn = app.app_pool.acquire().await.unwrap();
    let from = |ip: &str| RequestMeta {
        ip: Some(ip.parse().unwrap()),
        ..RequestMeta::default()
    };
    for _ in 0..INVITE_PER_ADDRESS.limit {
        hit_address(
            &mut conn,
            Mode::Production,
            INVITE_PER_ADDRESS,
            &from("203.0.113.7"),
        )
        .await
        .unwrap();
    }
    let refused = hit_address(
        &mut conn,
        Mode::Production,
        INVITE_PER_ADDRESS,
        &from("203.0.113.7"),
    )
    .await;
    assert!(matches!(refused, Err(Error::RateLimited(_))));
    hit_address(
        &mut conn,
        Mode::Production,
        INVITE_PER_ADDRESS,
        &from("203.0.113.8"),
    )
    .await
    .expect("another address has its own count");
    for _ in 0..=INVITE_PER_ADDRESS.limit {
        hit_address(
            &mut conn,
            Mode::Development,
            INVITE_PER_ADDRESS,
            &from("127.0.0.1"),
        )
        .await
        .expect("a development instance's own machine is not limited");
    }
}
