//! Browsing the audit log: filters, keyset paging, who may read it, other
//! organizations' entries, the streamed exports, the verify report, and the
//! platform's security events (log-ins with an unknown email).
use app::backend::audit::{self, AuditEvent};
use app::backend::{Actor, OrgTx, RequestMeta};
use app::model::audit::{AuditAction, AuditEntryOut, AuditPage};
use app::model::{ErrorCode, OrgId, UserId};
use chrono::SecondsFormat;
use reqwest::Client;
use uuid::Uuid;

use crate::helpers::{app_error, body_of, new_client, spawn_app, TestApp};
use crate::rest::api_error;

impl TestApp {
    /// `audit/list` with `form` (`filter[action]`, `before`…), or fails.
    pub async fn audit_page(&self, client: &Client, form: &[(&str, String)]) -> AuditPage {
        body_of(self.call(client, "audit/list", form).await).await
    }

    /// Writes `n` entries straight into the organization's chain (as the
    /// application does, in its own transactions): code.created and
    /// code.updated in turn.
    pub async fn record_entries(&self, org_id: OrgId, n: usize) {
        for i in 0..n {
            let mut tx = OrgTx::begin(
                &self.app_pool,
                org_id,
                Actor::System,
                RequestMeta::default(),
            )
            .await
            .unwrap();
            let action = if i % 2 == 0 {
                AuditAction::CodeCreated
            } else {
                AuditAction::CodeUpdated
            };
            audit::record(&mut tx, AuditEvent::new(action, "code", format!("c{i}")))
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    }

    /// The seqs of the organization's entries that `condition` selects
    /// (SQL over `audit_log`; `$2` is `arg`), newest first, as the superuser
    /// sees them. `all_seqs`: every entry.
    pub async fn seqs_where(&self, org_id: OrgId, condition: &str, arg: &str) -> Vec<i64> {
        sqlx::query_scalar(&format!(
            "select seq from audit_log where organization_id = $1 and {condition}
             order by seq desc"
        ))
        .bind(org_id)
        .bind(arg)
        .fetch_all(&self.db.superuser)
        .await
        .unwrap()
    }

    pub async fn all_seqs(&self, org_id: OrgId) -> Vec<i64> {
        self.seqs_where(org_id, "$2 = $2", "").await
    }
}

/// The filter's fields, the SQL condition that selects the same entries
/// (`$2` = the text after it), and that text.
pub(crate) type FilterCase<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

pub(crate) fn seqs(page: &AuditPage) -> Vec<i64> {
    page.entries.iter().map(|e| e.seq).collect()
}

pub(crate) fn form(pairs: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    pairs
        .iter()
        .map(|(k, v)| {
            let key: &'static str = Box::leak(format!("filter[{k}]").into_boxed_str());
            (key, (*v).to_owned())
        })
        .collect()
}

/// An owner whose organization's log holds a little of everything: sign-up,
/// codes created by the owner and by an admin, a failed and a good log-in.
pub(crate) struct Scene {
    pub app: TestApp,
    pub owner: Client,
    pub org_id: OrgId,
    pub admin_id: UserId,
    pub code_id: String,
}

pub(crate) async fn scene() -> Scene {
    let app = spawn_app().await;
    let (owner_user, owner) = app.signed_up_user().await;
    let org_id = app.org_id_of(&owner_user.email).await;
    let (_, admin, admin_id) = app.member_of(org_id, "admin").await;
    let code = app.create_code(&owner, "A00", "Cholera").await;
    app.create_code(&admin, "B01", "Varicella").await;
    app.create_code(&admin, "C02", "Something else").await;
    let wrong = app
        .log_in(&new_client(), &owner_user.email, "not the password")
        .await;
    assert!(!wrong.status().is_success());
    let right = app
        .log_in(&new_client(), &owner_user.email, &owner_user.password)
        .await;
    assert!(right.status().is_success());
    Scene {
        app,
        owner,
        org_id,
        admin_id,
        code_id: code.id.to_string(),
    }
}

#[tokio::test]
async fn each_filter_narrows_the_log_to_exactly_the_entries_it_names() {
    let Scene {
        app,
        owner,
        org_id,
        admin_id,
        code_id,
    } = scene().await;
    let all = app.all_seqs(org_id).await;
    let everything = app.audit_page(&owner, &[]).await;
    assert_eq!(seqs(&everything), all);
    assert!(everything.older.is_none() && everything.newer.is_none());

    // A middle stretch of time, by two entries' own timestamps.
    let entries = &everything.entries;
    let rfc3339 = |e: &AuditEntryOut| e.occurred_at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let from = rfc3339(&entries[entries.len() - 3]);
    let to = rfc3339(&entries[1]);
    let admin = admin_id.to_string();

    let cases: Vec<FilterCase> = vec![
        (
            vec![("action", "code.created")],
            "action = $2",
            "code.created",
        ),
        (
            vec![("actor_kind", "anonymous")],
            "actor_kind = $2::actor_kind",
            "anonymous",
        ),
        (vec![("actor_id", &admin)], "actor_id = $2::uuid", &admin),
        (
            vec![("actor_kind", "user"), ("actor_id", &admin)],
            "actor_kind = 'user' and actor_id = $2::uuid",
            &admin,
        ),
        (
            vec![("resource_type", "code")],
            "resource_type = $2",
            "code",
        ),
        (
            vec![("resource_id", &code_id)],
            "resource_id = $2",
            &code_id,
        ),
        (
            vec![("resource_type", "code"), ("resource_id", &code_id)],
            "resource_type = 'code' and resource_id = $2",
            &code_id,
        ),
        (
            vec![("outcome", "failure")],
            "outcome = $2::audit_outcome",
            "failure",
        ),
        (
            vec![("action", "user.login"), ("outcome", "success")],
            "action = $2 and outcome = 'success'",
            "user.login",
        ),
    ];
    for (pairs, condition, arg) in cases {
        let expected = app.seqs_where(org_id, condition, arg).await;
        let got = seqs(&app.audit_page(&owner, &form(&pairs)).await);
        assert_eq!(got, expected, "{pairs:?}");
        assert!(
            !got.is_empty() && got.len() < all.len(),
            "{pairs:?} should narrow the log, not empty it: {got:?} of {all:?}"
        );
    }

    // From (inclusive) to (exclusive).
    let expected: Vec<i64> = sqlx::query_scalar(
        "select seq from audit_log
         where organization_id = $1 and occurred_at >= $2::timestamptz
           and occurred_at < $3::timestamptz
         order by seq desc",
    )
    .bind(org_id)
    .bind(&from)
    .bind(&to)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    let got = seqs(
        &app.audit_page(&owner, &form(&[("from", &from), ("to", &to)]))
            .await,
    );
    assert_eq!(got, expected);
    assert!(!got.is_empty() && got.len() < all.len(), "{got:?}");
}

#[tokio::test]
async fn a_bad_filter_value_is_refused_with_its_field() {
    let app = spawn_app().await;
    let (_, owner) = app.signed_up_user().await;
    for (field, value) in [
        ("action", "code.exploded"),
        ("actor_id", "not-a-uuid"),
        ("actor_kind", "robot"),
        ("from", "yesterday"),
    ] {
        let response = app
            .call(&owner, "audit/list", &form(&[(field, value)]))
            .await;
        assert_eq!(response.status(), 422, "{field}");
        let error = app_error(response).await;
        assert_eq!(error.code, ErrorCode::Validation);
        assert_eq!(error.field.as_deref(), Some(field));
    }
}

#[tokio::test]
async fn keyset_pages_have_no_gaps_or_duplicates_while_entries_are_added() {
    let app = spawn_app().await;
    let (user, owner) = app.signed_up_user().await;
    let org_id = app.org_id_of(&user.email).await;
    app.record_entries(org_id, 130).await;
    let top = app.all_seqs(org_id).await[0];

    // Unfiltered: every seq from the first page's newest down to 1.
    let mut seen = Vec::new();
    let mut page = app.audit_page(&owner, &[]).await;
    let first_page = seqs(&page);
    assert_eq!(first_page.len(), 50);
    assert_eq!(first_page[0], top);
    let mut second_page_newer = None;
    loop {
        seen.extend(seqs(&page));
        // Newer entries keep arriving between pages.
        app.record_entries(org_id, 7).await;
        let Some(older) = page.older else {
            break;
        };
        page = app
            .audit_page(&owner, &[("before", older.to_string())])
            .await;
        if second_page_newer.is_none() {
            second_page_newer = Some(page.newer.expect("a newer page"));
        }
    }
    let expected: Vec<i64> = (1..=top).rev().collect();
    assert_eq!(seen, expected);

    // "Newer" from the second page is the first page again, not the
    // entries that arrived since.
    let newer = app
        .audit_page(
            &owner,
            &[("before", second_page_newer.unwrap().to_string())],
        )
        .await;
    assert_eq!(seqs(&newer), first_page);

    // Filtered: the same, among matching entries only.
    let expected = app.seqs_where(org_id, "action = $2", "code.updated").await;
    let filter = form(&[("action", "code.updated")]);
    let mut seen = Vec::new();
    let mut page = app.audit_page(&owner, &filter).await;
    let newest_at_start = seqs(&page)[0];
    loop {
        seen.extend(seqs(&page));
        app.record_entries(org_id, 5).await;
        let Some(older) = page.older else {
            break;
        };
        let mut next = filter.clone();
        next.push(("before", older.to_string()));
        page = app.audit_page(&owner, &next).await;
    }
    let expected: Vec<i64> = expected
        .into_iter()
        .filter(|seq| *seq <= newest_at_start)
        .collect();
    assert!(expected.len() > 50, "more than a page: {}", expected.len());
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn members_and_managers_are_refused_the_audit_log_and_admins_are_not() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_up_user().await;
    let org_id = app.org_id_of(&owner.email).await;
    for role in ["member", "manager", "admin"] {
        let (_, client, _) = app.member_of(org_id, role).await;
        let refused = role != "admin";
        for (endpoint, form) in [
            ("audit/list", vec![]),
            ("audit/get", vec![("seq", "1".to_owned())]),
            ("audit/verify", vec![]),
        ] {
            let response = app.call(&client, endpoint, &form).await;
            if refused {
                assert_eq!(response.status(), 403, "{role} {endpoint}");
                assert_eq!(app_error(response).await.code, ErrorCode::Forbidden);
            } else {
                assert!(response.status().is_success(), "{role} {endpoint}");
            }
        }
        for format in ["csv", "ndjson"] {
            let response = client
                .get(format!("{}/audit/export.{format}", app.address))
                .send()
                .await
                .unwrap();
            if refused {
                let (status, error) = api_error(response).await;
                assert_eq!(status, 403, "{role} {format}");
                assert_eq!(error.code, ErrorCode::Forbidden);
            } else {
                assert_eq!(response.status(), 200, "{role} {format}");
            }
        }
    }
    // Nobody signed in: asked to.
    let response = new_client()
        .get(format!("{}/audit/export.csv", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn another_organizations_entries_are_not_found_and_never_listed_or_exported() {
    let app = spawn_app().await;
    let (a_user, a_client) = app.signed_up_user().await;
    let a_org = app.org_id_of(&a_user.email).await;
    app.record_entries(a_org, 20).await;
    let a_ids: Vec<Uuid> =
        sqlx::query_scalar("select id from audit_log where organization_id = $1")
            .bind(a_org)
            .fetch_all(&app.db.superuser)
            .await
            .unwrap();
    let a_top = app.all_seqs(a_org).await[0];

    let (b_user, b_client) = app.signed_up_user().await;
    let b_org = app.org_id_of(&b_user.email).await;
    let b_top = app.all_seqs(b_org).await[0];
    assert!(a_top > b_top + 1);

    // A seq only A's chain has: not found in B.
    let response = app
        .call(&b_client, "audit/get", &[("seq", a_top.to_string())])
        .await;
    assert_eq!(response.status(), 404);
    // A seq both have: B's own entry, never A's.
    let entry: AuditEntryOut = body_of(
        app.call(&b_client, "audit/get", &[("seq", "1".into())])
            .await,
    )
    .await;
    let b_first: Uuid =
        sqlx::query_scalar("select id from audit_log where organization_id = $1 and seq = 1")
            .bind(b_org)
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(entry.id, b_first);

    // Nothing of A's in B's list, even asked for by A's actor, or in B's export.
    let a_owner = app.user_id_of(&a_user.email).await.to_string();
    let page = app
        .audit_page(&b_client, &form(&[("actor_id", &a_owner)]))
        .await;
    assert_eq!(seqs(&page), Vec::<i64>::new());
    let page = app.audit_page(&b_client, &[]).await;
    for entry in &page.entries {
        assert!(!a_ids.contains(&entry.id));
    }
    let export = b_client
        .get(format!("{}/audit/export.ndjson", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in export.lines() {
        let entry: AuditEntryOut =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(!a_ids.contains(&entry.id), "{line}");
    }
    // And A still sees its own.
    assert_eq!(
        seqs(&app.audit_page(&a_client, &[]).await)[0],
        a_top,
        "A's newest entry"
    );
}
