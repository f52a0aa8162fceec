//! The HTTP edge: body limits, cross-site refusal, security headers, dev
//! routes in production, malformed input, request ids and client addresses.
use app::backend::mode::Mode;
use app::model::ErrorCode;
use reqwest::{header, Response, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{app_error, new_client, spawn_app, spawn_app_in, spawn_app_with, NewUser};
use crate::rest::api_error;

const MIB: usize = 1024 * 1024;

/// Sends `total` bytes to `path` as a chunked body (no Content-Length) and
/// returns the status and body of the answer.
async fn post_chunked(
    address: &str,
    path: &str,
    content_type: &str,
    total: usize,
) -> (u16, String) {
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n\
         Accept: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let send = tokio::spawn(async move {
        let chunk = vec![b'a'; 16 * 1024];
        let mut sent = 0;
        while sent < total {
            let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            // The server may answer and close before it has read it all.
            if writer.write_all(&frame).await.is_err() {
                return writer;
            }
            sent += chunk.len();
        }
        let _ = writer.write_all(b"0\r\n\r\n").await;
        // Kept open: the server takes a half-closed connection for a
        // client that left.
        writer
    });
    let mut answer = Vec::new();
    let _ = reader.read_to_end(&mut answer).await;
    drop(send);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[tokio::test]
async fn an_oversized_body_gets_413_with_or_without_a_content_length() {
    let app = spawn_app().await;
    let form = format!("email=a%40example.com&password={}", "x".repeat(MIB));
    let json = json!({"email": "a@example.com", "password": "x".repeat(MIB)}).to_string();

    for (path, content_type, body) in [
        (
            "/api/accounts/log_in",
            "application/x-www-form-urlencoded",
            &form,
        ),
        ("/api/v1/auth/token", "application/json", &json),
    ] {
        let response = new_client()
            .post(format!("{}{path}", app.address))
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ACCEPT, "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let code = if path.starts_with("/api/v1/") {
            api_error(response).await.1.code
        } else {
            app_error(response).await.code
        };
        assert_eq!(code, ErrorCode::PayloadTooLarge, "{path}");

        let (status, body) = post_chunked(&app.address, path, content_type, 2 * MIB).await;
        assert_eq!(status, 413, "{path} (chunked): {body}");
        assert!(
            body.contains("payload_too_large"),
            "{path} (chunked): {body}"
        );
    }
}

#[tokio::test]
async fn a_small_chunked_body_still_reaches_the_server_function() {
    let app = spawn_app().await;
    let (status, body) = post_chunked(
        &app.address,
        "/api/accounts/log_in",
        "application/x-www-form-urlencoded",
        16 * 1024,
    )
    .await;
    // 16 KiB of `a`: one field named "aaa…" and no email.
    assert!((400..500).contains(&status), "{status}: {body}");
    assert_ne!(status, 413);
}

#[tokio::test]
async fn log_in_with_a_huge_password_is_refused_before_hashing() {
    let app = spawn_app().await;
    let (user, _) = app.signed_up_user().await;
    let client = new_client();

    // A megabyte does not even get in.
    let response = app.log_in(&client, &user.email, &"x".repeat(MIB)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // What fits in a body but not in a password is refused as such, not
    // hashed and compared.
    let response = app.log_in(&client, &user.email, &"x".repeat(100_000)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = app_error(response).await;
    assert_eq!(error.field.as_deref(), Some("password"), "{error:?}");

    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/token", app.address))
        .json(&json!({"email": user.email, "password": "x".repeat(5000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn sign_up_with(
    app: &crate::helpers::TestApp,
    user: &NewUser,
    headers: &[(&str, &str)],
) -> Response {
    let mut request = new_client()
        .post(format!("{}/api/accounts/sign_up", app.address))
        .header(header::ACCEPT, "application/json")
        .form(&user.form());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_cross_site_post_to_a_server_function_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let evil = "https://evil.example";

    for headers in [
        vec![("sec-fetch-site", "cross-site"), ("origin", evil)],
        vec![("sec-fetch-site", "same-site")],
        // An older browser: no fetch metadata, but an Origin.
        vec![("origin", evil)],
        vec![("origin", "null")],
    ] {
        let response = sign_up_with(&app, &NewUser::random(), &headers).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{headers:?}");
        let error = app_error(response).await;
        assert_eq!(error.code, ErrorCode::Forbidden, "{headers:?}");
    }
    assert_eq!(app.count("users").await, 0);

    // The same request from our own pages goes through.
    let own = app.address.as_str();
    let response = sign_up_with(
        &app,
        &NewUser::random(),
        &[("sec-fetch-site", "same-origin"), ("origin", own)],
    )
    .await;
    assert!(response.status().is_success(), "{}", response.status());
    let response = sign_up_with(&app, &NewUser::random(), &[("origin", own)]).await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(app.count("users").await, 2);
}

#[tokio::test]
async fn a_cross_site_post_to_the_rest_api_gets_the_rest_error() {
    let app = spawn_app().await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/token", app.address))
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"email": "a@example.com", "password": "whatever it is"}))
        .send()
        .await
        .unwrap();
    let (status, error) = api_error(response).await;
    assert_eq!(status, 403);
    assert_eq!(error.code, ErrorCode::Forbidden);
}

fn assert_security_headers(response: &Response, what: &str) {
    let get = |name: &str| {
        response
            .headers()
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let csp = get("content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval' 'nonce-",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(
            csp.contains(directive),
            "{what}: {directive} missing in {csp}"
        );
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "same-origin", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
}

fn nonce_of(response: &Response) -> String {
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    let start = csp.find("'nonce-").unwrap() + "'nonce-".len();
    csp[start..].split('\'').next().unwrap().to_owned()
}

#[tokio::test]
async fn pages_and_api_answers_carry_the_security_headers() {
    let app = spawn_app().await;
    let page = new_client()
        .get(format!("{}/login", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_security_headers(&page, "page");
    assert!(
        page.headers().get("strict-transport-security").is_none(),
        "no HSTS over plain HTTP"
    );
    let nonce = nonce_of(&page);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("<script type=\"module\" nonce=\"{nonce}\"")),
        "the hydration script carries this response's nonce"
    );
    assert!(
        !html.contains("<script>") && !html.contains("<script type=\"module\">"),
        "no inline script without the nonce"
    );

    let other = new_client()
        .get(format!("{}/login", app.address))
        .send()
        .await
        .unwrap();
    assert_ne!(nonce_of(&other), nonce, "a fresh nonce per response");

    let rest = reqwest::Client::new()
        .get(format!("{}/api/v1/me", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), StatusCode::UNAUTHORIZED);
    assert_security_headers(&rest, "REST");
}

#[tokio::test]
async fn production_sends_hsts_and_a_host_only_secure_session_cookie() {
    let app = spawn_app_in(Mode::Production).await;
    let client = new_client();
    let user = NewUser::random();
    let response = app.sign_up(&client, &user).await;
    assert!(response.status().is_success());
    assert_eq!(
        response.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=63072000; includeSubDomains"
    );
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.starts_with("__Host-codebook_session=") && cookie.contains("Secure"),
        "{cookie}"
    );
    // The session is read back under that name.
    assert_eq!(
        app.current_user(&client).await.unwrap().email,
        user.email.as_str()
    );
}

#[tokio::test]
async fn production_serves_no_dev_routes() {
    let app = spawn_app_in(Mode::Production).await;
    let page = new_client()
        .get(format!("{}/dev/mail", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let function = app.call(&new_client(), "dev/mail", &[]).await;
    assert_eq!(function.status(), StatusCode::NOT_FOUND);

    let development = spawn_app().await;
    let function = development.call(&new_client(), "dev/mail", &[]).await;
    assert_eq!(function.status(), StatusCode::OK);
}

#[tokio::test]
async fn malformed_server_function_arguments_get_400_with_the_uniform_error() {
    let app = spawn_app().await;
    let (_, owner) = app.signed_up_user().await;

    let cases: [(&str, Vec<(&str, String)>); 3] = [
        (
            "a user id that is not a UUID",
            vec![("user_id", "not-a-uuid".into()), ("role", "admin".into())],
        ),
        ("a missing field", vec![("role", "admin".into())]),
        (
            "an unknown role",
            vec![
                ("user_id", uuid::Uuid::new_v4().to_string()),
                ("role", "emperor".into()),
            ],
        ),
    ];
    for (what, form) in cases {
        let response = app.call(&owner, "members/change_role", &form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        let error = app_error(response).await;
        assert_eq!(error.code, ErrorCode::BadRequest, "{what}: {error:?}");
        assert!(
            error.message.starts_with("The request is malformed"),
            "{what}: {error:?}"
        );
    }
}

#[tokio::test]
async fn control_and_invisible_characters_in_names_and_emails_get_a_4xx() {
    let app = spawn_app().await;
    for (field, value) in [
        ("name", "Ada\u{202E}ecalevoL"),
        ("name", "Ada\u{200B}"),
        ("organization", "Acme\u{7}"),
        ("email", "ada\u{2066}@example.com"),
        ("email", "ada\u{0}@example.com"),
        ("name", "Ada\u{0}"),
    ] {
        let user = NewUser::random();
        let form: Vec<(&str, String)> = user
            .form()
            .into_iter()
            .map(|(k, v)| {
                if k == field {
                    (k, value.to_owned())
                } else {
                    (k, v)
                }
            })
            .collect();
        let response = app.call(&new_client(), "accounts/sign_up", &form).await;
        let status = response.status();
        let error = app_error(response).await;
        if value.contains('\0') {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{value:?}");
            assert_eq!(error.code, ErrorCode::BadRequest, "{value:?}");
        } else {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{value:?}");
            assert_eq!(error.field.as_deref(), Some(field), "{value:?}");
        }
    }
    // A NUL in the log-in email is refused too, never a database error.
    let response = app
        .log_in(&new_client(), "a\u{0}@example.com", "some password")
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn a_broken_json_body_gets_the_rest_error() {
    let app = spawn_app().await;
    let post = |body: &'static str, content_type: Option<&'static str>| {
        let mut request = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/token", app.address))
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        request.send()
    };
    for (what, response, status, code) in [
        (
            "broken JSON",
            post("{\"email\": ", Some("application/json")).await,
            400,
            ErrorCode::BadRequest,
        ),
        (
            "not JSON",
            post("email=a", Some("text/plain")).await,
            415,
            ErrorCode::BadRequest,
        ),
        (
            "no content type",
            post("{}", None).await,
            415,
            ErrorCode::BadRequest,
        ),
        (
            "the wrong shape",
            post("{\"email\": 1}", Some("application/json")).await,
            422,
            ErrorCode::Validation,
        ),
    ] {
        let (got, error) = api_error(response.unwrap()).await;
        assert_eq!(got, status, "{what}");
        assert_eq!(error.code, code, "{what}: {error:?}");
    }
}

#[tokio::test]
async fn only_a_plain_short_client_request_id_is_kept() {
    let app = spawn_app().await;
    let id_for = |id: String| {
        let address = app.address.clone();
        async move {
            let response = reqwest::Client::new()
                .get(format!("{address}/healthz"))
                .header("x-request-id", id)
                .send()
                .await
                .unwrap();
            response
                .headers()
                .get("x-request-id")
                .expect("a request id")
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(id_for("trace-42.a_b".into()).await, "trace-42.a_b");
    for bad in ["a".repeat(65), "two words".into(), "<script>".into()] {
        let given = id_for(bad.clone()).await;
        assert_ne!(given, bad);
        assert!(uuid::Uuid::parse_str(&given).is_ok(), "{given}");
    }
}

#[tokio::test]
async fn a_long_user_agent_is_stored_cut_to_512_characters() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .user_agent("Mozilla/5.0 ".repeat(300))
        .build()
        .unwrap();
    let user = NewUser::random();
    let response = app.sign_up(&client, &user).await;
    assert!(response.status().is_success());
    let stored: String = sqlx::query_scalar("select user_agent from sessions")
        .fetch_one(&app.db.superuser)
        .await
        .unwrap();
    assert_eq!(stored.chars().count(), 512);
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_log where length(user_agent) > 512")
            .fetch_one(&app.db.superuser)
            .await
            .unwrap();
    assert_eq!(audited, 0);
}

async fn ip_of_session(app: &crate::helpers::TestApp, forwarded_for: &str) -> String {
    let response = new_client()
        .post(format!("{}/api/accounts/sign_up", app.address))
        .header(header::ACCEPT, "application/json")
        .header("x-forwarded-for", forwarded_for)
        .form(&NewUser::random().form())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    sqlx::query_scalar("select host(ip) from sessions order by created_at desc limit 1")
        .fetch_one(&app.db.superuser)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy() {
    let direct = spawn_app().await;
    assert_eq!(ip_of_session(&direct, "203.0.113.7").await, "127.0.0.1");

    let proxied = spawn_app_with(|s| s.trusted_proxies = "127.0.0.1".into()).await;
    assert_eq!(
        ip_of_session(&proxied, "198.51.100.1, 203.0.113.7").await,
        "203.0.113.7"
    );
}
