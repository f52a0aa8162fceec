use app::model::codes::CodeOut;
use app::model::{ErrorCode, UserId};
use reqwest::header;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::helpers::{body_of, new_client, spawn_app, RestError, RestErrorBody};

/// The answer of `POST /api/v1/auth/token`, as it goes over the wire (the
/// server's own type only serializes).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessToken {
    access_token: String,
    token_type: String,
    expires_in: i64,
}

/// The answer of `GET /api/v1/me`, as it goes over the wire.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Me {
    id: UserId,
    email: String,
    name: String,
}

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
    let body: AccessToken = body_of(response).await;
    assert_eq!(body.token_type, "Bearer");
    assert_eq!(body.expires_in, 900);
    let who: Me = body_of(me(&app, &body.access_token).await).await;
    assert_eq!(who.email, user.email);
    assert_eq!(who.id, app.user_id_of(&user.email).await);
    assert_eq!(who.name, user.name);
}

#[tokio::test]
async fn the_sessions_behind_access_tokens_end_with_their_tokens() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let user_id = app.user_id_of(&user.email).await;

    for _ in 0..3 {
        let response = token_for(&app, &user.email, &user.password).await;
        assert_eq!(response.status().as_u16(), 200);
    }

    // The sign-up's browser session lasts a working day; each token's
    // session no longer than its 15 minutes.
    let lifetimes: Vec<f64> = sqlx::query_scalar(
        "select extract(epoch from expires_at - created_at)::float8 from sessions
         where user_id = $1 order by created_at",
    )
    .bind(user_id)
    .fetch_all(&app.db.superuser)
    .await
    .unwrap();
    assert_eq!(lifetimes.len(), 4);
    assert!(lifetimes[0] > 11.0 * 3600.0, "{lifetimes:?}");
    for seconds in &lifetimes[1..] {
        assert!((890.0..=910.0).contains(seconds), "{lifetimes:?}");
    }
}

#[tokio::test]
async fn a_wrong_password_gets_a_json_error_and_no_token() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;

    let response = token_for(&app, &user.email, "wrong password!").await;

    let (status, error) = api_error(response).await;
    assert_eq!(status, 401);
    assert_eq!(error.code, ErrorCode::Unauthenticated);
    assert_eq!(error.message, "Email or password is incorrect.");
}

#[tokio::test]
async fn revoking_the_session_kills_its_token() {
    let app = spawn_app().await;
    let (user, browser) = app.signed_up_user().await;
    let token: AccessToken = body_of(token_for(&app, &user.email, &user.password).await).await;
    let token = token.access_token;
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
    let token: AccessToken = body_of(token_for(&app, &user.email, &user.password).await).await;
    let token = token.access_token;
    let mut forged = token.clone();
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

/// The credential a REST client of these tests presents: an access token
/// from `POST /api/v1/auth/token` (one place to change for API keys).
pub async fn api_credential(
    app: &crate::helpers::TestApp,
    user: &crate::helpers::NewUser,
) -> String {
    let response = token_for(app, &user.email, &user.password).await;
    assert_eq!(
        response.status().as_u16(),
        200,
        "a token for {}",
        user.email
    );
    body_of::<AccessToken>(response).await.access_token
}

/// A REST client of one organization: a new owner's credential.
pub struct Api {
    pub base: String,
    pub token: String,
    pub user: crate::helpers::NewUser,
    client: reqwest::Client,
}

impl Api {
    /// Signs a new owner (and organization) up and gets them a credential.
    pub async fn owner(app: &crate::helpers::TestApp) -> Self {
        let (user, _) = app.signed_up_user().await;
        let token = api_credential(app, &user).await;
        Self {
            base: app.address.clone(),
            token,
            user,
            client: reqwest::Client::new(),
        }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.request(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::DELETE, path)
            .send()
            .await
            .unwrap()
    }

    /// Creates a code, or fails the test.
    pub async fn create_code(&self, code: &str, description: &str) -> CodeOut {
        let response = self
            .post(
                "/api/v1/codes",
                json!({"code": code, "description": description, "category": "Injury", "severity": "high"}),
            )
            .await;
        assert_eq!(
            response.status().as_u16(),
            201,
            "{}",
            response.text().await.unwrap()
        );
        body_of(response).await
    }

    /// Deletes a code at its version, or fails the test.
    pub async fn delete_code(&self, code: &CodeOut) {
        let response = self
            .request(
                reqwest::Method::DELETE,
                &format!("/api/v1/codes/{}", code.id),
            )
            .header(header::IF_MATCH, format!("\"{}\"", code.version))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{}", code.content.code);
    }
}

/// The status and the uniform error body of a refused request.
pub async fn api_error(response: reqwest::Response) -> (u16, RestError) {
    let status = response.status().as_u16();
    assert!(
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.to_str().unwrap().starts_with("application/json")),
        "{status} is not JSON"
    );
    let text = response.text().await.unwrap();
    // `details` is always sent, null when there is nothing more to say: the
    // typed decode below would take a missing one for null.
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(
        body["error"].as_object().unwrap().contains_key("details"),
        "{body}"
    );
    let body: RestErrorBody = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, body.error)
}
