//! Who is calling, resolved once per request by the same axum extractors
//! for server functions and REST handlers alike: a bearer token
//! (`Authorization: Bearer <jwt>`) if the request has one, else the session
//! cookie. Tenant work then goes through `OrgContext`, resolved from the
//! caller with membership and role read fresh from the database, or from
//! an API key (`Authorization: Bearer cb_live_…`) that the REST API's key
//! layer authenticated and counted (`api_keys::AuthenticatedKey` in the
//! request's extensions). Keys work on `/api/v1` only.
use axum::extract::{ConnectInfo, FromRef, FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use std::net::SocketAddr;

use super::api_keys::{self, AuthenticatedKey};
use super::sessions::Membership;
use super::sessions::{SessionToken, SessionUser};
use super::{AppState, Error, OrgContext, RequestMeta};

/// The request's `RequestMeta`: the client address through the instance's
/// trusted proxies, a bounded user agent, a checked request id.
pub fn request_meta(parts: &Parts, state: &AppState) -> RequestMeta {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    RequestMeta::from_http(&parts.headers, peer, &state.trusted_proxies)
}

impl<S> FromRequestParts<S> for RequestMeta
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(request_meta(parts, &AppState::from_ref(state)))
    }
}

/// The bearer token of a request, if it names one.
fn bearer_token(parts: &Parts) -> Option<&str> {
    bearer_token_of(&parts.headers)
}

/// The bearer token in `headers`, if they name one (the API-key layer
/// reads it before any extractor runs).
pub fn bearer_token_of(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// How a request says who is calling.
enum Credentials<'a> {
    Bearer(&'a str),
    Cookie(SessionToken),
    None,
}

/// The request's credentials. A bearer token that is present but invalid
/// is refused rather than ignored, so a client learns its token is bad.
fn credentials<'a>(parts: &'a Parts, state: &AppState) -> Result<Credentials<'a>, Error> {
    if let Some(token) = bearer_token(parts) {
        if api_keys::looks_like_key(token) {
            // A key acts for its organization, never as a person.
            return Err(Error::Forbidden(
                "API keys act for their organization on the /api/v1 resources; this needs a \
                 person's session or access token."
                    .into(),
            ));
        }
        return Ok(Credentials::Bearer(token));
    }
    let cookie = super::sessions::cookie_name(state.secure_cookies());
    Ok(match SessionToken::from_headers(&parts.headers, cookie) {
        Some(token) => Credentials::Cookie(token),
        None => Credentials::None,
    })
}

/// The signed-in user, if any.
async fn session_user_of(parts: &Parts, state: &AppState) -> Result<Option<SessionUser>, Error> {
    user_of(credentials(parts, state)?, state).await
}

/// The user these credentials name, if any.
async fn user_of(
    credentials: Credentials<'_>,
    state: &AppState,
) -> Result<Option<SessionUser>, Error> {
    match credentials {
        Credentials::Bearer(token) => {
            super::sessions::authenticate_access_token(&state.pool, &state.jwt, token)
                .await
                .map(Some)
        }
        Credentials::Cookie(token) => super::sessions::authenticate(&state.pool, &token).await,
        Credentials::None => Ok(None),
    }
}

/// The signed-in user and, when a session cookie names them, their
/// memberships, read in the same statement: a page needs both before its
/// data. (A bearer token's caller reads memberships when it needs them.)
pub struct CallerWithMemberships {
    pub user: Option<SessionUser>,
    pub memberships: Option<Vec<Membership>>,
}

impl<S> FromRequestParts<S> for CallerWithMemberships
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let (user, memberships) = match credentials(parts, &state)? {
            Credentials::Cookie(token) => {
                match super::sessions::authenticate_with_memberships(&state.pool, &token).await? {
                    Some((user, memberships)) => (Some(user), Some(memberships)),
                    None => (None, None),
                }
            }
            other => (user_of(other, &state).await?, None),
        };
        Ok(CallerWithMemberships { user, memberships })
    }
}

impl<S> OptionalFromRequestParts<S> for SessionUser
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        session_user_of(parts, &AppState::from_ref(state)).await
    }
}

impl<S> FromRequestParts<S> for SessionUser
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        session_user_of(parts, &AppState::from_ref(state))
            .await?
            .ok_or(Error::Unauthenticated)
    }
}

impl<S> FromRequestParts<S> for OrgContext
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        if let Some(key) = parts.extensions.get::<AuthenticatedKey>() {
            return Ok(OrgContext::api_key(
                &state.pool,
                key,
                request_meta(parts, &state),
            ));
        }
        let user = session_user_of(parts, &state)
            .await?
            .ok_or(Error::Unauthenticated)?;
        OrgContext::resolve(&state.pool, user, request_meta(parts, &state)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts_with(authorization: &str) -> Parts {
        let (parts, ()) = http::Request::builder()
            .header(http::header::AUTHORIZATION, authorization)
            .body(())
            .unwrap()
            .into_parts();
        parts
    }

    #[test]
    fn a_bearer_token_is_read_whatever_the_case_of_its_scheme() {
        assert_eq!(bearer_token(&parts_with("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&parts_with("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(&parts_with("Basic abc")), None);
        assert_eq!(bearer_token(&parts_with("Bearer")), None);
    }
}
