//! The codes routes of the REST API end to end: list, create, read,
//! change with If-Match, delete, restore, versions and diffs, comments,
//! import and export.
use app::model::codes::{
    ChangeType, CodeOut, CommentOut, Diff, FieldChange, ImportSummary, Severity, VersionOut,
};
use app::model::ErrorCode;
use reqwest::{header, Method};
use serde::Deserialize;
use serde_json::json;

use crate::helpers::{body_of, spawn_app, Page};
use crate::rest::{api_error, Api};

/// The answer of `GET /api/v1/codes/{id}/diff`, as it goes over the wire
/// (the server's own type only serializes).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionDiff {
    from: i32,
    to: i32,
    changes: Diff,
}

#[tokio::test]
async fn a_code_is_created_read_listed_and_paged_through_the_api() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;

    let response = api
        .post(
            "/api/v1/codes",
            json!({"code": "S72.0", "description": "Fracture of head and neck of femur"}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let id = {
        let headers = response.headers().clone();
        let created: CodeOut = body_of(response).await;
        let id = created.id;
        assert_eq!(
            headers[header::LOCATION],
            format!("/api/v1/codes/{id}").as_str()
        );
        assert_eq!(headers[header::ETAG], "\"1\"");
        assert_eq!(created.version, 1);
        assert!(created.content.active);
        id
    };

    let read = api.get(&format!("/api/v1/codes/{id}")).await;
    assert_eq!(read.status().as_u16(), 200);
    assert_eq!(read.headers()[header::ETAG], "\"1\"");
    let read: CodeOut = body_of(read).await;
    assert_eq!(read.content.code.as_str(), "S72.0");

    for n in 0..55 {
        api.create_code(&format!("A{n:02}"), "Filler").await;
    }
    let first: Page<CodeOut> = body_of(api.get("/api/v1/codes").await).await;
    assert_eq!(first.items.len(), 50);
    let cursor = first.next_cursor.expect("a cursor to the second page");
    let second: Page<CodeOut> =
        body_of(api.get(&format!("/api/v1/codes?cursor={cursor}")).await).await;
    assert_eq!(second.items.len(), 6);
    assert_eq!(second.next_cursor, None);

    let searched: Page<CodeOut> = body_of(
        api.get("/api/v1/codes?q=S72&severity=medium&active=true&sort=updated")
            .await,
    )
    .await;
    let found: Vec<_> = searched.items.iter().map(|c| c.id).collect();
    assert_eq!(found, [id]);
}

#[tokio::test]
async fn a_change_needs_the_current_etag_and_a_stale_one_changes_nothing() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let code = api.create_code("S72.0", "Fracture of femur").await;
    let path = format!("/api/v1/codes/{}", code.id);

    let missing = api
        .request(Method::PATCH, &path)
        .json(&json!({"description": "No precondition"}))
        .send()
        .await
        .unwrap();
    let (status, body) = api_error(missing).await;
    assert_eq!((status, body.code), (428, ErrorCode::PreconditionRequired));

    let changed = api
        .request(Method::PATCH, &path)
        .header(header::IF_MATCH, "\"1\"")
        .json(&json!({"description": "Fracture of neck of femur", "comment": "more precise"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status().as_u16(), 200);
    assert_eq!(changed.headers()[header::ETAG], "\"2\"");
    let changed: CodeOut = body_of(changed).await;
    assert_eq!(changed.content.description, "Fracture of neck of femur");
    assert_eq!(
        changed.content.severity,
        Severity::High,
        "fields not sent keep their value"
    );

    let stale = api
        .request(Method::PATCH, &path)
        .header(header::IF_MATCH, "\"1\"")
        .json(&json!({"description": "Lost update"}))
        .send()
        .await
        .unwrap();
    let (status, body) = api_error(stale).await;
    assert_eq!((status, body.code), (412, ErrorCode::PreconditionFailed));
    let now: CodeOut = body_of(api.get(&path).await).await;
    assert_eq!(now.content.description, "Fracture of neck of femur");
    assert_eq!(now.version, 2);

    let malformed = api
        .request(Method::PATCH, &path)
        .header(header::IF_MATCH, "2")
        .json(&json!({"description": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(malformed).await.0, 400);

    let stale_delete = api
        .request(Method::DELETE, &path)
        .header(header::IF_MATCH, "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(stale_delete).await.0, 412);
    assert_eq!(app.count("code_versions").await, 2);
}

#[tokio::test]
async fn a_deleted_code_is_restored_and_its_versions_and_diffs_read_back() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let code = api.create_code("S72.0", "Fracture of femur").await;
    let id = code.id;
    let path = format!("/api/v1/codes/{id}");
    let changed = api
        .request(Method::PATCH, &path)
        .header(header::IF_MATCH, "\"1\"")
        .json(&json!({"description": "Fracture of neck of femur", "active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status().as_u16(), 200);

    let deleted = api
        .request(Method::DELETE, &path)
        .header(header::IF_MATCH, "\"2\"")
        .json(&json!({"comment": "duplicate"}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 200);
    let deleted: CodeOut = body_of(deleted).await;
    assert!(deleted.deleted_at.is_some());
    let listed: Page<CodeOut> = body_of(api.get("/api/v1/codes?deleted=true").await).await;
    assert_eq!(listed.items[0].id, id);

    let restored = api
        .post(&format!("{path}/restore"), json!({"version": 1}))
        .await;
    assert_eq!(restored.status().as_u16(), 200);
    assert_eq!(restored.headers()[header::ETAG], "\"4\"");
    let restored: CodeOut = body_of(restored).await;
    assert_eq!(restored.deleted_at, None);
    assert_eq!(restored.content.description, "Fracture of femur");

    let versions: Page<VersionOut> = body_of(api.get(&format!("{path}/versions")).await).await;
    let changes: Vec<ChangeType> = versions.items.iter().map(|v| v.change).collect();
    assert_eq!(
        changes,
        [
            ChangeType::Restore,
            ChangeType::Delete,
            ChangeType::Update,
            ChangeType::Create
        ]
    );
    let one: VersionOut = body_of(api.get(&format!("{path}/versions/3")).await).await;
    assert_eq!(one.comment.as_deref(), Some("duplicate"));
    assert_eq!(
        api_error(api.get(&format!("{path}/versions/9")).await)
            .await
            .0,
        404
    );

    let diff: VersionDiff = body_of(api.get(&format!("{path}/diff?from=1&to=2")).await).await;
    assert_eq!((diff.from, diff.to), (1, 2));
    assert_eq!(
        diff.changes.get("active"),
        Some(&FieldChange {
            old: json!(true),
            new: json!(false)
        })
    );
    assert_eq!(
        diff.changes.keys().collect::<Vec<_>>(),
        ["active", "description"]
    );
    assert_eq!(
        api_error(api.get(&format!("{path}/diff?from=1")).await)
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn comments_are_written_edited_listed_and_deleted_through_the_api() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let code = api.create_code("S72.0", "Fracture of femur").await;
    let path = format!("/api/v1/codes/{}/comments", code.id);

    let created = api
        .post(&path, json!({"version": 1, "body": "Check the laterality"}))
        .await;
    assert_eq!(created.status().as_u16(), 201);
    let location = created.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let comment: CommentOut = body_of(created).await;
    assert_eq!(location, format!("{path}/{}", comment.id));

    let edited = api
        .request(Method::PATCH, &location)
        .json(&json!({"body": "Check laterality (right)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status().as_u16(), 200);
    let listed: Page<CommentOut> = body_of(api.get(&path).await).await;
    assert_eq!(listed.items[0].body, "Check laterality (right)");
    assert!(listed.items[0].edited_at.is_some());

    let on_no_version = api.post(&path, json!({"version": 7, "body": "?"})).await;
    assert_eq!(api_error(on_no_version).await.0, 404);

    assert_eq!(api.delete(&location).await.status().as_u16(), 204);
    assert_eq!(api_error(api.get(&location).await).await.0, 404);
}

#[tokio::test]
async fn a_csv_file_imports_with_a_dry_run_and_bad_rows_by_line_then_exports() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let csv = "code,description,category,severity\nA00.0,\"Cholera, classical\",Infectious,high\nA00.1,Cholera eltor,Infectious,low\n";
    let post_csv = |query: &'static str, body: &'static str| {
        api.request(Method::POST, &format!("/api/v1/codes/import{query}"))
            .header(header::CONTENT_TYPE, "text/csv")
            .body(body)
            .send()
    };

    let dry: ImportSummary = body_of(post_csv("?dry_run=true", csv).await.unwrap()).await;
    assert_eq!((dry.dry_run, dry.created), (true, 2));
    assert_eq!(app.count("codes").await, 0);

    let bad = post_csv("", "code,description,category\nA00,,X\nA01,Fine,X\nA02\n")
        .await
        .unwrap();
    let (status, body) = api_error(bad).await;
    assert_eq!(status, 422);
    let rows = body.details.and_then(|d| d.rows).expect("the bad rows");
    let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, [2, 4]);
    assert_eq!(app.count("codes").await, 0);

    let done = post_csv("", csv).await.unwrap();
    assert_eq!(done.status().as_u16(), 200);
    let done: ImportSummary = body_of(done).await;
    assert_eq!(done.created, 2);

    let exported = api.get("/api/v1/codes/export").await;
    assert_eq!(exported.status().as_u16(), 200);
    assert!(exported.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert_eq!(
        exported.text().await.unwrap(),
        "code,description,category,severity,active\nA00.0,\"Cholera, classical\",Infectious,high,true\nA00.1,Cholera eltor,Infectious,low,true\n"
    );
    let json: Vec<CodeOut> = body_of(
        api.get("/api/v1/codes/export?format=json&severity=low")
            .await,
    )
    .await;
    assert_eq!(json.len(), 1);
    assert_eq!(json[0].content.code.as_str(), "A00.1");
    assert_eq!(
        api_error(api.get("/api/v1/codes/export?format=xml").await)
            .await
            .0,
        400
    );
}
