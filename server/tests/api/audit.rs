use app::backend::audit::{self, AuditEvent};
use app::backend::{Actor, OrgTx, RequestMeta};
use app::model::audit::AuditAction;
use futures::future::join_all;

use crate::helpers::spawn_app;

#[tokio::test]
async fn audit_verify_reports_the_seq_of_a_tampered_entry() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    for _ in 0..3 {
        app.log_in(&client, &user.email, &user.password).await;
    }
    let slug: String = sqlx::query_scalar("select slug from organizations")
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();

    let output = app.cli(&["audit", "verify", "--org", &slug]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ok: 5 entries verified"), "{stdout}");

    // The superuser (not the application, which cannot) rewrites history.
    sqlx::query("update audit_log set action = 'user.logout' where seq = 3")
        .execute(&app.db.superuser)
        .await
        .unwrap();

    let output = app.cli(&["audit", "verify", "--org", &slug]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success());
    assert!(stdout.contains("broken at seq 3"), "{stdout}");
}

#[tokio::test]
async fn deleting_an_entry_is_reported_where_the_gap_is() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    app.log_in(&client, &user.email, &user.password).await;
    let org_id = app.org_id_of(&user.email).await;
    sqlx::query("delete from audit_log where seq = 2")
        .execute(&app.db.superuser)
        .await
        .unwrap();

    let report = audit::verify(&app.app_pool, org_id).await.unwrap();

    assert_eq!(report.first_broken.unwrap().seq, 2);
    assert_eq!(report.entries_checked, 1);
}

#[tokio::test]
async fn concurrent_writers_leave_an_unbroken_chain() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let org_id = app.org_id_of(&user.email).await;

    let writers = (0..40).map(|i| {
        let pool = app.app_pool.clone();
        async move {
            let mut tx = OrgTx::begin(&pool, org_id, Actor::System, RequestMeta::default())
                .await
                .unwrap();
            audit::record(
                &mut tx,
                AuditEvent::new(AuditAction::CodeCreated, "thing", i),
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
    });
    join_all(writers).await;

    let report = audit::verify(&app.app_pool, org_id).await.unwrap();
    assert_eq!(report.first_broken, None);
    assert_eq!(report.entries_checked, 42);
}

#[tokio::test]
async fn a_rolled_back_change_leaves_no_audit_entry_or_event() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let org_id = app.org_id_of(&user.email).await;
    let before = (app.count("audit_log").await, app.count("outbox").await);

    let mut tx = OrgTx::begin(&app.app_pool, org_id, Actor::System, RequestMeta::default())
        .await
        .unwrap();
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::CodeCreated, "thing", 1),
    )
    .await
    .unwrap();
    drop(tx);

    assert_eq!(
        (app.count("audit_log").await, app.count("outbox").await),
        before
    );
}

#[tokio::test]
async fn the_application_cannot_change_or_remove_audit_entries() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let org_id = app.org_id_of(&user.email).await;

    for statement in [
        "update audit_log set action = 'forged' where organization_id = $1",
        "delete from audit_log where organization_id = $1",
    ] {
        let mut tx = OrgTx::begin(&app.app_pool, org_id, Actor::System, RequestMeta::default())
            .await
            .unwrap();
        let error = sqlx::query(statement)
            .bind(org_id)
            .execute(tx.conn())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("permission denied"), "{error}");
    }
}

async fn slug_of(app: &crate::helpers::TestApp, org: app::model::OrgId) -> String {
    sqlx::query_scalar("select slug from organizations where id = $1")
        .bind(org)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap()
}

#[tokio::test]
async fn deleting_the_newest_entries_is_reported_as_a_truncated_chain() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    for _ in 0..3 {
        app.log_in(&client, &user.email, &user.password).await;
    }
    let org_id = app.org_id_of(&user.email).await;
    let slug = slug_of(&app, org_id).await;

    // Whoever can delete rows (not the application) removes the last two,
    // which no entry after them links to.
    sqlx::query("delete from audit_log where seq > 3")
        .execute(&app.db.superuser)
        .await
        .unwrap();

    let report = audit::verify(&app.app_pool, org_id).await.unwrap();
    let broken = report.first_broken.expect("the truncation is reported");
    assert_eq!(broken.seq, 4);
    assert!(
        broken.reason.contains("entries after seq 3 are missing"),
        "{}",
        broken.reason
    );
    assert_eq!(report.entries_checked, 3);
    let output = app.cli(&["audit", "verify", "--org", &slug]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success());
    assert!(
        stdout.contains("broken at seq 4: entries after seq 3 are missing"),
        "{stdout}"
    );
}

#[tokio::test]
async fn the_application_cannot_move_a_chains_head_nor_skip_ahead() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let org_id = app.org_id_of(&user.email).await;

    let mut tx = OrgTx::begin(&app.app_pool, org_id, Actor::System, RequestMeta::default())
        .await
        .unwrap();
    let error = sqlx::query("update organizations set audit_head_seq = 0 where id = $1")
        .bind(org_id)
        .execute(tx.conn())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("permission denied"), "{error}");
    drop(tx);

    // An entry that does not extend the head is refused by the database.
    let mut tx = OrgTx::begin(&app.app_pool, org_id, Actor::System, RequestMeta::default())
        .await
        .unwrap();
    let error = sqlx::query(
        "insert into audit_log (organization_id, seq, id, occurred_at, actor_kind, action,
             resource_type, outcome, prev_hash, hash)
         values ($1, 99, gen_random_uuid(), now(), 'system', 'forged', 'thing', 'success',
                 decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex'))",
    )
    .bind(org_id)
    .execute(tx.conn())
    .await
    .unwrap_err();
    assert!(error.to_string().contains("does not extend"), "{error}");
}

#[tokio::test]
async fn a_deleted_organization_leaves_its_deletion_in_the_platform_log() {
    let app = spawn_app().await;
    let (owner, client) = app.signed_up_user().await;
    let org_id = app.org_id_of(&owner.email).await;
    let owner_id = app.user_id_of(&owner.email).await;
    let slug = slug_of(&app, org_id).await;

    let response = app
        .call(&client, "orgs/delete", &[("confirmation", slug.clone())])
        .await;
    assert!(
        response.status().is_success() || response.status().is_redirection(),
        "{}",
        response.status()
    );

    let (actor_id, organization_id, organization_slug, age): (
        Option<app::model::UserId>,
        Option<app::model::OrgId>,
        Option<String>,
        f64,
    ) = sqlx::query_as(
        "select actor_id, org_id, org_slug,
                extract(epoch from now() - occurred_at)::float8
         from platform_audit_log where action = 'organization.deleted'",
    )
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(actor_id, Some(owner_id));
    assert_eq!(organization_id, Some(org_id));
    assert_eq!(organization_slug.as_deref(), Some(slug.as_str()));
    assert!(age < 60.0, "recorded just now");
    assert_eq!(
        app.count("audit_log").await,
        0,
        "its own chain went with it"
    );

    let output = app.cli(&["audit", "verify", "--platform"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ok: 1 entries verified"), "{stdout}");
}

#[tokio::test]
async fn deactivation_goes_to_the_platform_log_which_reports_truncation_too() {
    let app = spawn_app().await;
    // The first user of a development instance is platform admin.
    let (_, admin) = app.signed_up_user().await;
    let (user, _) = app.signed_up_user().await;
    let org_id = app.org_id_of(&user.email).await;
    for active in ["false", "true"] {
        let response = app
            .call(
                &admin,
                "platform/set_active",
                &[
                    ("organization_id", org_id.to_string()),
                    ("active", active.into()),
                ],
            )
            .await;
        assert!(response.status().is_success(), "{}", response.status());
    }
    let actions: Vec<String> =
        sqlx::query_scalar("select action from platform_audit_log order by seq")
            .fetch_all(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(
        actions,
        ["organization.deactivated", "organization.activated"]
    );
    assert_eq!(
        audit::platform::verify(&app.app_pool)
            .await
            .unwrap()
            .first_broken,
        None
    );

    sqlx::query("delete from platform_audit_log where seq = 2")
        .execute(&app.db.superuser)
        .await
        .unwrap();

    let output = app.cli(&["audit", "verify", "--platform"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success());
    assert!(
        stdout.contains("broken at seq 2: entries after seq 1 are missing"),
        "{stdout}"
    );
}

#[tokio::test]
async fn the_application_can_add_to_the_platform_log_but_not_change_it() {
    let app = spawn_app().await;
    let (owner, client) = app.signed_up_user().await;
    let slug = slug_of(&app, app.org_id_of(&owner.email).await).await;
    app.call(&client, "orgs/delete", &[("confirmation", slug)])
        .await;

    for statement in [
        "update platform_audit_log set action = 'forged'",
        "delete from platform_audit_log",
        "update platform_audit_head set seq = 0",
    ] {
        let error = sqlx::query(statement)
            .execute(&app.app_pool)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("permission denied"), "{error}");
    }
}
