//! Browser sessions: a random token in an `HttpOnly` cookie, stored only as
//! its SHA-256, one row per session so a user can list and revoke them.
use crate::model::{OrgId, SessionId, UserId};
use chrono::{DateTime, Duration, Utc};
use http::HeaderMap;
use sqlx::types::ipnetwork::IpNetwork;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{tokens, RequestMeta, Result};
use crate::model::orgs::{MyOrganization, OrgSlug};
use crate::model::Role;

/// The cookie's name in development, served over plain HTTP.
pub const COOKIE_NAME: &str = "codebook_session";
/// The cookie's name in production: browsers accept a `__Host-` cookie only
/// with `Secure`, `Path=/` and no `Domain`, so a sibling subdomain cannot
/// plant or overwrite it.
pub const SECURE_COOKIE_NAME: &str = "__Host-codebook_session";
/// Without "remember me": a working day.
pub const SHORT_TTL: Duration = Duration::hours(12);
/// With "remember me".
pub const LONG_TTL: Duration = Duration::days(30);

/// How long a new session lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// A browser's sign-in: a working day.
    Workday,
    /// A browser's sign-in with "remember me".
    Remembered,
    /// Behind one access token of the REST API, and no longer than it: an
    /// API client that signs in for every call leaves no sessions behind
    /// that outlive their token.
    AccessToken,
}

impl Lifetime {
    pub fn of_sign_in(remember: bool) -> Self {
        if remember {
            Lifetime::Remembered
        } else {
            Lifetime::Workday
        }
    }

    fn duration(self) -> Duration {
        match self {
            Lifetime::Workday => SHORT_TTL,
            Lifetime::Remembered => LONG_TTL,
            Lifetime::AccessToken => super::jwt::LIFETIME,
        }
    }

    pub fn remembered(self) -> bool {
        self == Lifetime::Remembered
    }
}

/// `last_seen_at` is written at most this often, not on every request.
const TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// The secret the browser holds. Never stored or logged.
#[derive(Clone)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn generate() -> Self {
        Self(tokens::generate())
    }

    pub fn hash(&self) -> Vec<u8> {
        tokens::hash(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The session cookie `name` of a request, if it has one.
    pub fn from_headers(headers: &HeaderMap, name: &str) -> Option<Self> {
        super::cookies::value(headers, name).map(Self)
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(…)")
    }
}

/// The session cookie's name: `__Host-` and `Secure` together, or neither.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

/// `Set-Cookie` for a new session. Without "remember me" it is a browser
/// session cookie; with it, it lasts as long as the session row.
pub fn session_cookie(token: &SessionToken, remember: bool, secure: bool) -> String {
    let mut c = super::cookies::build(cookie_name(secure), token.as_str().to_owned(), secure);
    if remember {
        c = c.max_age(cookie::time::Duration::seconds(LONG_TTL.num_seconds()));
    }
    c.build().to_string()
}

pub fn clear_cookie(secure: bool) -> String {
    super::cookies::removal(cookie_name(secure), secure)
}

/// One of a user's memberships: the organization as the switcher shows it,
/// and when they joined (the first one is their default).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Membership {
    #[sqlx(flatten)]
    pub organization: MyOrganization,
    pub joined_at: DateTime<Utc>,
}

/// The user's memberships, by organization name: what a page needs both
/// for its caller's organization and for the switcher, in one query.
pub async fn memberships(pool: &PgPool, user_id: UserId) -> Result<Vec<Membership>> {
    let mut tx = super::db::begin_as_user(pool, user_id).await?;
    let rows: Vec<Membership> = sqlx::query_as(
        "select o.id, o.name, o.slug, m.role, o.active, m.created_at as joined_at
         from memberships m join organizations o on o.id = m.organization_id
         where m.user_id = $1
         order by lower(o.name), o.slug",
    )
    .bind(user_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// The signed-in user behind a live session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionUser {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub is_platform_admin: bool,
    pub current_organization_id: Option<OrgId>,
    pub last_seen_at: DateTime<Utc>,
    /// Set when the caller showed the session's token (its cookie), not
    /// an access token naming the session.
    #[sqlx(skip)]
    pub proof: Option<SessionProof>,
}

impl SessionUser {
    /// What the database's definer functions take as proof that this user
    /// is calling (they act as the session's user, whatever `app.user_id`
    /// says). Only a session cookie carries it.
    pub fn proof(&self) -> Result<&SessionProof> {
        self.proof.as_ref().ok_or_else(|| {
            super::Error::Forbidden(
                "This needs a signed-in browser session, not an access token.".into(),
            )
        })
    }
}

/// The SHA-256 of a session's token: the application role cannot read
/// these from the database, so holding one shows the token was presented.
#[derive(Clone)]
pub struct SessionProof(Vec<u8>);

impl SessionProof {
    pub fn of(token: &SessionToken) -> Self {
        Self(token.hash())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SessionProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionProof(…)")
    }
}

pub async fn create(
    conn: &mut PgConnection,
    user_id: UserId,
    organization_id: Option<OrgId>,
    lifetime: Lifetime,
    meta: &RequestMeta,
) -> Result<SessionToken> {
    let token = SessionToken::generate();
    let ttl = lifetime.duration();
    sqlx::query(
        "insert into sessions (id, user_id, token_hash, current_organization_id, remember, ip,
                               user_agent, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, now() + $8::interval)",
    )
    .bind(Uuid::new_v4())
    .bind(user_id)
    .bind(token.hash())
    .bind(organization_id)
    .bind(lifetime.remembered())
    .bind(meta.ip.map(IpNetwork::from))
    .bind(&meta.user_agent)
    .bind(format!("{} seconds", ttl.num_seconds()))
    .execute(conn)
    .await?;
    Ok(token)
}

/// A `SessionUser` of a live (unexpired, unrevoked) session; callers add
/// the condition that picks the session.
const SELECT_LIVE: &str =
    "select s.id as session_id, u.id as user_id, u.name, u.email, u.is_platform_admin,
            s.current_organization_id, s.last_seen_at
     from sessions s join users u on u.id = s.user_id
     where s.revoked_at is null and s.expires_at > now()";

/// The user of the live session with this id, if it is `user_id`'s (what a
/// JWT's `sid` and `sub` claims name).
pub async fn live_by_id(
    pool: &PgPool,
    session_id: SessionId,
    user_id: UserId,
) -> Result<Option<SessionUser>> {
    Ok(
        sqlx::query_as(&format!("{SELECT_LIVE} and s.id = $1 and s.user_id = $2"))
            .bind(session_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?,
    )
}

/// The user behind a valid, unexpired access token whose session is still
/// live.
pub async fn authenticate_access_token(
    pool: &PgPool,
    keys: &super::jwt::JwtKeys,
    token: &str,
) -> Result<SessionUser> {
    let claims = keys.verify(token)?;
    live_by_id(pool, claims.sid, claims.sub)
        .await?
        .ok_or(super::Error::Unauthenticated)
}

/// The user of the live session this cookie token belongs to.
pub async fn authenticate(pool: &PgPool, token: &SessionToken) -> Result<Option<SessionUser>> {
    let user: Option<SessionUser> = sqlx::query_as("select * from session_user_by_token($1)")
        .bind(token.hash())
        .fetch_optional(pool)
        .await?;
    match user {
        Some(user) => Ok(Some(presented(pool, token, user).await?)),
        None => Ok(None),
    }
}

/// The user whose session `token` is: carrying the token's proof, and
/// with the session's use recorded.
async fn presented(
    pool: &PgPool,
    token: &SessionToken,
    mut user: SessionUser,
) -> Result<SessionUser> {
    user.proof = Some(SessionProof::of(token));
    touch(pool, &user).await?;
    Ok(user)
}

/// `authenticate`, with the user's memberships read in the same statement
/// (`session_caller`): what every signed-in page needs first.
pub async fn authenticate_with_memberships(
    pool: &PgPool,
    token: &SessionToken,
) -> Result<Option<(SessionUser, Vec<Membership>)>> {
    let rows: Vec<CallerRow> = sqlx::query_as("select * from session_caller($1)")
        .bind(token.hash())
        .fetch_all(pool)
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let user = presented(pool, token, first.user.clone()).await?;
    let memberships = rows.into_iter().filter_map(CallerRow::membership).collect();
    Ok(Some((user, memberships)))
}

/// One row of `session_caller`: the user, and one of their memberships
/// (none for a user without any).
#[derive(sqlx::FromRow)]
struct CallerRow {
    #[sqlx(flatten)]
    user: SessionUser,
    organization_id: Option<OrgId>,
    organization_name: Option<String>,
    organization_slug: Option<OrgSlug>,
    role: Option<Role>,
    organization_active: Option<bool>,
    joined_at: Option<DateTime<Utc>>,
}

impl CallerRow {
    fn membership(self) -> Option<Membership> {
        Some(Membership {
            organization: MyOrganization {
                id: self.organization_id?,
                name: self.organization_name?,
                slug: self.organization_slug?,
                role: self.role?,
                active: self.organization_active?,
            },
            joined_at: self.joined_at?,
        })
    }
}

/// Records that the session was used, at most once a minute.
async fn touch(pool: &PgPool, user: &SessionUser) -> Result<()> {
    if Utc::now() - user.last_seen_at > TOUCH_INTERVAL {
        sqlx::query("update sessions set last_seen_at = now() where id = $1")
            .bind(user.session_id)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Makes `org_id` the session's current organization.
pub async fn set_current_organization(
    conn: &mut PgConnection,
    session_id: SessionId,
    org_id: OrgId,
) -> Result<()> {
    sqlx::query("update sessions set current_organization_id = $2 where id = $1")
        .bind(session_id)
        .bind(org_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn revoke(conn: &mut PgConnection, session_id: SessionId) -> Result<()> {
    sqlx::query("update sessions set revoked_at = now() where id = $1 and revoked_at is null")
        .bind(session_id)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_http_only_and_same_site_lax() {
        let token = SessionToken::generate();
        let c = session_cookie(&token, false, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"));
        assert!(c.starts_with("__Host-codebook_session=") && c.contains("Path=/"));
        assert!(!c.contains("Domain"));
        assert!(
            !c.contains("Max-Age"),
            "a short session ends with the browser"
        );
        assert!(session_cookie(&token, true, false).contains("Max-Age=2592000"));
        assert!(!session_cookie(&token, true, false).contains("Secure"));
        assert!(session_cookie(&token, true, false).starts_with("codebook_session="));
        assert!(clear_cookie(true).starts_with("__Host-codebook_session=;"));
    }

    #[test]
    fn the_token_is_read_back_from_the_cookie_header() {
        let token = SessionToken::generate();
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            format!("theme=dark; {COOKIE_NAME}={}", token.as_str())
                .parse()
                .unwrap(),
        );
        assert_eq!(
            SessionToken::from_headers(&headers, COOKIE_NAME)
                .unwrap()
                .as_str(),
            token.as_str()
        );
        assert!(
            SessionToken::from_headers(&headers, SECURE_COOKIE_NAME).is_none(),
            "production reads only its own cookie name"
        );
        assert_ne!(token.hash(), token.as_str().as_bytes());
    }
}
