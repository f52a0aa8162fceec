//! API keys made with the page's form: shown once by the page it leads
//! to, never in a cookie for programs, and a refused form comes back.
use app::model::api_keys::ApiKeyWithSecret;
use reqwest::{Client, StatusCode};
use sha2::{Digest, Sha256};

use crate::helpers::{body_of, spawn_app, TestApp};

use crate::api_keys::*;

/// A plain form's post from the page at `from`, as a browser sends it.
async fn post_form(
    app: &TestApp,
    client: &Client,
    endpoint: &str,
    from: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(format!("{}/api/{endpoint}", app.address))
        .header(reqwest::header::ACCEPT, "text/html,application/xhtml+xml")
        .header(reqwest::header::REFERER, format!("{}{from}", app.address))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The flash cookies an answer sets (`codebook_flash=…`).
fn flash_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.starts_with("codebook_flash="))
        .map(str::to_owned)
        .collect()
}

/// The key in a page's secret dialog, if it shows one.
fn shown_key(html: &str) -> Option<String> {
    let field = &html[html.find(r#"id="one-time-secret""#)?..];
    let start = field.find("cb_live_")?;
    Some(field[start..start + "cb_live_".len() + 37].to_owned())
}

#[tokio::test]
async fn a_key_made_with_the_form_is_shown_once_by_the_page_it_leads_to() {
    let app = spawn_app().await;
    let (client, org_id) = owner_without_key_limit(&app).await;

    let response = post_form(
        &app,
        &client,
        "api_keys/create",
        "/api-keys",
        &[("name", "From the form"), ("scopes[]", "codes:read")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["location"], "/api-keys");
    let set = flash_cookies(&response);
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(
        set[0].contains("HttpOnly") && !set[0].contains("cb_live_"),
        "sealed: {set:?}"
    );

    // Another page neither shows it nor spends it.
    let other = app.page(&client, "/webhooks").await;
    assert!(flash_cookies(&other).is_empty());
    assert_eq!(shown_key(&other.text().await.unwrap()), None);

    // Its page shows it, once: the answer clears the cookie.
    let page = app.page(&client, "/api-keys").await;
    assert!(flash_cookies(&page)[0].contains("Max-Age=0"));
    let key = shown_key(&page.text().await.unwrap()).expect("the key in the dialog");
    assert!(regex_lite_match(&key), "{key}");
    let stored: Vec<u8> =
        sqlx::query_scalar("select key_hash from api_keys where organization_id = $1")
            .bind(org_id)
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(stored, Sha256::digest(key.as_bytes()).to_vec());
    let again = app.page(&client, "/api-keys").await;
    assert_eq!(shown_key(&again.text().await.unwrap()), None);
}

#[tokio::test]
async fn a_program_calling_the_server_function_gets_the_key_and_no_cookie() {
    let app = spawn_app().await;
    let (client, _) = owner_without_key_limit(&app).await;
    let response = app
        .try_create_api_key(&client, "Scripted", &["codes:read"], &[])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(flash_cookies(&response).is_empty());
    let made: ApiKeyWithSecret = body_of(response).await;
    assert!(regex_lite_match(&made.secret), "{}", made.secret);
}

#[tokio::test]
async fn a_refused_form_comes_back_with_its_error_and_nothing_made() {
    let app = spawn_app().await;
    let (client, _) = owner_without_key_limit(&app).await;
    let response = post_form(
        &app,
        &client,
        "api_keys/create",
        "/api-keys",
        &[("name", "No scopes")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{}/api-keys?", app.address)),
        "{location}"
    );
    assert!(flash_cookies(&response).is_empty());
    let path = location.strip_prefix(app.address.as_str()).unwrap();
    let page = app.page(&client, path).await.text().await.unwrap();
    assert_eq!(shown_key(&page), None);
    assert_eq!(app.count("api_keys").await, 0);
}

/// `cb_live_` + 30 alphanumerics + `_` + 6 alphanumerics.
pub(crate) fn regex_lite_match(key: &str) -> bool {
    let Some(rest) = key.strip_prefix("cb_live_") else {
        return false;
    };
    let Some((random, check)) = rest.split_once('_') else {
        return false;
    };
    random.len() == 30
        && check.len() == 6
        && random
            .chars()
            .chain(check.chars())
            .all(|c| c.is_ascii_alphanumeric())
}
