//! Codes in and out as files: the CSV import (all or nothing, line numbers
//! of bad rows, progress) and the CSV and JSON exports, against the real
//! server and database.
use app::model::codes::{CodeOut, ImportPhase, ImportReport, ImportSummary, ImportUpdate};
use app::model::ErrorCode;
use reqwest::header;

use crate::helpers::{body_of, spawn_app};

pub(crate) fn shared_data(file: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// code → (description, category) of a release file.
pub(crate) fn release(file: &str) -> std::collections::HashMap<String, (String, String)> {
    use std::io::Read as _;
    let mut text = String::new();
    flate2::read::GzDecoder::new(shared_data(file).as_slice())
        .read_to_string(&mut text)
        .unwrap();
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_uppercase(), (r[1].to_owned(), r[2].to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn importing_two_icd10cm_releases_writes_exactly_their_differences() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await;
    app.upgrade_to_enterprise(org).await;
    let (old, new) = (
        release("icd10cm-2024.csv.gz"),
        release("icd10cm-2026.csv.gz"),
    );
    let created = new.keys().filter(|k| !old.contains_key(*k)).count();
    let deleted = old.keys().filter(|k| !new.contains_key(*k)).count();
    let updated = new
        .iter()
        .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
        .count();

    let first = app
        .import_csv(
            &client,
            shared_data("icd10cm-2024.csv.gz"),
            "file_name=icd10cm-2024.csv.gz",
        )
        .await;
    assert_eq!(first.status().as_u16(), 200);
    let first = summary_of(first).await;
    assert_eq!(first.created, old.len() as u64);

    let second = summary_of(
        app.import_csv(
            &client,
            shared_data("icd10cm-2026.csv.gz"),
            "file_name=icd10cm-2026.csv.gz&delete_missing=true",
        )
        .await,
    )
    .await;
    assert_eq!(
        (second.created, second.updated, second.deleted),
        (created as u64, updated as u64, deleted as u64)
    );
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "select change::text, count(*) from code_versions where organization_id = $1
         group by 1 order by 1",
    )
    .bind(org)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(
        counts,
        [
            ("create".to_owned(), (old.len() + created) as i64),
            ("delete".to_owned(), deleted as i64),
            ("update".to_owned(), updated as i64),
        ]
    );

    let versions_before = app.count_where("code_versions", org).await;
    let again = summary_of(
        app.import_csv(
            &client,
            shared_data("icd10cm-2026.csv.gz"),
            "delete_missing=true",
        )
        .await,
    )
    .await;
    assert_eq!(again.unchanged, new.len() as u64);
    assert_eq!(app.count_where("code_versions", org).await, versions_before);
    let live: i32 = sqlx::query_scalar("select code_count from organizations where id = $1")
        .bind(org)
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    assert_eq!(live as usize, new.len());
}

#[tokio::test]
async fn a_file_with_one_bad_row_writes_nothing_and_names_the_line() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await;
    let csv = "code,description,category,severity\nA00,Cholera,Infectious,low\nA01,Typhoid,Infectious,urgent\nA02,Salmonella,Infectious,\n";

    let response = app.import_csv(&client, csv.as_bytes().to_vec(), "").await;

    assert_eq!(response.status().as_u16(), 422);
    let report: ImportReport = response.json().await.unwrap();
    assert_eq!(report.errors[0].line, 3);
    assert_eq!(report.summary, None);
    assert_eq!(app.count_where("codes", org).await, 0);
    assert_eq!(app.count_where("code_versions", org).await, 0);
}

#[tokio::test]
async fn a_dry_run_counts_and_writes_nothing() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await;
    let audit_before = app.count_where("audit_log", org).await;

    let summary = summary_of(
        app.import_csv(
            &client,
            b"code,description,category\nA00,Cholera,Inf\n".to_vec(),
            "dry_run=true",
        )
        .await,
    )
    .await;

    assert_eq!(summary.created, 1);
    assert!(summary.dry_run);
    assert_eq!(app.count_where("codes", org).await, 0);
    assert_eq!(app.count_where("audit_log", org).await, audit_before);
}

#[tokio::test]
async fn an_export_imports_back_to_the_same_codes() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let csv = "code,description,category,severity,active\nA00,\"Cholera, \"\"classical\"\"\",Infectious,low,true\nB01,Varicella,Infectious,high,false\n";
    app.import_csv(&client, csv.as_bytes().to_vec(), "").await;

    let exported = client
        .get(format!("{}/codes/export.csv", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        exported.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    let exported = exported.text().await.unwrap();
    assert_eq!(exported, csv);

    let again = summary_of(app.import_csv(&client, exported.into_bytes(), "").await).await;
    assert_eq!(again.unchanged, 2);
    let json: Vec<CodeOut> = body_of(
        client
            .get(format!("{}/codes/export.json?q=varicella", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(json.len(), 1);
    assert_eq!(json[0].content.code.as_str(), "B01");
}

#[tokio::test]
async fn a_streamed_import_reports_progress_then_its_summary() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await;
    let mut csv = String::from("code,description,category\n");
    for i in 0..900 {
        csv.push_str(&format!("D{i:03},Description {i},Cat\n"));
    }

    let response = app
        .import_csv(
            &client,
            csv.into_bytes(),
            "progress=ndjson&file_name=big.csv",
        )
        .await;

    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/x-ndjson"
    );
    let text = response.text().await.unwrap();
    let updates: Vec<ImportUpdate> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let progress: Vec<_> = updates
        .iter()
        .filter_map(|u| match u {
            ImportUpdate::Progress(p) => Some(p),
            _ => None,
        })
        .collect();
    let phases: Vec<ImportPhase> = progress.iter().map(|p| p.phase).collect();
    assert!(
        phases.contains(&ImportPhase::Reading) && phases.contains(&ImportPhase::Writing),
        "{phases:?}"
    );
    let last_writing = progress
        .iter()
        .rfind(|p| p.phase == ImportPhase::Writing)
        .unwrap();
    assert_eq!(last_writing.done, 900, "{text}");
    assert_eq!(last_writing.total, 900);
    let Some(ImportUpdate::Report(report)) = updates.last() else {
        panic!("the last update is not the report: {text}");
    };
    assert_eq!(report.summary.as_ref().map(|s| s.created), Some(900));
    assert_eq!(app.count_where("codes", org).await, 900);
}

#[tokio::test]
async fn formula_cells_are_escaped_on_export_and_import_back_unchanged() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let csv = "code,description,category,severity,active\n\
               +A01,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",@risk,low,true\n\
               -B02,'quoted by its author,Plain,high,true\n";
    let imported = app.import_csv(&client, csv.as_bytes().to_vec(), "").await;
    assert_eq!(imported.status().as_u16(), 200);

    let exported = client
        .get(format!("{}/codes/export.csv", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cells: Vec<csv::StringRecord> = csv::Reader::from_reader(exported.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(&cells[0][0], "'+A01");
    assert_eq!(&cells[0][1], "'=HYPERLINK(\"http://evil.example\",\"x\")");
    assert_eq!(&cells[0][2], "'@risk");
    assert_eq!(&cells[1][0], "'-B02");
    assert_eq!(&cells[1][1], "''quoted by its author");

    let again = summary_of(app.import_csv(&client, exported.into_bytes(), "").await).await;
    assert_eq!(again.unchanged, 2, "{again:?}");
    let json: Vec<CodeOut> = body_of(
        client
            .get(format!("{}/codes/export.json", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(json[0].content.code.as_str(), "+A01");
    assert_eq!(
        json[0].content.description,
        "=HYPERLINK(\"http://evil.example\",\"x\")"
    );
    assert_eq!(json[1].content.description, "'quoted by its author");
}

#[tokio::test]
async fn a_windows_file_names_its_bad_rows_by_their_real_line() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let csv =
        "code,description,category\r\nA00,Fine,Cat\r\nA01,\"Two\r\nlines\",Cat\r\n,No code,Cat\r\n";

    let response = app.import_csv(&client, csv.as_bytes().to_vec(), "").await;

    assert_eq!(response.status().as_u16(), 422);
    let report: ImportReport = response.json().await.unwrap();
    let lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 5], "{report:?}");
}

/// The summary of an import that went through, or the test fails with
/// its bad rows.
async fn summary_of(response: reqwest::Response) -> ImportSummary {
    let report: ImportReport = body_of(response).await;
    report
        .summary
        .unwrap_or_else(|| panic!("no summary: {:?}", report.errors))
}

const IMPORTED: usize = 3_000;

/// A file of `IMPORTED` codes, each described with `label`.
fn file_of_codes(label: &str) -> Vec<u8> {
    let mut csv = String::from("code,description,category\n");
    for i in 0..IMPORTED {
        csv.push_str(&format!("E{i:04},{label} disorder number {i},Endocrine\n"));
    }
    csv.into_bytes()
}

/// How long an import that changes every one of `IMPORTED` codes takes on
/// a server that first edited `single_edits` of them one at a time.
async fn update_import_after(single_edits: usize) -> std::time::Duration {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await;
    app.upgrade_to_enterprise(org).await;
    let created = app.import_csv(&client, file_of_codes("Old"), "").await;
    assert_eq!(created.status().as_u16(), 200);
    let edited: Vec<(uuid::Uuid, String)> = sqlx::query_as(
        "select id, code from codes where organization_id = $1 order by code_key limit $2",
    )
    .bind(org)
    .bind(single_edits as i64)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    for (id, code) in edited {
        let form = [
            ("id", id.to_string()),
            ("version", "1".to_owned()),
            ("code", code),
            ("description", "Edited by hand".to_owned()),
            ("category", "Endocrine".to_owned()),
            ("severity", "medium".to_owned()),
            ("active", "on".to_owned()),
        ];
        let response = app.call(&client, "codes/update", &form).await;
        assert!(response.status().is_success(), "{}", response.status());
    }

    let started = std::time::Instant::now();
    let response = app.import_csv(&client, file_of_codes("New"), "").await;
    let report: ImportReport = body_of(response).await;
    let took = started.elapsed();
    assert_eq!(
        report.summary.as_ref().map(|s| s.updated),
        Some(IMPORTED as u64),
        "{report:?}"
    );
    took
}

/// PostgreSQL keeps a trigger's plans per connection: one planned for a
/// single edit must not be what a large import runs with.
#[tokio::test]
async fn an_import_after_single_edits_takes_as_long_as_on_a_fresh_server() {
    let fresh = update_import_after(0).await;
    let after_edits = update_import_after(200).await;

    assert!(
        after_edits <= fresh * 2 + std::time::Duration::from_millis(500),
        "{IMPORTED} codes imported in {fresh:?} on a fresh server, \
         {after_edits:?} after 200 single edits"
    );
}

#[tokio::test]
async fn an_import_beyond_the_servers_cap_is_told_to_come_back_later() {
    let app = crate::helpers::spawn_app_with(|s| s.max_imports = 1).await;
    let (user, client) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await;
    let file = b"code,description,category\nA00,Cholera,Infectious\n".to_vec();
    let running = app.import_slots.try_take().expect("a free slot");

    let refused = app.import_csv(&client, file.clone(), "").await;
    assert_eq!(refused.headers()[header::RETRY_AFTER], "30");
    let (status, error) = crate::rest::api_error(refused).await;
    assert_eq!(status, 429);
    assert_eq!(error.code, ErrorCode::RateLimited);
    assert_eq!(app.count_where("codes", org).await, 0);

    drop(running);
    let imported = app.import_csv(&client, file, "").await;
    assert_eq!(imported.status().as_u16(), 200);
    assert_eq!(app.count_where("codes", org).await, 1);
}
