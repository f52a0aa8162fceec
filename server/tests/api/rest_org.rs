//! Members, invitations and webhooks through the REST API, end to end.
use reqwest::{header, Method};
use serde_json::{json, Value};

use crate::helpers::spawn_app;
use crate::rest::{api_error, Api};

#[tokio::test]
async fn members_are_read_through_the_api() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    let org_id = app.org_id_of(&api.user.email).await;
    let (viewer, _, viewer_id) = app.member_of(org_id, "viewer").await;

    let list: Value = api.get("/api/v1/members").await.json().await.unwrap();
    let roles: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["owner", "viewer"]);
    let one: Value = api
        .get(&format!("/api/v1/members/{viewer_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["email"], viewer.email.as_str());
    let stranger = uuid::Uuid::new_v4();
    assert_eq!(
        api_error(api.get(&format!("/api/v1/members/{stranger}")).await)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn invitations_are_created_listed_resent_and_revoked_through_the_api() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;

    let created = api
        .post(
            "/api/v1/invitations",
            json!({"email": "grace@example.com", "role": "manager"}),
        )
        .await;
    assert_eq!(created.status().as_u16(), 201);
    let location = created.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let invitation: Value = created.json().await.unwrap();
    assert_eq!(invitation["role"], "manager");
    let first_link = app.invitation_token_for("grace@example.com").await;

    let read: Value = api.get(&location).await.json().await.unwrap();
    assert_eq!(read["id"], invitation["id"]);
    let list: Value = api.get("/api/v1/invitations").await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let resent = api.post(&format!("{location}/resend"), json!({})).await;
    assert_eq!(resent.status().as_u16(), 200);
    assert_ne!(
        app.invitation_token_for("grace@example.com").await,
        first_link
    );

    let bad_role = api
        .post(
            "/api/v1/invitations",
            json!({"email": "x@example.com", "role": "emperor"}),
        )
        .await;
    assert_eq!(api_error(bad_role).await.0, 422);
    let bad_email = api
        .post(
            "/api/v1/invitations",
            json!({"email": "not an email", "role": "viewer"}),
        )
        .await;
    let (status, body) = api_error(bad_email).await;
    assert_eq!((status, body.field()), (422, Some("email")));

    assert_eq!(api.delete(&location).await.status().as_u16(), 204);
    let list: Value = api.get("/api/v1/invitations").await.json().await.unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
    assert_eq!(api_error(api.delete(&location).await).await.0, 404);
}

#[tokio::test]
async fn webhook_endpoints_and_their_deliveries_are_managed_through_the_api() {
    let app = spawn_app().await;
    let api = Api::owner(&app).await;
    // Nothing listens there: the test send fails, which is recorded.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/hook",
        closed.local_addr().unwrap().port()
    );
    drop(closed);

    let created = api
        .post(
            "/api/v1/webhooks",
            json!({"url": url, "event_types": ["code.created"], "timeout_seconds": 2}),
        )
        .await;
    assert_eq!(created.status().as_u16(), 201);
    let location = created.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let created: Value = created.json().await.unwrap();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["endpoint"]["max_retries"], 8);

    let patched = api
        .request(Method::PATCH, &location)
        .json(&json!({"description": "CRM", "max_retries": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status().as_u16(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(
        (
            patched["description"].as_str(),
            patched["max_retries"].as_i64(),
            patched["timeout_seconds"].as_i64()
        ),
        (Some("CRM"), Some(3), Some(2))
    );
    assert_eq!(patched["event_types"], json!(["code.created"]));
    let out_of_range = api
        .request(Method::PATCH, &location)
        .json(&json!({"timeout_seconds": 301}))
        .send()
        .await
        .unwrap();
    let (status, body) = api_error(out_of_range).await;
    assert_eq!((status, body.field()), (422, Some("timeout_seconds")));

    let disabled: Value = api
        .post(&format!("{location}/disable"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(disabled["enabled"], false);
    let enabled: Value = api
        .post(&format!("{location}/enable"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(enabled["enabled"], true);
    let patched: Value = api
        .request(Method::PATCH, &location)
        .json(&json!({"enabled": false, "max_retries": 4}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            patched["enabled"].as_bool(),
            patched["max_retries"].as_i64()
        ),
        (Some(false), Some(4))
    );
    let patched: Value = api
        .request(Method::PATCH, &location)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["enabled"], true);
    let rotated: Value = api
        .post(&format!("{location}/rotate-secret"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(rotated["secret"], created["secret"]);
    assert!(rotated["endpoint"]["previous_secret_expires_at"].is_string());

    let test: Value = api
        .post(&format!("{location}/test"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(test["succeeded"], false);
    let delivery_id = test["delivery_id"].as_str().unwrap();

    let log: Value = api
        .get(&format!("{location}/deliveries?status=dead"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(log["items"][0]["id"], delivery_id);
    assert!(log["next_cursor"].is_null());
    let detail: Value = api
        .get(&format!("{location}/deliveries/{delivery_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 1);
    let bad_cursor = api
        .get(&format!("{location}/deliveries?cursor=nonsense"))
        .await;
    let (status, body) = api_error(bad_cursor).await;
    assert_eq!((status, body.field()), (422, Some("cursor")));

    let replayed = api
        .post(
            &format!("{location}/deliveries/{delivery_id}/replay"),
            json!({}),
        )
        .await;
    assert_eq!(replayed.status().as_u16(), 200);
    let replayed: Value = replayed.json().await.unwrap();
    assert_eq!(replayed["status"], "pending");

    let range = api
        .post(
            &format!("{location}/replay-failed"),
            json!({"since": "2020-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(range.status().as_u16(), 200);
    assert!(range.json::<Value>().await.unwrap()["queued"].is_i64());
    let backwards = api
        .post(
            &format!("{location}/replay-failed"),
            json!({"since": "2100-01-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(api_error(backwards).await.0, 422);

    let list: Value = api.get("/api/v1/webhooks").await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(api.delete(&location).await.status().as_u16(), 204);
    assert_eq!(api_error(api.get(&location).await).await.0, 404);
}
