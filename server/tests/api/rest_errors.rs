//! How the REST API refuses: always the uniform JSON error with the right
//! status and a request id, and another organization's ids are not found.
use app::model::codes::{CodeOut, CommentOut};
use app::model::members::InvitationOut;
use app::model::webhooks::{EndpointOut, EndpointWithSecret, TestSendOut};
use app::model::ErrorCode;
use reqwest::{header, Method};
use serde_json::{json, Value};

use crate::helpers::{body_of, spawn_app};
use crate::rest::{api_error, Api};

#[tokio::test]
async fn unknown_routes_wrong_methods_and_undecodable_input_get_json_errors() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;

    let (status, body) = api_error(api.get("/api/v1/nothing/here").await).await;
    assert_eq!((status, body.code), (404, ErrorCode::NotFound));
    assert_eq!(api_error(api.get("/api/v1").await).await.0, 404);

    let wrong = api
        .request(Method::PUT, "/api/v1/codes")
        .send()
        .await
        .unwrap();
    assert!(
        wrong.headers().get(header::ALLOW).is_some(),
        "405 says what is allowed"
    );
    let (status, body) = api_error(wrong).await;
    assert_eq!((status, body.code), (405, ErrorCode::MethodNotAllowed));

    let (status, body) = api_error(api.get("/api/v1/codes/not-a-uuid").await).await;
    assert_eq!((status, body.code), (400, ErrorCode::BadRequest));
    assert_eq!(
        api_error(api.get("/api/v1/codes?severity=urgent").await)
            .await
            .0,
        400
    );
    assert_eq!(
        api_error(api.get("/api/v1/codes?active=perhaps").await)
            .await
            .0,
        400
    );
    let (status, body) = api_error(api.get("/api/v1/codes?cursor=%25%25%25").await).await;
    assert_eq!((status, body.field()), (422, Some("cursor")));

    let broken = api
        .request(Method::POST, "/api/v1/codes")
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"code\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(broken).await.0, 400);
    let not_json = api
        .request(Method::POST, "/api/v1/codes")
        .header(header::CONTENT_TYPE, "text/plain")
        .body("code=A")
        .send()
        .await
        .unwrap();
    assert_eq!(api_error(not_json).await.0, 415);
    let wrong_shape = api.post("/api/v1/codes", json!({"code": 7})).await;
    assert_eq!(api_error(wrong_shape).await.0, 422);
    let invalid = api
        .post(
            "/api/v1/codes",
            json!({"code": "S72 0", "description": "x"}),
        )
        .await;
    let (status, body) = api_error(invalid).await;
    assert_eq!((status, body.field()), (422, Some("code")));

    let anonymous = reqwest::Client::new()
        .get(format!("{}/api/v1/codes", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(api_error(anonymous).await.0, 401);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_a_json_413() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let huge = "x".repeat(300 * 1024);

    let response = api
        .post("/api/v1/codes", json!({"code": "A", "description": huge}))
        .await;

    let (status, body) = api_error(response).await;
    assert_eq!((status, body.code), (413, ErrorCode::PayloadTooLarge));
    assert_eq!(app.count("codes").await, 0);
}

#[tokio::test]
async fn every_response_carries_a_request_id_errors_included() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let id = "x-request-id";

    let ok = api.get("/api/v1/codes").await;
    assert_eq!(ok.status().as_u16(), 200);
    assert!(ok.headers().get(id).is_some());
    for response in [
        api.get("/api/v1/nowhere").await,
        api.get("/api/v1/codes/not-a-uuid").await,
        api.request(Method::PUT, "/api/v1/codes")
            .send()
            .await
            .unwrap(),
        reqwest::get(format!("{}/api/v1/me", app.address))
            .await
            .unwrap(),
        api.post(
            "/api/v1/codes",
            json!({"description": "x".repeat(300 * 1024)}),
        )
        .await,
    ] {
        assert!(
            response.headers().get(id).is_some(),
            "{}",
            response.status()
        );
    }
    let mine = api
        .request(Method::GET, "/api/v1/codes")
        .header(id, "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(mine.headers()[id], "client-chosen-42");
}

#[tokio::test]
async fn another_organization_s_ids_are_not_found_on_any_route() {
    let app = spawn_app().await;
    let a = Api::owner(&app).await;
    let b = Api::owner(&app).await;
    let code = a.create_code("S72.0", "Fracture of femur").await;
    let code_id = code.id;
    let comment: CommentOut = body_of(
        a.post(
            &format!("/api/v1/codes/{code_id}/comments"),
            json!({"version": 1, "body": "A's"}),
        )
        .await,
    )
    .await;
    let comment_id = comment.id;
    let webhook: EndpointWithSecret = body_of(
        a.post(
            "/api/v1/webhooks",
            json!({"url": "http://127.0.0.1:9/hook", "timeout_seconds": 1}),
        )
        .await,
    )
    .await;
    let webhook_id = webhook.endpoint.id;
    let test: TestSendOut = body_of(
        a.post(&format!("/api/v1/webhooks/{webhook_id}/test"), json!({}))
            .await,
    )
    .await;
    let delivery_id = test.delivery_id;
    let invitation: InvitationOut = body_of(
        a.post(
            "/api/v1/invitations",
            json!({"email": "grace@example.com", "role": "viewer"}),
        )
        .await,
    )
    .await;
    let invitation_id = invitation.id;
    let a_owner = app.user_id_of(&a.user.email).await;
    let versions_before = app.count("code_versions").await;
    let audit_before = app.count("webhook_deliveries").await;

    let code = format!("/api/v1/codes/{code_id}");
    let comment = format!("{code}/comments/{comment_id}");
    let hook = format!("/api/v1/webhooks/{webhook_id}");
    let delivery = format!("{hook}/deliveries/{delivery_id}");
    let invitation = format!("/api/v1/invitations/{invitation_id}");
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, code.clone(), None),
        (
            Method::PATCH,
            code.clone(),
            Some(json!({"description": "B was here"})),
        ),
        (Method::DELETE, code.clone(), None),
        (
            Method::POST,
            format!("{code}/restore"),
            Some(json!({"version": 1})),
        ),
        (Method::GET, format!("{code}/versions"), None),
        (Method::GET, format!("{code}/versions/1"), None),
        (Method::GET, format!("{code}/diff?from=1&to=1"), None),
        (Method::GET, format!("{code}/comments"), None),
        (
            Method::POST,
            format!("{code}/comments"),
            Some(json!({"version": 1, "body": "B's"})),
        ),
        (Method::GET, comment.clone(), None),
        (Method::PATCH, comment.clone(), Some(json!({"body": "B's"}))),
        (Method::DELETE, comment.clone(), None),
        (Method::GET, format!("/api/v1/members/{a_owner}"), None),
        (Method::GET, invitation.clone(), None),
        (
            Method::POST,
            format!("{invitation}/resend"),
            Some(json!({})),
        ),
        (Method::DELETE, invitation.clone(), None),
        (Method::GET, hook.clone(), None),
        (
            Method::PATCH,
            hook.clone(),
            Some(json!({"description": "B's"})),
        ),
        (Method::DELETE, hook.clone(), None),
        (Method::POST, format!("{hook}/enable"), Some(json!({}))),
        (Method::POST, format!("{hook}/disable"), Some(json!({}))),
        (
            Method::POST,
            format!("{hook}/rotate-secret"),
            Some(json!({})),
        ),
        (Method::POST, format!("{hook}/test"), Some(json!({}))),
        (Method::GET, format!("{hook}/deliveries"), None),
        (Method::GET, delivery.clone(), None),
        (Method::POST, format!("{delivery}/replay"), Some(json!({}))),
        (
            Method::POST,
            format!("{hook}/replay-failed"),
            Some(json!({"since": "2020-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"})),
        ),
    ];
    for (method, path, body) in calls {
        let mut request = b.request(method.clone(), &path);
        if method == Method::PATCH && path == code {
            request = request.header(header::IF_MATCH, "\"1\"");
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, _) = api_error(request.send().await.unwrap()).await;
        assert_eq!(status, 404, "{method} {path}");
    }

    assert_eq!(app.count("code_versions").await, versions_before);
    assert_eq!(app.count("webhook_deliveries").await, audit_before);
    let still: CodeOut = body_of(a.get(&code).await).await;
    assert_eq!(still.content.description, "Fracture of femur");
    assert_eq!(a.get(&comment).await.status().as_u16(), 200);
    assert_eq!(a.get(&invitation).await.status().as_u16(), 200);
    let hook_now: EndpointOut = body_of(a.get(&hook).await).await;
    assert_eq!(hook_now.description, "");
}

#[tokio::test]
async fn the_openapi_document_and_the_reference_page_are_served() {
    let app = spawn_app().await;

    let doc = reqwest::get(format!("{}/api/v1/openapi.json", app.address))
        .await
        .unwrap();
    assert_eq!(doc.status().as_u16(), 200);
    let doc: Value = doc.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/api/v1/codes/{code_id}"]["patch"].is_object());

    let page = reqwest::get(format!("{}/docs/api", app.address))
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("href=\"/pkg/codebook.css\""));
    assert!(html.contains("<code>/api/v1/codes/{code_id}/restore</code>"));
    assert!(
        !html.contains("<script") && !html.contains("src="),
        "nothing loaded"
    );
}
