//! Sign-up, log-in and log-out (here), and what a signed-in user does with
//! their own account: sessions, password change and reset (`security`).
//! Each writes its audit entries in the same transaction as the change.
pub mod security;

use crate::model::audit::AuditAction;
use crate::model::{OrgId, UserId};
use serde_json::json;

use super::audit::{self, AuditEvent};
use super::error::ResultExt as _;
use super::mode::Mode;
use super::sessions::{self, Lifetime, SessionToken, SessionUser};
use super::throttle::{self, Slot};
use super::{db, members, orgs, Actor, AppState, Error, OrgTx, RequestMeta, Result};
use crate::model::accounts::{DisplayName, Email, Password};
use crate::model::Role;

#[derive(Debug, Clone)]
pub struct SignUpInput {
    pub name: String,
    pub email: String,
    pub password: String,
    pub organization: String,
}

/// A new session, for the caller to hand to the browser.
#[derive(Debug)]
pub struct SignedIn {
    pub token: SessionToken,
    pub remember: bool,
    pub user_id: UserId,
    pub organization_id: OrgId,
}

struct ValidSignUp {
    name: DisplayName,
    email: Email,
    password: Password,
    organization: DisplayName,
}

impl ValidSignUp {
    fn parse(input: &SignUpInput) -> Result<Self> {
        Ok(Self {
            name: DisplayName::parse("name", &input.name)?,
            email: Email::parse(&input.email)?,
            password: Password::parse(&input.password)?,
            organization: DisplayName::parse("organization", &input.organization)?,
        })
    }
}

/// Creates a user, their organization (with them as owner) and a session.
#[tracing::instrument(skip_all)]
pub async fn sign_up(state: &AppState, input: SignUpInput, meta: RequestMeta) -> Result<SignedIn> {
    let input = ValidSignUp::parse(&input)?;
    // Counted before the (costly) hash, and whether or not it succeeds.
    let mut conn = state.pool.acquire().await?;
    throttle::hit_address(&mut conn, state.mode, throttle::SIGN_UP_PER_ADDRESS, &meta).await?;
    drop(conn);
    let password_hash = state.passwords.hash(&input.password).await?;

    let mut tx = db::begin(&state.pool, None).await?;
    let user_id = UserId::new_v4();
    if state.mode == Mode::Development {
        // Serialize sign-ups so exactly one "first user" can exist.
        sqlx::query("select pg_advisory_xact_lock(hashtextextended('first-user', 0))")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "insert into users (id, email, name, password_hash, is_platform_admin)
         values ($1, $2, $3, $4, ($5 and not exists (select 1 from users)) or $6)",
    )
    .bind(user_id)
    .bind(input.email.as_str())
    .bind(input.name.as_str())
    .bind(&password_hash)
    .bind(state.mode == Mode::Development)
    .bind(
        state
            .platform_admins
            .iter()
            .any(|e| e == input.email.as_str()),
    )
    .execute(&mut *tx)
    .await
    .on_constraint("users_email_key", || {
        Error::conflict(
            "email",
            "An account with this email already exists. Log in instead.",
        )
    })?;

    let org = orgs::create(&mut tx, &input.organization).await?;
    let mut tx = OrgTx::bind(tx, org.id, Actor::User(user_id), meta.clone()).await?;
    members::add(&mut tx, user_id, Role::Owner).await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::UserSignedUp, "user", user_id)
            .after(json!({"email": input.email.as_str(), "name": input.name.as_str()})),
    )
    .await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::OrganizationCreated, "organization", org.id)
            .after(json!({"name": org.name, "slug": org.slug})),
    )
    .await?;
    let token =
        sessions::create(tx.conn(), user_id, Some(org.id), Lifetime::Workday, &meta).await?;
    tx.commit().await?;
    tracing::info!(%user_id, org_id = %org.id, "user signed up");
    Ok(SignedIn {
        token,
        remember: false,
        user_id,
        organization_id: org.id,
    })
}

#[derive(sqlx::FromRow)]
struct Credentials {
    id: UserId,
    password_hash: String,
}

/// Checks email and password and opens a session in the user's first
/// organization. A wrong password is audited in each of the user's
/// organizations; an unknown email, which concerns no organization, in the
/// platform's security events.
#[tracing::instrument(skip_all)]
pub async fn log_in(
    state: &AppState,
    email: &str,
    password: &str,
    lifetime: Lifetime,
    meta: RequestMeta,
) -> Result<SignedIn> {
    let remember = lifetime.remembered();
    if email.trim().is_empty() {
        return Err(Error::Validation {
            field: Some("email".into()),
            message: "Enter your email address.".into(),
        });
    }
    if password.is_empty() {
        return Err(Error::Validation {
            field: Some("password".into()),
            message: "Enter your password.".into(),
        });
    }
    let ip_key = meta.ip.map(throttle::ip_key);
    if let Some(key) = &ip_key {
        if let Slot::Locked { until } =
            throttle::take_slot(&state.pool, key, throttle::IP_LIMIT).await?
        {
            return Err(Error::RateLimited(format!(
                "Too many failed log-ins from your network. Try again after {} UTC.",
                until.format("%H:%M")
            )));
        }
    }
    let typed_email = email;
    let email = Email::parse(email).map_err(|_| Error::InvalidCredentials);
    let user: Option<Credentials> = match &email {
        Ok(email) => {
            sqlx::query_as("select id, password_hash from users where email = $1")
                .bind(email.as_str())
                .fetch_optional(&state.pool)
                .await?
        }
        Err(_) => None,
    };
    let account_key = user.as_ref().map(|u| throttle::account_key(u.id));
    if let Some(key) = &account_key {
        if let Slot::Locked { until } =
            throttle::take_slot(&state.pool, key, throttle::ACCOUNT_LIMIT).await?
        {
            return Err(locked(until));
        }
    }
    let valid = state
        .passwords
        .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
        .await?;
    if !valid {
        if let Some(key) = &ip_key {
            throttle::record_failure(&state.pool, key, throttle::IP_LIMIT).await?;
        }
    }
    let Some(user) = user else {
        tracing::warn!(ip = ?meta.ip, "log-in with an unknown email");
        audit::security::record_unknown_email_login(&state.pool, typed_email, &meta).await?;
        return Err(Error::InvalidCredentials);
    };
    let account_key = account_key.expect("set for a known user");
    if !valid {
        let locked_until =
            throttle::record_failure(&state.pool, &account_key, throttle::ACCOUNT_LIMIT).await?;
        let mut event = AuditEvent::new(AuditAction::UserLogin, "user", user.id).failed();
        if let Some(until) = locked_until {
            event = event.after(json!({"locked_until": until}));
        }
        security::audit_in_user_orgs(&state.pool, user.id, Actor::Anonymous, &meta, event).await?;
        return Err(match locked_until {
            Some(until) => locked(until),
            None => Error::InvalidCredentials,
        });
    }
    throttle::clear(&state.pool, &account_key).await?;
    let org_ids = organizations_of(&state.pool, user.id).await?;
    if let Some(key) = &ip_key {
        // Only failures should count against an address; one success must
        // not wipe them (an attacker would log into their own account).
        throttle::release_slot(&state.pool, key).await?;
    }
    let Some(&org_id) = org_ids.first() else {
        return Err(Error::Forbidden(
            "You are not a member of any organization.".into(),
        ));
    };
    let mut tx = OrgTx::begin(&state.pool, org_id, Actor::User(user.id), meta.clone()).await?;
    let token = sessions::create(tx.conn(), user.id, Some(org_id), lifetime, &meta).await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::UserLogin, "user", user.id)
            .after(json!({"remember": remember})),
    )
    .await?;
    tx.commit().await?;
    Ok(SignedIn {
        token,
        remember,
        user_id: user.id,
        organization_id: org_id,
    })
}

fn locked(until: chrono::DateTime<chrono::Utc>) -> Error {
    Error::AccountLocked(format!(
        "Too many failed log-ins: this account is locked for 15 minutes, until {} UTC. \
         Try again then, or reset your password.",
        until.format("%H:%M")
    ))
}

/// The user's organizations, the one they joined first first.
pub(crate) async fn organizations_of(pool: &sqlx::PgPool, user_id: UserId) -> Result<Vec<OrgId>> {
    let mut tx = db::begin_as_user(pool, user_id).await?;
    let ids = sqlx::query_scalar(
        "select organization_id from memberships where user_id = $1 order by created_at, organization_id",
    )
    .bind(user_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids)
}

/// Ends the session and records it in the organization it was working on.
pub async fn log_out(state: &AppState, user: &SessionUser, meta: RequestMeta) -> Result<()> {
    match user.current_organization_id {
        Some(org_id) => {
            let mut tx = OrgTx::begin(&state.pool, org_id, Actor::User(user.user_id), meta).await?;
            sessions::revoke(tx.conn(), user.session_id).await?;
            audit::record(
                &mut tx,
                AuditEvent::new(AuditAction::UserLogout, "session", user.session_id),
            )
            .await?;
            tx.commit().await
        }
        None => {
            let mut conn = state.pool.acquire().await?;
            sessions::revoke(&mut conn, user.session_id).await
        }
    }
}

/// Makes an existing user a platform admin (`server admin grant`), on the
/// owner's connection: the application role cannot set the flag. Recorded
/// in the platform audit log.
pub async fn grant_platform_admin(owner_pool: &sqlx::PgPool, email: &str) -> Result<()> {
    let email = Email::parse(email)?;
    let mut tx = db::begin(owner_pool, None).await?;
    let user_id: Option<UserId> = sqlx::query_scalar(
        "update users set is_platform_admin = true where email = $1 returning id",
    )
    .bind(email.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let user_id = user_id.ok_or(Error::NotFound)?;
    let event = audit::platform::PlatformEvent::new(AuditAction::PlatformAdminGranted)
        .details(json!({"user_id": user_id, "email": email.as_str()}));
    audit::platform::record(&mut tx, Actor::System, &RequestMeta::default(), event).await?;
    tx.commit().await?;
    tracing::info!(email = email.as_str(), "granted platform admin");
    Ok(())
}
