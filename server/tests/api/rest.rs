use reqwest::header;
use serde_json::{json, Value};

use crate::helpers::{new_client, spawn_app};

async fn token_for(
    app: &crate::helpers::TestApp,
    email: &str,
    password: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/api/v1/auth/token", app.address))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn me(app: &crate::helpers::TestApp, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/api/v1/me", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_api_client_trades_its_password_for_a_fifteen_minute_bearer_token() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;

    let response = token_for(&app, &user.email, &user.password).await;

    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let token = body["access_token"].as_str().unwrap();
    let who: Value = me(&app, token).await.json().await.unwrap();
    assert_eq!(who["email"], user.email.as_str());
}

#[tokio::test]
async fn a_wrong_password_gets_a_json_error_and_no_token() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;

    let response = token_for(&app, &user.email, "wrong password!").await;

    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(body["error"]["message"], "Email or password is incorrect.");
}

#[tokio::test]
async fn revoking_the_session_kills_its_token() {
    let app = spawn_app().await;
    let (user, browser) = app.signed_up_user().await;
    let body: Value = token_for(&app, &user.email, &user.password)
        .await
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me(&app, &token).await.status().as_u16(), 200);

    // From the browser: "log out all other sessions".
    let response = app
        .call(&browser, "accounts/revoke_other_sessions", &[])
        .await;
    assert!(response.status().is_success());

    let refused = me(&app, &token).await;
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(
        refused.headers().get(header::WWW_AUTHENTICATE).unwrap(),
        "Bearer"
    );
}

#[tokio::test]
async fn forged_or_missing_tokens_are_refused() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let body: Value = token_for(&app, &user.email, &user.password)
        .await
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap();
    let mut forged = token.to_owned();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });

    assert_eq!(me(&app, &forged).await.status().as_u16(), 401);
    assert_eq!(me(&app, "not-a-jwt").await.status().as_u16(), 401);
    let anonymous = new_client()
        .get(format!("{}/api/v1/me", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}
