//! The import history and undoing an import: back to the catalogue before
//! it code for code, refused (naming the codes) when any changed since,
//! once only under parallel requests, permissions and tenancy.
use app::model::codes::{CodeOut, ImportOut, ImportSummary, UndoOut};
use app::model::{ErrorCode, ImportId, OrgId};
use reqwest::{header, Method, StatusCode};
use serde_json::json;

use crate::code_files::shared_data;
use crate::helpers::{app_error, body_of, spawn_app, Page, TestApp};
use crate::rest::{api_error, Api};

impl Api {
    async fn import_bytes(&self, body: Vec<u8>, query: &str) -> ImportSummary {
        let response = self
            .request(Method::POST, &format!("/api/v1/codes/import?{query}"))
            .header(header::CONTENT_TYPE, "text/csv")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        body_of(response).await
    }

    async fn undo(&self, id: ImportId, dry_run: bool) -> reqwest::Response {
        self.request(
            Method::POST,
            &format!("/api/v1/imports/{id}/undo?dry_run={dry_run}"),
        )
        .send()
        .await
        .unwrap()
    }

    async fn imports(&self) -> Vec<ImportOut> {
        let page: Page<ImportOut> = body_of(self.get("/api/v1/imports").await).await;
        page.items
    }
}

/// Every live code of the organization as (code, description, category,
/// severity, active), in code order, read past row-level security.
async fn live_catalogue(app: &TestApp, org: OrgId) -> Vec<(String, String, String, String, bool)> {
    sqlx::query_as(
        "select code, description, category, severity::text, active from codes
         where organization_id = $1 and deleted_at is null order by code_key",
    )
    .bind(org)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap()
}

async fn count(app: &TestApp, sql: &str, org: OrgId) -> i64 {
    sqlx::query_scalar(sql)
        .bind(org)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap()
}

#[tokio::test]
async fn undoing_the_2026_import_gives_back_the_2024_catalogue_code_for_code() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let org = app.org_id_of(&api.user.email).await;
    app.upgrade_to_enterprise(org).await;
    api.import_bytes(shared_data("icd10cm-2024.csv.gz"), "file_name=2024.csv.gz")
        .await;
    let before = live_catalogue(&app, org).await;
    assert_eq!(
        api.post("/api/v1/releases", json!({"name": "2024"}))
            .await
            .status(),
        StatusCode::CREATED
    );
    let upgrade = api
        .import_bytes(
            shared_data("icd10cm-2026.csv.gz"),
            "file_name=2026.csv.gz&delete_missing=true",
        )
        .await;
    let upgrade_id = upgrade.import_id.expect("a recorded import");
    assert_ne!(live_catalogue(&app, org).await, before);

    let history = api.imports().await;
    assert_eq!(
        history
            .iter()
            .map(|i| i.file_name.as_str())
            .collect::<Vec<_>>(),
        ["2026.csv.gz", "2024.csv.gz"],
        "newest first"
    );
    let recorded = &history[0];
    assert_eq!(recorded.id, upgrade_id);
    assert_eq!(
        (
            recorded.created,
            recorded.updated,
            recorded.deleted,
            recorded.delete_missing
        ),
        (upgrade.created, upgrade.updated, upgrade.deleted, true)
    );
    assert_eq!(recorded.created_by.kind, "user");
    assert!(recorded.undone.is_none());

    let events_before = count(
        &app,
        "select count(*) from outbox where organization_id = $1 and event_type like 'code.%'",
        org,
    )
    .await;
    let dry: UndoOut = body_of(api.undo(upgrade_id, true).await).await;
    assert!(dry.dry_run && dry.changed_since.is_empty());
    assert_eq!(
        (dry.reverted, dry.deleted, dry.restored),
        (upgrade.updated, upgrade.created, upgrade.deleted)
    );
    assert_ne!(
        live_catalogue(&app, org).await,
        before,
        "a dry run changes nothing"
    );

    let undone: UndoOut = body_of(api.undo(upgrade_id, false).await).await;
    assert!(!undone.dry_run);
    assert_eq!(
        (undone.reverted, undone.deleted, undone.restored),
        (dry.reverted, dry.deleted, dry.restored)
    );
    assert!(undone.import.undone.is_some());
    assert_eq!(live_catalogue(&app, org).await, before);
    let log: app::model::releases::ChangelogOut =
        body_of(api.get("/api/v1/releases/2024/changelog?to=live").await).await;
    assert_eq!(
        (log.counts.added, log.counts.removed, log.counts.changed),
        (0, 0, 0),
        "the live catalogue is release 2024 again"
    );

    // One new version and one event per code it touched, tagged with no
    // import; one audit entry.
    let touched = upgrade.created + upgrade.updated + upgrade.deleted;
    let events_after = count(
        &app,
        "select count(*) from outbox where organization_id = $1 and event_type like 'code.%'",
        org,
    )
    .await;
    assert_eq!((events_after - events_before) as u64, touched);
    let undo_versions = count(
        &app,
        "select count(*) from code_versions
         where organization_id = $1 and comment = 'Undid the import of 2026.csv.gz'
           and import_id is null",
        org,
    )
    .await;
    assert_eq!(undo_versions as u64, touched);
    assert_eq!(
        count(
            &app,
            "select count(*) from audit_log
             where organization_id = $1 and action = 'codes.import_undone'",
            org,
        )
        .await,
        1
    );

    // Once only.
    let (status, error) = api_error(api.undo(upgrade_id, false).await).await;
    assert_eq!((status, error.code), (409, ErrorCode::Conflict));
    assert!(
        error.message.contains("undone already"),
        "{}",
        error.message
    );
    assert!(api.imports().await[0].undone.is_some());
}

fn csv(rows: &[&str]) -> Vec<u8> {
    let mut file = "code,description,category\n".to_owned();
    for row in rows {
        file.push_str(row);
        file.push('\n');
    }
    file.into_bytes()
}

async fn patch(api: &Api, code: &CodeOut, description: &str) {
    let response = api
        .request(Method::PATCH, &format!("/api/v1/codes/{}", code.id))
        .header(header::IF_MATCH, format!("\"{}\"", code.version))
        .json(&json!({"description": description}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// The code `code`, live or deleted.
async fn code_named(api: &Api, code: &str) -> CodeOut {
    for deleted in [false, true] {
        let page: Page<CodeOut> = body_of(
            api.get(&format!("/api/v1/codes?q={code}&deleted={deleted}"))
                .await,
        )
        .await;
        if let Some(found) = page
            .items
            .into_iter()
            .find(|c| c.content.code.as_str() == code)
        {
            return found;
        }
    }
    panic!("no code {code}")
}

#[tokio::test]
async fn an_undo_after_a_later_edit_is_refused_names_the_code_and_changes_nothing() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let org = app.org_id_of(&api.user.email).await;
    api.import_bytes(
        csv(&[
            "A00,Cholera,Infectious",
            "B01,Varicella,Infectious",
            "C02,Gone,Old",
        ]),
        "",
    )
    .await;
    api.delete_code(&code_named(&api, "C02").await).await;
    let second = api
        .import_bytes(
            csv(&[
                "A00,Cholera (edited),Infectious",
                "B01,Varicella (edited),Infectious",
                "C02,Back again,New",
                "D03,Brand new,New",
            ]),
            "file_name=second.csv",
        )
        .await;
    assert_eq!((second.created, second.updated, second.restored), (1, 2, 1));
    let id = second.import_id.unwrap();
    patch(&api, &code_named(&api, "B01").await, "Edited by hand").await;
    let catalogue = live_catalogue(&app, org).await;
    let versions = count(
        &app,
        "select count(*) from code_versions where organization_id = $1",
        org,
    )
    .await;

    let dry: UndoOut = body_of(api.undo(id, true).await).await;
    assert_eq!(dry.changed_since_count, 1);
    assert_eq!(dry.changed_since[0].code.as_str(), "B01");
    assert_eq!(
        (
            dry.changed_since[0].imported_version,
            dry.changed_since[0].version
        ),
        (2, 3)
    );
    let (status, error) = api_error(api.undo(id, false).await).await;
    assert_eq!((status, error.code), (409, ErrorCode::Conflict));
    assert!(error.message.contains("B01"), "{}", error.message);
    let named = error.details.unwrap().codes.unwrap();
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].code.as_str(), "B01");
    assert_eq!(live_catalogue(&app, org).await, catalogue);
    assert_eq!(
        count(
            &app,
            "select count(*) from code_versions where organization_id = $1",
            org
        )
        .await,
        versions
    );
    assert!(api.imports().await[0].undone.is_none());

    // The first import, untouched since by anything but the second one, is
    // refused too: the second import changed its codes.
    let first = api.imports().await[1].id;
    let (status, error) = api_error(api.undo(first, false).await).await;
    assert_eq!(status, 409);
    assert_eq!(
        error
            .details
            .unwrap()
            .codes
            .unwrap()
            .iter()
            .map(|c| c.code.as_str())
            .collect::<Vec<_>>(),
        ["A00", "B01", "C02"]
    );
}

#[tokio::test]
async fn an_undo_restores_what_the_import_deleted_and_deletes_what_it_brought_back() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let org = app.org_id_of(&api.user.email).await;
    api.import_bytes(csv(&["A00,Cholera,Infectious", "C02,Gone,Old"]), "")
        .await;
    api.delete_code(&code_named(&api, "C02").await).await;
    let before = live_catalogue(&app, org).await;
    let second = api
        .import_bytes(
            csv(&["C02,Back again,New", "D03,Brand new,New"]),
            "delete_missing=true",
        )
        .await;
    assert_eq!((second.created, second.restored, second.deleted), (1, 1, 1));

    let undone: UndoOut = body_of(api.undo(second.import_id.unwrap(), false).await).await;
    assert_eq!(
        (undone.deleted, undone.restored, undone.reverted),
        (2, 1, 0)
    );
    assert_eq!(live_catalogue(&app, org).await, before);
    // C02 is deleted again with the content it had before the import.
    let c02 = code_named(&api, "C02").await;
    assert!(c02.deleted_at.is_some());
    assert_eq!(c02.content.description, "Gone");
    let events: Vec<String> = sqlx::query_scalar(
        "select event_type from outbox where organization_id = $1 and event_type like 'code.%'
         order by created_at desc, event_type limit 3",
    )
    .bind(org)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    let mut events = events;
    events.sort();
    assert_eq!(events, ["code.deleted", "code.deleted", "code.restored"]);
    let code_count: i32 = sqlx::query_scalar("select code_count from organizations where id = $1")
        .bind(org)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    assert_eq!(code_count, 1, "the plan's count follows the undo");
}

#[tokio::test]
async fn parallel_undos_of_one_import_undo_it_once() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let org = app.org_id_of(&api.user.email).await;
    let rows: Vec<String> = (0..50).map(|i| format!("X{i:02},Code {i},Cat")).collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let id = api.import_bytes(csv(&rows), "").await.import_id.unwrap();

    let statuses = futures::future::join_all((0..8).map(|_| api.undo(id, false))).await;
    let mut statuses: Vec<u16> = statuses.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
    assert!(live_catalogue(&app, org).await.is_empty());
    let newest: Vec<i32> = sqlx::query_scalar(
        "select max(version) from code_versions where organization_id = $1 group by code_id",
    )
    .bind(org)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    assert!(newest.iter().all(|&v| v == 2), "one undo version per code");
}

#[tokio::test]
async fn bad_undo_requests_and_another_organizations_imports_change_nothing() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_up_user().await;
    let org = app.org_id_of(&owner.email).await;
    let a = Api::owner(&app).await;
    let b = Api::owner(&app).await;
    let mine = a
        .import_bytes(csv(&["A00,Cholera,Infectious"]), "")
        .await
        .import_id
        .unwrap();

    // Another organization's import is not there.
    assert_eq!(b.undo(mine, true).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(b.undo(mine, false).await.status(), StatusCode::NOT_FOUND);
    assert!(b.imports().await.is_empty());
    // Nor is an unknown one; a malformed id or cursor is refused.
    assert_eq!(
        a.undo(ImportId::from_u128(7), false).await.status(),
        StatusCode::NOT_FOUND
    );
    let malformed = a
        .request(Method::POST, "/api/v1/imports/not-a-uuid/undo")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let bad_flag = a
        .request(
            Method::POST,
            &format!("/api/v1/imports/{mine}/undo?dry_run=maybe"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bad_flag.status(), StatusCode::BAD_REQUEST);
    let (status, error) = api_error(a.get("/api/v1/imports?cursor=%25%25").await).await;
    assert_eq!((status, error.field()), (422, Some("cursor")));
    assert!(a.imports().await[0].undone.is_none());
    assert_eq!(
        a.get("/api/v1/codes").await.status(),
        StatusCode::OK,
        "the code is still there"
    );

    // Members read the history; managers and up undo.
    let (_, member, _) = app.member_of(org, "member").await;
    let (_, manager, _) = app.member_of(org, "manager").await;
    let token = crate::rest::api_credential(&app, &owner).await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/codes/import", app.address))
        .bearer_auth(token)
        .header(header::CONTENT_TYPE, "text/csv")
        .body(csv(&["Z99,Zed,Cat"]))
        .send()
        .await
        .unwrap();
    let owner_import: ImportSummary = body_of(response).await;
    let id = owner_import.import_id.unwrap().to_string();
    let listed: app::model::codes::ImportPage =
        body_of(app.call(&member, "codes/imports", &[]).await).await;
    assert_eq!(listed.imports.len(), 1);
    assert_eq!(
        app_error(
            app.call(&member, "codes/import_undo", &[("id", id.clone())])
                .await
        )
        .await
        .code,
        ErrorCode::Forbidden
    );
    let undone: UndoOut =
        body_of(app.call(&manager, "codes/import_undo", &[("id", id)]).await).await;
    assert_eq!(undone.deleted, 1);
}

#[tokio::test]
async fn an_undo_aborted_to_break_a_deadlock_is_a_conflict_that_changes_nothing() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let org = app.org_id_of(&api.user.email).await;
    let id = api
        .import_bytes(
            csv(&["A00,Cholera,Infectious", "B01,Varicella,Infectious"]),
            "",
        )
        .await
        .import_id
        .unwrap();
    let lock = |code: &'static str| {
        sqlx::query("select 1 from codes where organization_id = $1 and code = $2 for update")
            .bind(org)
            .bind(code)
    };
    // Another writer holds B01; the undo locks A00, then waits for B01;
    // the writer then asks for A00. The undo, waiting longer, is the one
    // PostgreSQL aborts to break the cycle.
    let mut writer = app.db.superuser.begin().await.unwrap();
    lock("B01").execute(&mut *writer).await.unwrap();
    let close_the_cycle = async {
        // The undo's statement that locks the import's codes, waiting.
        let waiting = "select count(*) from pg_stat_activity
                       where datname = current_database() and wait_event_type = 'Lock'
                         and query like '%for update of c%'";
        for _ in 0..1000 {
            let n: i64 = sqlx::query_scalar(waiting)
                .fetch_one(&app.db.superuser)
                .await
                .unwrap();
            if n > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        lock("A00").execute(&mut *writer).await.unwrap();
    };
    let (undo, ()) = tokio::join!(api.undo(id, false), close_the_cycle);
    let (status, error) = api_error(undo).await;
    assert_eq!((status, error.code), (409, ErrorCode::Conflict));
    assert!(error.message.contains("Try again"), "{}", error.message);
    writer.rollback().await.unwrap();

    assert!(api.imports().await[0].undone.is_none(), "nothing changed");
    assert_eq!(live_catalogue(&app, org).await.len(), 2);
    let again: UndoOut = body_of(api.undo(id, false).await).await;
    assert_eq!(again.deleted, 2);
}
