//! The audit log taken out: CSV and NDJSON exports, chain verification,
//! and the platform's security events.
use app::model::audit::{AuditAction, AuditEntryOut, AuditVerifyOut, SecurityEventPage};
use uuid::Uuid;

use crate::helpers::{body_of, new_client, spawn_app};
use crate::rest::api_error;

use crate::audit_log::*;

#[tokio::test]
async fn exports_hold_exactly_the_filtered_entries_as_csv_and_ndjson() {
    let Scene {
        app,
        owner,
        org_id,
        admin_id,
        ..
    } = scene().await;
    app.record_entries(org_id, 30).await;

    // CSV, filtered by action.
    let response = owner
        .get(format!(
            "{}/audit/export.csv?action=code.created&outcome=success",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"audit-log.csv\""
    );
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(&header[..3], ["seq", "id", "occurred_at"]);
    assert!(header.contains(&"hash".to_owned()) && header.contains(&"after".to_owned()));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let exported: Vec<i64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    let mut expected = app
        .seqs_where(
            org_id,
            "action = $2 and outcome = 'success'",
            "code.created",
        )
        .await;
    expected.reverse(); // oldest first
    assert_eq!(exported, expected);
    assert!(rows.iter().all(|r| &r[7] == "code.created"));
    // The actor's name and the stored hash, as the log holds them.
    let by_admin = rows.iter().find(|r| r[4] == admin_id.to_string()).unwrap();
    assert!(by_admin[5].starts_with("Ada "), "{:?}", by_admin);
    let stored: Vec<u8> =
        sqlx::query_scalar("select hash from audit_log where organization_id = $1 and seq = $2")
            .bind(org_id)
            .bind(exported[0])
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    let stored: String = stored.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(&rows[0][17], stored);

    // NDJSON, everything; the export itself is recorded first.
    let response = owner
        .get(format!("{}/audit/export.ndjson", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let entries: Vec<AuditEntryOut> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let mut all = app.all_seqs(org_id).await;
    all.reverse();
    let exported: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(exported, all);
    let exports = app
        .seqs_where(org_id, "action = $2", "audit.exported")
        .await;
    assert_eq!(exports.len(), 2, "each export is audited");
    assert_eq!(
        entries.last().unwrap().action,
        AuditAction::AuditExported.as_str()
    );

    // A filter that matches nothing: a CSV with its header only.
    let text = owner
        .get(format!(
            "{}/audit/export.csv?actor_id={}",
            app.address,
            Uuid::new_v4()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    // A bad filter: refused with its field, nothing streamed.
    let response = owner
        .get(format!("{}/audit/export.csv?from=soon", app.address))
        .send()
        .await
        .unwrap();
    let (status, error) = api_error(response).await;
    assert_eq!((status, error.field()), (422, Some("from")), "{error:?}");
}

#[tokio::test]
async fn verify_reports_the_first_broken_seq_after_an_entry_is_tampered_with() {
    let app = spawn_app().await;
    let (user, owner) = app.signed_up_user().await;
    let org_id = app.org_id_of(&user.email).await;
    app.record_entries(org_id, 6).await;
    let total = app.all_seqs(org_id).await.len();

    let report: AuditVerifyOut = body_of(app.call(&owner, "audit/verify", &[]).await).await;
    assert_eq!(report.first_broken, None);
    assert_eq!(report.entries_checked, total as u64);

    // Whoever can (not the application) rewrites entry 4.
    sqlx::query(
        "update audit_log set resource_id = 'forged' where organization_id = $1 and seq = 4",
    )
    .bind(org_id)
    .execute(&app.db.superuser)
    .await
    .unwrap();

    let report: AuditVerifyOut = body_of(app.call(&owner, "audit/verify", &[]).await).await;
    let broken = report.first_broken.expect("the tampering is reported");
    assert_eq!(broken.seq, 4);
    assert_eq!(report.entries_checked, 3);
    assert!(broken.reason.contains("hash"), "{}", broken.reason);

    // The page says so too, server-rendered.
    let html = owner
        .get(format!("{}/audit/verify", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"data-broken-seq="4""#), "{html}");
    assert!(html.contains("The chain is broken at entry 4"), "{html}");
}

#[tokio::test]
async fn a_log_in_with_an_unknown_email_is_a_security_event_only_platform_admins_see() {
    let app = spawn_app().await;
    // The first account of a development instance is a platform admin.
    let (_, platform_admin) = app.signed_up_user().await;
    let (_, someone) = app.signed_up_user().await;

    let response = app
        .log_in(&new_client(), "  Nobody@Example.COM ", "whatever it is")
        .await;
    assert_eq!(response.status(), 401);

    let (kind, email, ip): (String, Option<String>, Option<String>) =
        sqlx::query_as("select kind, email, host(ip) from security_events")
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(kind, "login.unknown_email");
    assert_eq!(email.as_deref(), Some("nobody@example.com"));
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));

    let page: SecurityEventPage = body_of(
        app.call(&platform_admin, "platform/security_events", &[])
            .await,
    )
    .await;
    let events = &page.events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].email.as_deref(), Some("nobody@example.com"));

    let response = app.call(&someone, "platform/security_events", &[]).await;
    assert_eq!(response.status(), 403);
    let html = someone
        .get(format!("{}/platform/security", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("nobody@example.com"));

    // The application's own role sees nothing without a platform admin
    // named, and can never change or remove an event.
    let seen: i64 = sqlx::query_scalar("select count(*) from security_events")
        .fetch_one(&app.app_pool)
        .await
        .unwrap();
    assert_eq!(seen, 0);
    for statement in [
        "update security_events set email = 'forged'",
        "delete from security_events",
    ] {
        let error = sqlx::query(statement)
            .execute(&app.app_pool)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("permission denied"), "{error}");
    }
}

#[tokio::test]
async fn security_events_are_kept_ninety_days_and_no_longer() {
    let app = spawn_app().await;
    sqlx::query(
        "insert into security_events (occurred_at, kind, email) values
             (now() - interval '91 days', 'login.unknown_email', 'old@example.com'),
             (now() - interval '89 days', 'login.unknown_email', 'recent@example.com')",
    )
    .execute(&app.db.superuser)
    .await
    .unwrap();
    // The application cannot pick its own cut-off: the prune takes none.
    let removed = app.deliverer().prune(chrono::Utc::now()).await.unwrap();
    assert_eq!(removed, 0, "no webhook history to prune");
    let left: Vec<String> = sqlx::query_scalar("select email from security_events")
        .fetch_all(&app.db.superuser)
        .await
        .unwrap();
    assert_eq!(left, ["recent@example.com"]);
}
