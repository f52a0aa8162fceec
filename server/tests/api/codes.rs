//! Diagnostic codes under version control: every rule of SPEC §4 against
//! the real server and database.
use app::model::codes::{
    ChangeType, CodeHistory, CodeOut, CodePage, CommentOut, Diff, FieldChange, Severity,
};
use app::model::{ErrorCode, OrgId};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{app_error, body_of, spawn_app, TestApp};

pub(crate) type Form = Vec<(&'static str, String)>;

pub(crate) fn code_form(code: &str, description: &str) -> Form {
    vec![
        ("code", code.into()),
        ("description", description.into()),
        ("category", "Injury".into()),
        ("severity", "high".into()),
        ("active", "on".into()),
    ]
}

impl TestApp {
    pub async fn create_code(
        &self,
        client: &reqwest::Client,
        code: &str,
        description: &str,
    ) -> CodeOut {
        body_of(
            self.call(client, "codes/create", &code_form(code, description))
                .await,
        )
        .await
    }

    /// Submits an edit of `id` based on `version`.
    pub async fn update_code(
        &self,
        client: &reqwest::Client,
        id: &str,
        version: i64,
        description: &str,
    ) -> reqwest::Response {
        let mut form = code_form("S72.0", description);
        form.push(("id", id.into()));
        form.push(("version", version.to_string()));
        self.call(client, "codes/update", &form).await
    }

    pub async fn code_history(&self, client: &reqwest::Client, id: &str) -> reqwest::Response {
        self.call(client, "codes/history", &[("id", id.into())])
            .await
    }

    /// `(version, change)` of every version of a code, oldest first.
    pub async fn versions_of(&self, id: &str) -> Vec<(i32, String)> {
        sqlx::query_as(
            "select version, change::text from code_versions where code_id = $1 order by version",
        )
        .bind(Uuid::parse_str(id).unwrap())
        .fetch_all(&self.db.superuser)
        .await
        .unwrap()
    }

    pub async fn count_where(&self, table: &str, org_id: OrgId) -> i64 {
        sqlx::query_scalar(&format!(
            "select count(*) from {table} where organization_id = $1"
        ))
        .bind(org_id)
        .fetch_one(&self.db.superuser)
        .await
        .unwrap()
    }

    pub async fn list_codes(&self, client: &reqwest::Client, filter: &[(&str, &str)]) -> CodePage {
        let form: Vec<(String, String)> = filter
            .iter()
            .map(|(k, v)| (format!("filter[{k}]"), v.to_string()))
            .collect();
        let form: Vec<(&str, String)> = form.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        body_of(self.call(client, "codes/list", &form).await).await
    }

    /// Lifts the organization's plan limits (for imports of whole releases).
    pub async fn upgrade_to_enterprise(&self, org: OrgId) {
        sqlx::query("update organizations set plan = 'enterprise' where id = $1")
            .bind(org)
            .execute(&self.db.superuser)
            .await
            .unwrap();
    }

    /// Posts a CSV body to the import route.
    pub async fn import_csv(
        &self,
        client: &reqwest::Client,
        body: Vec<u8>,
        query: &str,
    ) -> reqwest::Response {
        client
            .post(format!("{}/codes/import?{query}", self.address))
            .body(body)
            .send()
            .await
            .unwrap()
    }
}

pub(crate) fn id_of(code: &CodeOut) -> String {
    code.id.to_string()
}

#[tokio::test]
async fn a_new_code_has_a_create_version_an_audit_entry_and_an_event() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await;

    let code = app
        .create_code(&client, " s72.0 ", "Fracture of neck of femur")
        .await;

    assert_eq!(code.content.code.as_str(), "s72.0");
    assert_eq!(code.version, 1);
    assert_eq!(code.content.severity, Severity::High);
    assert_eq!(
        app.versions_of(&id_of(&code)).await,
        [(1, "create".to_owned())]
    );
    let events: Vec<String> = sqlx::query_scalar(
        "select event_type from outbox where organization_id = $1 and event_type like 'code.%'",
    )
    .bind(org)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(events, ["code.created"]);
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where organization_id = $1 and action = 'code.created'",
    )
    .bind(org)
    .fetch_one(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_code_is_unique_per_organization_whatever_its_case_but_not_across_organizations() {
    let app = spawn_app().await;
    let (_, alice) = app.signed_up_user().await;
    let (_, bob) = app.signed_up_user().await;
    app.create_code(&alice, "S72.0", "Fracture").await;

    let again = app
        .call(&alice, "codes/create", &code_form("s72.0", "Again"))
        .await;
    assert_eq!(again.status().as_u16(), 409);
    let error = app_error(again).await;
    assert_eq!(error.code, ErrorCode::Conflict);
    assert_eq!(error.field.as_deref(), Some("code"));
    app.create_code(&bob, "S72.0", "Same code, other organization")
        .await;
}

#[tokio::test]
async fn bad_input_gets_a_field_error_and_writes_nothing() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await;

    for (field, form) in [
        ("code", code_form("", "No code")),
        ("code", code_form("S72 0", "Space in code")),
        ("description", code_form("A00", "")),
        ("description", code_form("A00", &"x".repeat(1001))),
        ("description", code_form("A00", "bidi \u{202E} trick")),
        ("severity", {
            let mut f = code_form("A00", "Bad severity");
            f[3].1 = "urgent".into();
            f
        }),
    ] {
        let response = app.call(&client, "codes/create", &form).await;
        assert_eq!(response.status().as_u16(), 422, "{field}");
        assert_eq!(app_error(response).await.field.as_deref(), Some(field));
    }
    assert_eq!(app.count_where("codes", org).await, 0);
}

#[tokio::test]
async fn an_update_that_changes_nothing_writes_nothing() {
    let app = spawn_app().await;
    let (user, client) = app.signed_up_user().await;
    let org = app.org_id_of(&user.email).await;
    let code = app.create_code(&client, "S72.0", "Fracture of femur").await;
    let (audit_before, events_before) = (
        app.count_where("audit_log", org).await,
        app.count_where("outbox", org).await,
    );

    let response = app
        .update_code(&client, &id_of(&code), 1, "Fracture of femur")
        .await;

    let same: CodeOut = body_of(response).await;
    assert_eq!(same.version, 1);
    assert_eq!(app.versions_of(&id_of(&code)).await.len(), 1);
    assert_eq!(app.count_where("audit_log", org).await, audit_before);
    assert_eq!(app.count_where("outbox", org).await, events_before);
}

#[tokio::test]
async fn an_update_writes_a_diff_of_the_changed_fields_only() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let code = app.create_code(&client, "S72.0", "Fracture of femur").await;

    let updated: CodeOut = body_of(
        app.update_code(&client, &id_of(&code), 1, "Fracture of neck of femur")
            .await,
    )
    .await;

    assert_eq!(updated.version, 2);
    let history: CodeHistory = body_of(app.code_history(&client, &id_of(&code)).await).await;
    let newest = &history.versions[0];
    assert_eq!(newest.change, ChangeType::Update);
    assert_eq!(
        newest.diff,
        Some(Diff::from([(
            "description".to_owned(),
            FieldChange {
                old: json!("Fracture of femur"),
                new: json!("Fracture of neck of femur"),
            }
        )]))
    );
}

#[tokio::test]
async fn a_deleted_code_is_restored_as_a_new_version() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let code = app.create_code(&client, "S72.0", "Fracture of femur").await;
    let id = id_of(&code);

    let deleted = app
        .call(
            &client,
            "codes/delete",
            &[("id", id.clone()), ("version", "1".into())],
        )
        .await;
    assert!(deleted.status().is_success());
    let live = app.list_codes(&client, &[]).await;
    assert_eq!(live.codes.len(), 0);
    let bin = app.list_codes(&client, &[("deleted", "true")]).await;
    assert_eq!(bin.codes[0].id.to_string(), id);

    let restored = app
        .call(
            &client,
            "codes/restore",
            &[("id", id.clone()), ("version", "1".into())],
        )
        .await;

    let restored: CodeOut = body_of(restored).await;
    assert_eq!(restored.deleted_at, None);
    assert_eq!(restored.version, 3);
    assert_eq!(
        app.versions_of(&id).await,
        [
            (1, "create".into()),
            (2, "delete".into()),
            (3, "restore".into())
        ]
    );
}

#[tokio::test]
async fn restoring_an_earlier_version_brings_back_its_content() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let code = app.create_code(&client, "S72.0", "First words").await;
    let id = id_of(&code);
    app.update_code(&client, &id, 1, "Second words").await;

    let restored: CodeOut = body_of(
        app.call(
            &client,
            "codes/restore",
            &[("id", id.clone()), ("version", "1".into())],
        )
        .await,
    )
    .await;

    assert_eq!(restored.content.description, "First words");
    assert_eq!(restored.version, 3);
    let history: CodeHistory = body_of(app.code_history(&client, &id).await).await;
    assert_eq!(history.versions.len(), 3);
    assert_eq!(
        history.versions[0].comment.as_deref(),
        Some("Restored version 1")
    );
}

#[tokio::test]
async fn search_finds_words_in_any_order_and_code_prefixes() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    app.create_code(
        &client,
        "S72.00",
        "Fracture of unspecified part of neck of right femur",
    )
    .await;
    app.create_code(&client, "S72.1", "Pertrochanteric fracture of femur")
        .await;
    app.create_code(&client, "S82.0", "Fracture of patella")
        .await;
    app.create_code(&client, "A00.0", "Cholera due to Vibrio cholerae")
        .await;

    let codes = |page: CodePage| -> Vec<String> {
        page.codes
            .into_iter()
            .map(|c| c.content.code.to_string())
            .collect()
    };
    assert_eq!(
        codes(app.list_codes(&client, &[("q", "femur fracture")]).await),
        ["S72.00", "S72.1"]
    );
    assert_eq!(
        codes(app.list_codes(&client, &[("q", "fract")]).await),
        ["S72.00", "S72.1", "S82.0"]
    );
    assert_eq!(
        codes(app.list_codes(&client, &[("q", "s72")]).await),
        ["S72.00", "S72.1"]
    );
    assert_eq!(
        codes(app.list_codes(&client, &[("q", "S72.0")]).await),
        ["S72.00"]
    );
    assert_eq!(
        codes(app.list_codes(&client, &[("q", "cholera vibrio")]).await),
        ["A00.0"]
    );
    assert!(codes(app.list_codes(&client, &[("q", "femur cholera")]).await).is_empty());
}

#[tokio::test]
async fn keyset_pages_walk_the_whole_list_once() {
    let app = spawn_app().await;
    let (_, client) = app.signed_up_user().await;
    let mut csv = String::from("code,description,category\n");
    for i in 0..120 {
        csv.push_str(&format!("C{i:03},Description {i},Cat\n"));
    }
    let imported = app
        .import_csv(&client, csv.into_bytes(), "file_name=many.csv")
        .await;
    assert_eq!(imported.status().as_u16(), 200);

    for sort in ["code", "updated"] {
        let mut seen = Vec::new();
        let mut after = String::new();
        loop {
            let page = app
                .list_codes(&client, &[("sort", sort), ("after", after.as_str())])
                .await;
            seen.extend(page.codes.iter().map(|c| c.content.code.to_string()));
            match page.next.as_deref() {
                Some(next) => after = next.to_owned(),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((seen.len(), unique.len()), (120, 120), "{sort}");
    }
    let bad = app
        .list_codes_raw(&client, &[("after", "not-a-cursor")])
        .await;
    assert_eq!(bad.status().as_u16(), 422);
}

impl TestApp {
    async fn list_codes_raw(
        &self,
        client: &reqwest::Client,
        filter: &[(&str, &str)],
    ) -> reqwest::Response {
        let form: Vec<(String, String)> = filter
            .iter()
            .map(|(k, v)| (format!("filter[{k}]"), v.to_string()))
            .collect();
        let form: Vec<(&str, String)> = form.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        self.call(client, "codes/list", &form).await
    }
}

#[tokio::test]
async fn a_viewer_reads_but_cannot_change_codes_and_a_member_cannot_delete() {
    let app = spawn_app().await;
    let (owner_user, owner) = app.signed_up_user().await;
    let org = app.org_id_of(&owner_user.email).await;
    let (_, viewer, _) = app.member_of(org, "viewer").await;
    let (_, member, _) = app.member_of(org, "member").await;
    let code = app.create_code(&owner, "S72.0", "Fracture").await;
    let id = id_of(&code);

    assert!(app.code_history(&viewer, &id).await.status().is_success());
    let create = app
        .call(&viewer, "codes/create", &code_form("A00", "No"))
        .await;
    assert_eq!(create.status().as_u16(), 403);
    let delete = app
        .call(&member, "codes/delete", &[("id", id.clone())])
        .await;
    assert_eq!(delete.status().as_u16(), 403);
    let import = app
        .import_csv(&member, b"code,description,category\nA,b,c\n".to_vec(), "")
        .await;
    assert_eq!(import.status().as_u16(), 403);
    assert_eq!(app.count_where("codes", org).await, 1);
}

#[tokio::test]
async fn another_organizations_code_is_not_found_by_any_route_and_nothing_changes() {
    let app = spawn_app().await;
    let (victim_user, victim) = app.signed_up_user().await;
    let (_, attacker) = app.signed_up_user().await;
    let victim_org = app.org_id_of(&victim_user.email).await;
    let code = app.create_code(&victim, "S72.0", "Secret").await;
    let id = id_of(&code);
    let comment: CommentOut = body_of(
        app.call(
            &victim,
            "codes/comment",
            &[
                ("code_id", id.clone()),
                ("version", "1".into()),
                ("body", "Mine".into()),
            ],
        )
        .await,
    )
    .await;
    let comment_id = comment.id.to_string();
    let versions_before = app.versions_of(&id).await;

    let mut update = code_form("S72.0", "Stolen");
    update.push(("id", id.clone()));
    update.push(("version", "1".into()));
    let attempts: Vec<(&str, Form)> = vec![
        ("codes/history", vec![("id", id.clone())]),
        ("codes/update", update),
        ("codes/delete", vec![("id", id.clone())]),
        (
            "codes/restore",
            vec![("id", id.clone()), ("version", "1".into())],
        ),
        (
            "codes/comment",
            vec![
                ("code_id", id.clone()),
                ("version", "1".into()),
                ("body", "x".into()),
            ],
        ),
        (
            "codes/comment_edit",
            vec![("id", comment_id.clone()), ("body", "x".into())],
        ),
        ("codes/comment_delete", vec![("id", comment_id.clone())]),
    ];
    for (endpoint, form) in attempts {
        let response = app.call(&attacker, endpoint, &form).await;
        assert_eq!(response.status().as_u16(), 404, "{endpoint}");
    }
    let listed = app.list_codes(&attacker, &[("q", "S72")]).await;
    assert!(listed.codes.is_empty());
    let export = attacker
        .get(format!("{}/codes/export.json", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!export.contains("Secret"), "{export}");

    assert_eq!(app.versions_of(&id).await, versions_before);
    assert_eq!(app.count_where("code_comments", victim_org).await, 1);
    let history: CodeHistory = body_of(app.code_history(&victim, &id).await).await;
    assert_eq!(history.code.content.description, "Secret");
}
