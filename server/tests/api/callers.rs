//! One way to find the caller: the same extractors resolve a session
//! cookie or a bearer token for server functions and REST alike.
use reqwest::header;
use serde_json::{json, Value};

use crate::helpers::{error_of, spawn_app, TestApp};

async fn bearer_token(app: &TestApp, email: &str, password: &str) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/token", app.address))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn members_with_bearer(
    app: &TestApp,
    client: &reqwest::Client,
    token: &str,
) -> reqwest::Response {
    client
        .post(format!("{}/api/members/list", app.address))
        .header(header::ACCEPT, "application/json")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_bearer_token_reaches_the_same_organization_as_the_session_cookie() {
    let app = spawn_app().await;
    let (user, browser) = app.signed_up_user().await;
    let token = bearer_token(&app, &user.email, &user.password).await;

    let with_cookie: Value = app
        .call(&browser, "members/list", &[])
        .await
        .json()
        .await
        .unwrap();
    let response = members_with_bearer(&app, &reqwest::Client::new(), &token).await;

    assert_eq!(response.status().as_u16(), 200);
    let with_token: Value = response.json().await.unwrap();
    assert_eq!(with_token["members"], with_cookie["members"]);
    assert_eq!(with_token["my_role"], "owner");
}

#[tokio::test]
async fn a_bad_bearer_token_is_refused_even_beside_a_valid_session_cookie() {
    let app = spawn_app().await;
    let (_, browser) = app.signed_up_user().await;

    let response = members_with_bearer(&app, &browser, "not-a-token").await;

    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(error_of(response).await["code"], "unauthenticated");
}

#[tokio::test]
async fn rest_reads_the_caller_from_the_session_cookie_too() {
    let app = spawn_app().await;
    let (user, browser) = app.signed_up_user().await;

    let who: Value = browser
        .get(format!("{}/api/v1/me", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(who["email"], user.email.as_str());
}

#[tokio::test]
async fn an_absurd_page_number_is_a_validation_error_not_a_crash() {
    let app = spawn_app().await;
    let (_, admin) = app.signed_up_user().await; // the first user of a dev instance

    let response = app
        .call(
            &admin,
            "platform/organizations",
            &[("q", String::new()), ("page", u32::MAX.to_string())],
        )
        .await;

    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(error_of(response).await["field"], "page");
}
