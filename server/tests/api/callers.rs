//! One way to find the caller: the same extractors resolve a session
//! cookie or a bearer token for server functions and REST alike.
use app::model::members::MembersPage;
use app::model::{ErrorCode, Role};
use reqwest::header;
use serde::Deserialize;

use crate::helpers::{app_error, body_of, spawn_app, TestApp};
use crate::rest::api_credential;

/// `GET /api/v1/me`: the REST API's own answer, which the server only
/// serializes.
#[derive(Debug, Deserialize)]
struct Me {
    email: String,
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
    let token = api_credential(&app, &user).await;

    let with_cookie: MembersPage = body_of(app.call(&browser, "members/list", &[]).await).await;
    let response = members_with_bearer(&app, &reqwest::Client::new(), &token).await;

    assert_eq!(response.status().as_u16(), 200);
    let with_token: MembersPage = body_of(response).await;
    assert_eq!(with_token.members, with_cookie.members);
    assert_eq!(with_token.my_role, Role::Owner);
}

#[tokio::test]
async fn a_bad_bearer_token_is_refused_even_beside_a_valid_session_cookie() {
    let app = spawn_app().await;
    let (_, browser) = app.signed_up_user().await;

    let response = members_with_bearer(&app, &browser, "not-a-token").await;

    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(app_error(response).await.code, ErrorCode::Unauthenticated);
}

#[tokio::test]
async fn rest_reads_the_caller_from_the_session_cookie_too() {
    let app = spawn_app().await;
    let (user, browser) = app.signed_up_user().await;

    let who: Me = body_of(
        browser
            .get(format!("{}/api/v1/me", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await;

    assert_eq!(who.email, user.email);
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
    assert_eq!(app_error(response).await.field.as_deref(), Some("page"));
}
