//! The HTTP edge: what every request must pass before the app sees it
//! (cross-site refusal, no `/dev` in production) and what every response
//! carries (a per-request CSP nonce and the security headers).
use app::backend::mode::Mode;
use app::model::{AppError, ErrorCode};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use leptos::nonce::Nonce;

/// What the edge layers need to know about this instance.
#[derive(Debug, Clone)]
pub struct Edge {
    pub mode: Mode,
    /// `scheme://host[:port]` of `public-url`, lower-cased.
    pub public_origin: String,
}

impl Edge {
    pub fn new(mode: Mode, public_url: &str) -> Self {
        Self {
            mode,
            public_origin: origin_of(public_url),
        }
    }
}

/// `https://Example.com:8443/app/` → `https://example.com:8443`.
fn origin_of(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("{scheme}://{authority}").to_ascii_lowercase()
}

/// The uniform error of a request refused at the edge: `{"error": {…}}` for
/// the REST API, the server functions' `{code, message}` for the rest.
pub fn edge_error(path: &str, status: StatusCode, error: AppError) -> Response {
    if path.starts_with("/api/v1/") {
        crate::rest::ApiError::with_status(status, error).into_response()
    } else {
        (status, Json(error)).into_response()
    }
}

/// Refuses a state-changing request that a browser says comes from another
/// site: a form or script elsewhere riding on the session cookie.
/// `Sec-Fetch-Site` decides when present (`same-origin` and `none`, typed
/// or bookmarked, pass; `same-site` is refused too, as a sibling subdomain
/// is not us); without it, an `Origin` that is not ours is refused. Clients
/// that send neither (curl, API clients) are not browsers and pass.
pub async fn refuse_cross_site(State(edge): State<Edge>, request: Request, next: Next) -> Response {
    if changes_state(request.method()) && is_cross_site(&request, &edge) {
        tracing::warn!(
            origin = ?request.headers().get(header::ORIGIN),
            sec_fetch_site = ?request.headers().get("sec-fetch-site"),
            "cross-site request refused"
        );
        return edge_error(
            request.uri().path(),
            StatusCode::FORBIDDEN,
            AppError::new(
                ErrorCode::Forbidden,
                "This request came from another site and was refused.",
            ),
        );
    }
    next.run(request).await
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn is_cross_site(request: &Request, edge: &Edge) -> bool {
    let headers = request.headers();
    if let Some(site) = text(headers, "sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = text(headers, "origin") else {
        return false;
    };
    // HTTP/1.1 names the host in `Host`, HTTP/2 in the URI's authority.
    let host = text(headers, "host")
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    !is_own_origin(origin, host.as_deref(), &edge.public_origin)
}

/// A header's value; one that is not visible ASCII reads as `?`, which
/// matches nothing we accept.
fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap_or("?"))
}

/// Whether `origin` is this server: the host the request was sent to, or
/// the configured public URL (behind a proxy that rewrites `Host`).
fn is_own_origin(origin: &str, host: Option<&str>, public_origin: &str) -> bool {
    let origin = origin.trim().to_ascii_lowercase();
    let Some((_, authority)) = origin.split_once("://") else {
        // Includes `null`: sandboxed frames, `data:` pages.
        return false;
    };
    host.is_some_and(|host| host.eq_ignore_ascii_case(authority)) || origin == public_origin
}

/// In production the development pages and their server functions do not
/// exist.
pub async fn hide_dev_routes(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if is_dev_route(path) {
        return edge_error(
            path,
            StatusCode::NOT_FOUND,
            AppError::new(ErrorCode::NotFound, "Not found."),
        );
    }
    next.run(request).await
}

fn is_dev_route(path: &str) -> bool {
    ["/dev", "/api/dev"]
        .iter()
        .any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")))
}

/// Gives the request a fresh CSP nonce (Leptos puts it on the hydration
/// script and the inline resource scripts, see `startup::router`) and the
/// response the security headers, that nonce in its CSP.
pub async fn security_headers(
    State(edge): State<Edge>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = Nonce::new();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Reset and invitation tokens live in URLs: never send them away.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if edge.mode == Mode::Production {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    response
}

/// Scripts only from us or with this response's nonce (the inline hydration
/// bootstrap), wasm compiled by the browser, no inline styles, no framing.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'nonce-{nonce}'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_url_becomes_its_origin() {
        assert_eq!(
            origin_of("https://Codebook.Example.com:8443/app/?x#y"),
            "https://codebook.example.com:8443"
        );
        assert_eq!(origin_of("http://127.0.0.1:3000"), "http://127.0.0.1:3000");
    }

    #[test]
    fn an_origin_is_ours_when_it_names_the_requested_host_or_the_public_url() {
        let public = "https://codebook.example.com";
        assert!(is_own_origin(
            "http://127.0.0.1:3000",
            Some("127.0.0.1:3000"),
            public
        ));
        assert!(is_own_origin(
            "https://codebook.example.com",
            Some("10.0.0.5:3000"),
            public
        ));
        assert!(!is_own_origin(
            "https://evil.example",
            Some("codebook.example.com"),
            public
        ));
        assert!(!is_own_origin(
            "http://127.0.0.1:3001",
            Some("127.0.0.1:3000"),
            public
        ));
        assert!(!is_own_origin("null", Some("127.0.0.1:3000"), public));
        assert!(!is_own_origin(
            "https://codebook.example.com.evil.example",
            None,
            public
        ));
    }

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/api/accounts/log_out");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn fetch_metadata_decides_before_origin() {
        let edge = Edge::new(Mode::Development, "http://127.0.0.1:3000");
        let cross = |headers: &[(&str, &str)]| is_cross_site(&request(headers), &edge);
        assert!(!cross(&[]), "curl and API clients send neither");
        assert!(!cross(&[("sec-fetch-site", "same-origin")]));
        assert!(!cross(&[("sec-fetch-site", "none")]));
        assert!(cross(&[("sec-fetch-site", "cross-site")]));
        assert!(cross(&[("sec-fetch-site", "same-site")]));
        assert!(cross(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000")
        ]));
        assert!(!cross(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000")
        ]));
        assert!(cross(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:3000")
        ]));
    }

    #[test]
    fn only_the_dev_pages_and_functions_are_dev_routes() {
        for path in ["/dev", "/dev/mail", "/api/dev/mail"] {
            assert!(is_dev_route(path), "{path}");
        }
        for path in [
            "/devices",
            "/api/devx",
            "/dashboard",
            "/api/accounts/log_in",
        ] {
            assert!(!is_dev_route(path), "{path}");
        }
    }

    #[test]
    fn the_policy_allows_no_inline_script_without_the_nonce() {
        let csp = content_security_policy("abc123");
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval' 'nonce-abc123';"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(csp.contains("frame-ancestors 'none'"));
    }
}
