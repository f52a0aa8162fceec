//! The API against its own OpenAPI document, by schemathesis (PyPI, in the
//! tools venv that `scripts/bootstrap.sh test` makes): generated requests,
//! valid and not, to every operation; no answer may be a 5xx, and every
//! answer must match the documented schema and content type.
use app::model::codes::{CommentOut, ImportSummary};
use app::model::members::InvitationOut;
use app::model::webhooks::{EndpointWithSecret, TestSendOut};
use reqwest::{header, Method};
use serde_json::json;
use std::process::Command;

use crate::api_keys::ALL_SCOPES;
use crate::helpers::{body_of, spawn_app};
use crate::rest::Api;

/// The Python with schemathesis: `CODEBOOK_PYTHON` (the tools venv, as
/// `scripts/test.sh` sets it). None, loudly, when it is missing outside
/// CI; in CI a missing schemathesis fails the test.
fn schemathesis_python() -> Option<String> {
    let python = std::env::var("CODEBOOK_PYTHON").unwrap_or_else(|_| "python3".into());
    let present = Command::new(&python)
        .args(["-c", "import schemathesis"])
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        return Some(python);
    }
    if std::env::var_os("CI").is_some() {
        panic!("schemathesis is not installed for {python}: run scripts/bootstrap.sh test");
    }
    eprintln!(
        "\n\n*** SKIPPED: schemathesis is not installed for `{python}` (set CODEBOOK_PYTHON to \
         the tools venv's python, or run scripts/bootstrap.sh test). CI runs this test. ***\n\n"
    );
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_as_its_openapi_document_says_under_schemathesis() {
    let Some(python) = schemathesis_python() else {
        return;
    };
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    // Something real behind the ids schemathesis is given, so it gets past
    // 404 into every handler.
    let code = api.create_code("S72.0", "Fracture of femur").await;
    let code_id = code.id;
    for n in 0..3 {
        api.create_code(&format!("A0{n}"), "Cholera").await;
    }
    let comment: CommentOut = body_of(
        api.post(
            &format!("/api/v1/codes/{code_id}/comments"),
            json!({"version": 1, "body": "Check the laterality"}),
        )
        .await,
    )
    .await;
    let webhook: EndpointWithSecret = body_of(
        api.post(
            "/api/v1/webhooks",
            json!({"url": "http://127.0.0.1:9/hook", "timeout_seconds": 1}),
        )
        .await,
    )
    .await;
    let webhook_id = webhook.endpoint.id;
    let test: TestSendOut = body_of(
        api.post(&format!("/api/v1/webhooks/{webhook_id}/test"), json!({}))
            .await,
    )
    .await;
    let invitation: InvitationOut = body_of(
        api.post(
            "/api/v1/invitations",
            json!({"email": "grace@example.com", "role": "viewer"}),
        )
        .await,
    )
    .await;
    let imported: ImportSummary = body_of(
        api.request(Method::POST, "/api/v1/codes/import?file_name=schema.csv")
            .header(header::CONTENT_TYPE, "text/csv")
            .body("code,description,category\nB01,Varicella,Infectious\n")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let import_id = imported.import_id.expect("a recorded import");
    let release = api
        .post("/api/v1/releases", json!({"name": "2026.1"}))
        .await;
    assert_eq!(release.status().as_u16(), 201);
    let owner_id = app.user_id_of(&api.user.email).await;
    // The run itself goes through an API key with every scope (and room
    // for schemathesis's pace), as an integration would.
    let token = all_scopes_key(&app, &api.user).await;

    let config = std::env::temp_dir().join(format!("schemathesis-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &config,
        format!(
            "[parameters]\n\
             \"path.code_id\" = \"{code_id}\"\n\
             \"path.comment_id\" = \"{}\"\n\
             \"path.webhook_id\" = \"{webhook_id}\"\n\
             \"path.delivery_id\" = \"{}\"\n\
             \"path.invitation_id\" = \"{}\"\n\
             \"path.user_id\" = \"{owner_id}\"\n\
             \"path.import_id\" = \"{import_id}\"\n\
             \"path.name\" = \"2026.1\"\n",
            comment.id, test.delivery_id, invitation.id,
        ),
    )
    .unwrap();
    let schema = format!("{}/api/v1/openapi.json", app.address);
    let extra = std::env::var("CODEBOOK_SCHEMATHESIS_ARGS").unwrap_or_default();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&python)
            // It keeps a cache folder where it runs: not in the source tree.
            .current_dir(std::env::temp_dir())
            .args(["-m", "schemathesis.cli", "--no-color", "--config-file"])
            .arg(&config)
            .args([
                "run",
                &schema,
                "--checks",
                "not_a_server_error,response_schema_conformance,content_type_conformance",
                "--header",
                &format!("Authorization: Bearer {token}"),
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--max-examples",
                "40",
                "--workers",
                "2",
                "--request-timeout",
                "20",
                "--generation-database",
                "none",
                "--suppress-health-check",
                "all",
            ])
            // More to dig deeper by hand, e.g. `--max-examples 200 --checks all`.
            .args(extra.split_whitespace())
            .output()
            .expect("run schemathesis")
    })
    .await
    .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found problems ({}):\n{text}",
        output.status
    );
    println!("{text}");
}

/// A key with every scope, made by `owner` through the app.
async fn all_scopes_key(app: &crate::helpers::TestApp, owner: &crate::helpers::NewUser) -> String {
    let browser = crate::helpers::new_client();
    let response = app.log_in(&browser, &owner.email, &owner.password).await;
    assert!(response.status().is_success() || response.status().is_redirection());
    app.create_api_key_with(
        &browser,
        "schemathesis",
        &ALL_SCOPES,
        &[("rate_limit_per_minute", "100000")],
    )
    .await
    .secret
}
