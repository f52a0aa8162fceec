//! Releases through the REST API: cut while others write, browse, export,
//! changelogs between the two ICD-10-CM releases, permissions and tenancy.
use app::model::codes::{CodeOut, Severity};
use app::model::releases::{ChangeKind, ChangelogOut, ReleaseOut, ReleasedCodeOut};
use app::model::ErrorCode;
use reqwest::{header, Method, StatusCode};
use serde_json::json;

use crate::code_files::shared_data;
use crate::helpers::{app_error, body_of, spawn_app, Page, TestApp};
use crate::rest::{api_error, Api};

impl Api {
    async fn cut(&self, name: &str) -> reqwest::Response {
        self.post(
            "/api/v1/releases",
            json!({"name": name, "description": "Cut by a test"}),
        )
        .await
    }

    async fn import_file(&self, file: &str, delete_missing: bool) {
        let response = self
            .request(
                Method::POST,
                &format!("/api/v1/codes/import?delete_missing={delete_missing}"),
            )
            .header(header::CONTENT_TYPE, "text/csv")
            .body(shared_data(file))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{file}");
    }

    async fn changelog(&self, from: &str, to: &str, extra: &str) -> reqwest::Response {
        self.get(&format!("/api/v1/releases/{from}/changelog?to={to}{extra}"))
            .await
    }
}

impl TestApp {
    /// A release server function (`releases/cut`, `releases/delete`) on
    /// the release `name`, as the browser calls it.
    async fn release_call(
        &self,
        client: &reqwest::Client,
        endpoint: &str,
        name: &str,
    ) -> reqwest::Response {
        self.call(client, endpoint, &[("name", name.to_owned())])
            .await
    }
}

async fn enterprise_owner(app: &TestApp) -> Api {
    let api = Api::owner(app).await;
    app.upgrade_to_enterprise(app.org_id_of(&api.user.email).await)
        .await;
    api
}

#[tokio::test]
async fn a_release_holds_every_live_code_at_its_version_and_keeps_it_after_changes() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let kept = api.create_code("S72.0", "Fracture of neck of femur").await;
    let deleted = api.create_code("A00", "Cholera").await;
    let gone = api.create_code("B99", "Removed before the release").await;
    api.delete_code(&gone).await;

    let response = api.cut("2026.1").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()[header::LOCATION],
        "/api/v1/releases/2026.1"
    );
    let release: ReleaseOut = body_of(response).await;
    assert_eq!((release.name.as_str(), release.code_count), ("2026.1", 2));

    // Later changes do not reach the release.
    let edited = api
        .request(Method::PATCH, &format!("/api/v1/codes/{}", kept.id))
        .header(header::IF_MATCH, "\"1\"")
        .json(&json!({"description": "Edited after the release"}))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), StatusCode::OK);
    api.delete_code(&deleted).await;

    let page: Page<ReleasedCodeOut> = body_of(api.get("/api/v1/releases/2026.1/codes").await).await;
    let held: Vec<(&str, &str, i32)> = page
        .items
        .iter()
        .map(|c| {
            (
                c.content.code.as_str(),
                c.content.description.as_str(),
                c.version,
            )
        })
        .collect();
    assert_eq!(
        held,
        [
            ("A00", "Cholera", 1),
            ("S72.0", "Fracture of neck of femur", 1)
        ]
    );
    assert_eq!(page.next_cursor, None);

    // Searched and filtered as the live list is.
    let found: Page<ReleasedCodeOut> =
        body_of(api.get("/api/v1/releases/2026.1/codes?q=femur").await).await;
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].id, kept.id);
    let by_prefix: Page<ReleasedCodeOut> =
        body_of(api.get("/api/v1/releases/2026.1/codes?q=A0").await).await;
    assert_eq!(by_prefix.items[0].id, deleted.id);
    let none: Page<ReleasedCodeOut> = body_of(
        api.get("/api/v1/releases/2026.1/codes?severity=critical")
            .await,
    )
    .await;
    assert!(none.items.is_empty());

    let csv = api.get("/api/v1/releases/2026.1/export?format=csv").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(
        csv.text().await.unwrap(),
        format!(
            "code,description,category,severity,active\n\
             A00,Cholera,Injury,{s},true\n\
             S72.0,Fracture of neck of femur,Injury,{s},true\n",
            s = Severity::High.as_str()
        )
    );
    let json: Vec<ReleasedCodeOut> =
        body_of(api.get("/api/v1/releases/2026.1/export?format=json").await).await;
    assert_eq!(json, page.items);

    let listed: Page<ReleaseOut> = body_of(api.get("/api/v1/releases").await).await;
    assert_eq!(listed.items, [release]);
}

#[tokio::test]
async fn a_release_cut_while_32_writers_edit_holds_exactly_the_versions_committed_before_it() {
    let app = spawn_app().await;
    let api = std::sync::Arc::new(enterprise_owner(&app).await);
    let mut codes: Vec<CodeOut> = Vec::new();
    for i in 0..64 {
        codes.push(
            api.create_code(&format!("W{i:02}"), "Written by many")
                .await,
        );
    }

    let writers = (0..32).map(|w| {
        let api = api.clone();
        let mine = [codes[w * 2].clone(), codes[w * 2 + 1].clone()];
        tokio::spawn(async move {
            for round in 0..6 {
                for code in &mine {
                    let version = round + 1;
                    let response = api
                        .request(Method::PATCH, &format!("/api/v1/codes/{}", code.id))
                        .header(header::IF_MATCH, format!("\"{version}\""))
                        .json(&json!({"description": format!("Round {round} of writer {w}")}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                }
                let fresh = api
                    .create_code(&format!("N{w:02}-{round}"), "Made while cutting")
                    .await;
                assert_eq!(fresh.version, 1);
            }
        })
    });
    let writers: Vec<_> = writers.collect();
    // Cut while the writers are under way.
    let release: ReleaseOut = body_of(api.cut("mid-flight").await).await;
    for writer in writers {
        writer.await.unwrap();
    }

    let org = app.org_id_of(&api.user.email).await;
    // Every code's newest version that the release's snapshot saw (and
    // that left the code live) is exactly what it holds.
    let (expected, held, mismatched): (i64, i64, i64) = sqlx::query_as(
        "with r as (select id, snapshot from releases where organization_id = $1 and name = $2),
         seen as (
             select distinct on (v.code_id) v.code_id, v.version, v.snapshot
             from code_versions v, r
             where v.organization_id = $1
               and pg_visible_in_snapshot(v.xmin::text::xid8, r.snapshot)
             order by v.code_id, v.version desc
         ),
         expected as (
             select code_id, version from seen where not (snapshot->>'deleted')::boolean
         ),
         held as (
             select rc.code_id, rc.version from release_codes rc, r
             where rc.organization_id = $1 and rc.release_id = r.id
         )
         select (select count(*) from expected), (select count(*) from held),
                (select count(*) from (
                    (select * from expected except select * from held)
                    union all
                    (select * from held except select * from expected)) x)",
    )
    .bind(org)
    .bind("mid-flight")
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(mismatched, 0, "expected {expected}, held {held}");
    assert_eq!(held, i64::from(release.code_count));
    let total = app.count_where("codes", org).await;
    assert_eq!(total, 64 + 32 * 6);
    assert!(
        (64..=total).contains(&held),
        "the release holds the first 64 codes and some of the new ones"
    );
}

#[tokio::test]
async fn the_changelog_from_icd10cm_2024_to_2026_counts_751_added_64_removed_694_changed() {
    let app = spawn_app().await;
    let api = enterprise_owner(&app).await;
    api.import_file("icd10cm-2024.csv.gz", false).await;
    assert_eq!(api.cut("2024").await.status(), StatusCode::CREATED);
    api.import_file("icd10cm-2026.csv.gz", true).await;
    assert_eq!(api.cut("2026").await.status(), StatusCode::CREATED);

    let mut log: ChangelogOut = body_of(api.changelog("2024", "2026", "").await).await;
    assert_eq!(
        (log.counts.added, log.counts.removed, log.counts.changed),
        (751, 64, 694)
    );
    let mut changes = std::mem::take(&mut log.changes);
    while let Some(cursor) = log.next_cursor.take() {
        log = body_of(
            api.changelog("2024", "2026", &format!("&cursor={cursor}"))
                .await,
        )
        .await;
        changes.append(&mut log.changes);
    }
    assert_eq!(changes.len(), 751 + 64 + 694);
    let mut keys: Vec<String> = changes.iter().map(|c| c.code.to_uppercase()).collect();
    let in_order = keys.clone();
    keys.sort();
    assert_eq!(keys, in_order, "in code order, across pages");
    for change in &changes {
        match change.kind {
            ChangeKind::Added => assert!(change.before.is_none() && change.after.is_some()),
            ChangeKind::Removed => assert!(change.before.is_some() && change.after.is_none()),
            ChangeKind::Changed => assert!(!change.diff.as_ref().unwrap().is_empty()),
        }
    }
    // From 2026 to now: nothing, as nothing changed since.
    let since: ChangelogOut = body_of(api.changelog("2026", "live", "").await).await;
    assert_eq!(
        (
            since.counts.added,
            since.counts.removed,
            since.counts.changed
        ),
        (0, 0, 0)
    );

    let markdown = api
        .changelog("2024", "2026", "&format=markdown")
        .await
        .text()
        .await
        .unwrap();
    assert!(markdown.contains("751 added, 64 removed, 694 changed."));
    for (title, count) in [("Added", 751), ("Removed", 64), ("Changed", 694)] {
        assert!(
            markdown.contains(&format!("## {title} ({count})")),
            "{title}"
        );
    }
    assert_eq!(
        markdown.lines().filter(|l| l.starts_with("- `")).count(),
        751 + 64 + 694
    );

    let csv = api
        .changelog("2024", "2026", "&format=csv")
        .await
        .text()
        .await
        .unwrap();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let mut counts = std::collections::HashMap::<String, usize>::new();
    for row in rows.records() {
        *counts.entry(row.unwrap()[0].to_owned()).or_default() += 1;
    }
    assert_eq!(
        (counts["added"], counts["removed"], counts["changed"]),
        (751, 64, 694)
    );
}

#[tokio::test]
async fn refused_release_requests_change_nothing() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    api.create_code("A00", "Cholera").await;
    assert_eq!(api.cut("2026.1").await.status(), StatusCode::CREATED);

    let (status, error) = api_error(api.cut("2026.1").await).await;
    assert_eq!(
        (status, error.code, error.field()),
        (409, ErrorCode::Conflict, Some("name"))
    );
    for bad in ["", "../etc", "a b", ".dot", &"x".repeat(65)] {
        let (status, error) = api_error(api.cut(bad).await).await;
        assert_eq!((status, error.field()), (422, Some("name")), "{bad:?}");
    }
    let (status, _) = api_error(api.get("/api/v1/releases/nope").await).await;
    assert_eq!(status, 404);
    let (status, _) = api_error(api.get("/api/v1/releases/..%2Fx/codes").await).await;
    assert_eq!(status, 404);
    let (status, error) = api_error(api.changelog("2026.1", "nope", "").await).await;
    assert_eq!((status, error.field()), (422, Some("to")));
    let (status, error) = api_error(api.changelog("2026.1", "live", "&cursor=%25%25").await).await;
    assert_eq!((status, error.field()), (422, Some("cursor")));
    let (status, error) =
        api_error(api.get("/api/v1/releases/2026.1/codes?cursor=%25%25").await).await;
    assert_eq!((status, error.field()), (422, Some("cursor")));

    let listed: Page<ReleaseOut> = body_of(api.get("/api/v1/releases").await).await;
    assert_eq!(listed.items.len(), 1);
}

#[tokio::test]
async fn another_organizations_releases_are_not_found_and_not_listed() {
    let app = spawn_app().await;
    let a = Api::owner(&app).await;
    let b = Api::owner(&app).await;
    a.create_code("A00", "Cholera").await;
    assert_eq!(a.cut("secret").await.status(), StatusCode::CREATED);
    assert_eq!(b.cut("mine").await.status(), StatusCode::CREATED);

    for path in [
        "/api/v1/releases/secret",
        "/api/v1/releases/secret/codes",
        "/api/v1/releases/secret/export",
        "/api/v1/releases/secret/changelog",
    ] {
        assert_eq!(b.get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let (status, error) = api_error(b.changelog("mine", "secret", "").await).await;
    assert_eq!((status, error.field()), (422, Some("to")));
    assert_eq!(
        b.delete("/api/v1/releases/secret").await.status(),
        StatusCode::NOT_FOUND
    );
    let listed: Page<ReleaseOut> = body_of(b.get("/api/v1/releases").await).await;
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].name.as_str(), "mine");
    // A's release is whole.
    let held: Page<ReleasedCodeOut> = body_of(a.get("/api/v1/releases/secret/codes").await).await;
    assert_eq!(held.items.len(), 1);
}

#[tokio::test]
async fn managers_cut_releases_only_admins_delete_them_and_both_are_audited() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let (_, member, _) = app.member_of(org, "member").await;
    let (_, manager, _) = app.member_of(org, "manager").await;
    let (_, admin, _) = app.member_of(org, "admin").await;
    let cut = |client, name| app.release_call(client, "releases/cut", name);
    let delete = |client, name| app.release_call(client, "releases/delete", name);

    assert_eq!(
        app_error(cut(&member, "by-member").await).await.code,
        ErrorCode::Forbidden
    );
    let made: ReleaseOut = body_of(cut(&manager, "by-manager").await).await;
    assert_eq!(made.name.as_str(), "by-manager");
    assert_eq!(
        app_error(delete(&manager, "by-manager").await).await.code,
        ErrorCode::Forbidden
    );
    assert!(delete(&admin, "by-manager").await.status().is_success());
    assert_eq!(
        app_error(delete(&admin, "by-manager").await).await.code,
        ErrorCode::NotFound
    );
    let listed: Vec<ReleaseOut> = body_of(app.call(&member, "releases/list", &[]).await).await;
    assert!(listed.is_empty());
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_log where organization_id = $1 and action like 'release.%'
         order by seq",
    )
    .bind(org)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(actions, ["release.published", "release.deleted"]);
    let events: i64 = sqlx::query_scalar(
        "select count(*) from outbox where organization_id = $1 and event_type = 'release.published'",
    )
    .bind(org)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(events, 1);
}

#[tokio::test]
async fn an_operator_cuts_lists_and_compares_releases_from_the_command_line() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    api.create_code("A00", "Cholera").await;
    let slug: String = sqlx::query_scalar(
        "select o.slug from organizations o join memberships m on m.organization_id = o.id
         join users u on u.id = m.user_id where u.email = $1",
    )
    .bind(&api.user.email)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    let run = |args: &[&str]| {
        let output = app.cli(args);
        let err = String::from_utf8_lossy(&output.stderr).into_owned();
        (
            output.status.success(),
            String::from_utf8(output.stdout).unwrap(),
            err,
        )
    };

    let (ok, out, err) = run(&["release", "cut", "--org", &slug, "2026.1"]);
    assert!(ok, "{err}");
    assert_eq!(out, "release 2026.1 cut with 1 codes\n");
    let (ok, _, err) = run(&["release", "cut", "--org", &slug, "2026.1"]);
    assert!(
        !ok && err.contains("already a release named 2026.1"),
        "{err}"
    );
    api.create_code("B01", "Varicella").await;
    let (ok, out, _) = run(&["release", "list", "--org", &slug]);
    assert!(
        ok && out.starts_with("2026.1\t") && out.contains("\t1 codes\t"),
        "{out}"
    );
    let (ok, out, err) = run(&["release", "changelog", "--org", &slug, "2026.1"]);
    assert!(ok, "{err}");
    assert!(out.contains("1 added, 0 removed, 0 changed.") && out.contains("- `B01` Varicella"));
    let (ok, out, _) = run(&["release", "changelog", "--org", &slug, "2026.1", "--csv"]);
    assert!(
        ok && out
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("added,B01,Varicella"),
        "{out}"
    );
}
