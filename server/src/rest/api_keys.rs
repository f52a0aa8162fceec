//! API-key callers of `/api/v1`: the layer that authenticates a
//! `Bearer cb_live_…` credential once per request, counts it against the
//! key's usage and rate limit (through the process's `KeyGate`), hands the key to the `OrgContext` extractor
//! (through the request's extensions), and writes the `RateLimit-*`
//! headers. Requests with a JWT or no credential pass through untouched.
use app::backend::api_keys::{self, AuthenticatedKey, RateLimitState};
use app::backend::{AppState, Error, RequestMeta};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use std::net::SocketAddr;

use super::ApiError;

const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The API key a request presents, if its bearer credential is one.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && api_keys::looks_like_key(token)).then_some(token)
}

pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = presented_key(request.headers()) else {
        return next.run(request).await;
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let meta = RequestMeta::from_http(request.headers(), peer, &state.trusted_proxies);
    let key = match state.api_keys.authenticate(&state.pool, token, &meta).await {
        Ok(key) => key,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let limit = key.rate_limit;
    if limit.exceeded() {
        api_keys::audit_rate_limit_hit(&state.pool, &key, &meta).await;
        return refuse_over_limit(&key);
    }
    request.extensions_mut().insert(key);
    let mut response = next.run(request).await;
    write_headers(response.headers_mut(), &limit);
    response
}

fn refuse_over_limit(key: &AuthenticatedKey) -> Response {
    let limit = key.rate_limit;
    let retry_after = limit.reset_seconds(Utc::now());
    let mut response = ApiError::from(Error::RateLimited(format!(
        "This API key may make {} requests a minute. Try again in {retry_after} s.",
        limit.limit
    )))
    .into_response();
    let headers = response.headers_mut();
    write_headers(headers, &limit);
    headers.insert(
        axum::http::header::RETRY_AFTER,
        HeaderValue::from(retry_after),
    );
    response
}

/// The IETF `RateLimit` headers: the limit, what is left of it, and the
/// seconds until the window resets.
fn write_headers(headers: &mut HeaderMap, limit: &RateLimitState) {
    headers.insert(LIMIT, HeaderValue::from(limit.limit));
    headers.insert(REMAINING, HeaderValue::from(limit.remaining()));
    headers.insert(RESET, HeaderValue::from(limit.reset_seconds(Utc::now())));
    if let Ok(policy) = HeaderValue::from_str(&format!("{};w=60", limit.limit)) {
        headers.insert(POLICY, policy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bearer_credentials_shaped_like_keys_are_taken() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_key(&headers), None);
        headers.insert("authorization", "Bearer eyJhbGciOi.x.y".parse().unwrap());
        assert_eq!(presented_key(&headers), None);
        headers.insert("authorization", "bearer  cb_live_abc ".parse().unwrap());
        assert_eq!(presented_key(&headers), Some("cb_live_abc"));
        headers.insert("authorization", "Basic cb_live_abc".parse().unwrap());
        assert_eq!(presented_key(&headers), None);
    }
}
