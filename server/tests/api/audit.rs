use app::backend::audit::{self, AuditEvent};
use app::backend::{Actor, OrgTx, RequestMeta};
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
            audit::record(&mut tx, AuditEvent::new("test.concurrent", "thing", i))
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
    audit::record(&mut tx, AuditEvent::new("test.rolled_back", "thing", 1))
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
