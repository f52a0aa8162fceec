//! A signed-in user's own account: sessions, password change, and the
//! password reset by mail.
use chrono::Duration;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::backend::audit::{self, AuditEvent};
use crate::backend::mail::Mail;
use crate::backend::sessions::SessionUser;
use crate::backend::{throttle, tokens, Actor, AppState, Error, OrgTx, RequestMeta, Result};
use crate::model::accounts::{Email, Password, SessionOut};

pub const RESET_TTL: Duration = Duration::hours(1);

/// Records `event` in the chain of each organization the user belongs to:
/// account events concern every organization that trusts the account.
pub async fn audit_in_user_orgs(
    pool: &PgPool,
    user_id: Uuid,
    actor: Actor,
    meta: &RequestMeta,
    event: AuditEvent,
) -> Result<()> {
    for org_id in super::organizations_of(pool, user_id).await? {
        let mut tx = OrgTx::begin(pool, org_id, actor, meta.clone()).await?;
        audit::record(&mut tx, event.clone()).await?;
        tx.commit().await?;
    }
    Ok(())
}

pub async fn list_sessions(pool: &PgPool, user: &SessionUser) -> Result<Vec<SessionOut>> {
    Ok(sqlx::query_as(
        "select id, user_agent, host(ip) as ip, created_at, last_seen_at, expires_at, id = $2 as current
         from sessions
         where user_id = $1 and revoked_at is null and expires_at > now()
         order by (id = $2) desc, last_seen_at desc",
    )
    .bind(user.user_id)
    .bind(user.session_id)
    .fetch_all(pool)
    .await?)
}

/// Revokes one of the user's own sessions; another user's id finds nothing.
pub async fn revoke_session(
    pool: &PgPool,
    user: &SessionUser,
    session_id: Uuid,
    meta: &RequestMeta,
) -> Result<()> {
    let revoked = sqlx::query("update sessions set revoked_at = now() where id = $1 and user_id = $2 and revoked_at is null")
        .bind(session_id)
        .bind(user.user_id)
        .execute(pool)
        .await?
        .rows_affected();
    if revoked == 0 {
        return Err(Error::NotFound);
    }
    let event = AuditEvent::new("user.session_revoked", "session", session_id);
    audit_in_user_orgs(pool, user.user_id, Actor::User(user.user_id), meta, event).await
}

async fn revoke_all_sessions(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    except: Option<Uuid>,
) -> Result<u64> {
    Ok(sqlx::query(
        "update sessions set revoked_at = now()
         where user_id = $1 and revoked_at is null and ($2::uuid is null or id <> $2)",
    )
    .bind(user_id)
    .bind(except)
    .execute(conn)
    .await?
    .rows_affected())
}

pub async fn revoke_other_sessions(
    pool: &PgPool,
    user: &SessionUser,
    meta: &RequestMeta,
) -> Result<u64> {
    let mut conn = pool.acquire().await?;
    let revoked = revoke_all_sessions(&mut conn, user.user_id, Some(user.session_id)).await?;
    let event = AuditEvent::new("user.sessions_revoked", "user", user.user_id)
        .after(json!({"revoked": revoked}));
    audit_in_user_orgs(pool, user.user_id, Actor::User(user.user_id), meta, event).await?;
    Ok(revoked)
}

/// Needs the current password; ends every other session.
pub async fn change_password(
    state: &AppState,
    user: &SessionUser,
    current: &str,
    new: &str,
    meta: &RequestMeta,
) -> Result<()> {
    let new = Password::parse(new).map_err(|e| Error::Validation {
        field: Some("new_password".into()),
        message: e.message,
    })?;
    let hash: String = sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(user.user_id)
        .fetch_one(&state.pool)
        .await?;
    if !state.passwords.verify(current, Some(&hash)).await? {
        return Err(Error::Validation {
            field: Some("current_password".into()),
            message: "That is not your current password.".into(),
        });
    }
    let new_hash = state.passwords.hash(&new).await?;
    let mut tx = state.pool.begin().await?;
    sqlx::query("update users set password_hash = $2 where id = $1")
        .bind(user.user_id)
        .bind(&new_hash)
        .execute(&mut *tx)
        .await?;
    revoke_all_sessions(&mut tx, user.user_id, Some(user.session_id)).await?;
    tx.commit().await?;
    let event = AuditEvent::new("user.password_changed", "user", user.user_id);
    audit_in_user_orgs(
        &state.pool,
        user.user_id,
        Actor::User(user.user_id),
        meta,
        event,
    )
    .await
}

/// Mails a reset link if the address has an account. The caller answers
/// the same either way, so the form does not reveal who has an account.
pub async fn request_reset(state: &AppState, email: &str, meta: &RequestMeta) -> Result<()> {
    let email = Email::parse(email)?;
    let user_id: Option<Uuid> = sqlx::query_scalar("select id from users where email = $1")
        .bind(email.as_str())
        .fetch_optional(&state.pool)
        .await?;
    let Some(user_id) = user_id else {
        tracing::info!("password reset requested for an unknown address");
        return Ok(());
    };
    let token = tokens::generate();
    let mut tx = state.pool.begin().await?;
    // Only the newest link works.
    sqlx::query(
        "update password_resets set used_at = now() where user_id = $1 and used_at is null",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into password_resets (id, user_id, token_hash, expires_at) values ($1, $2, $3, now() + $4::interval)",
    )
    .bind(Uuid::new_v4())
    .bind(user_id)
    .bind(tokens::hash(&token))
    .bind(format!("{} seconds", RESET_TTL.num_seconds()))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let mail = Mail {
        to: email.as_str().to_owned(),
        subject: "Reset your Codebook password".into(),
        text: format!(
            "Someone asked to reset the password of your Codebook account.\n\nChoose a new password:\n{}\n\nThe link works once and expires in one hour. If it was not you, ignore this mail.\n",
            state.link(&format!("/reset-password/{token}"))
        ),
    };
    state.mailer.send(&mail).await?;
    let event = AuditEvent::new("user.password_reset_requested", "user", user_id);
    audit_in_user_orgs(&state.pool, user_id, Actor::Anonymous, meta, event).await
}

/// Sets the new password if the link is live, uses it up, and ends every
/// session of the user.
pub async fn reset_password(
    state: &AppState,
    token: &str,
    new: &str,
    meta: &RequestMeta,
) -> Result<()> {
    let new = Password::parse(new)?;
    let new_hash = state.passwords.hash(&new).await?;
    let mut tx = state.pool.begin().await?;
    let user_id: Option<Uuid> = sqlx::query_scalar(
        "update password_resets set used_at = now()
         where token_hash = $1 and used_at is null and expires_at > now()
         returning user_id",
    )
    .bind(tokens::hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    let user_id = user_id.ok_or_else(|| {
        Error::Gone("This reset link is not valid: it was used, replaced by a newer one, or has expired. Ask for a new one.".into())
    })?;
    sqlx::query("update users set password_hash = $2 where id = $1")
        .bind(user_id)
        .bind(&new_hash)
        .execute(&mut *tx)
        .await?;
    revoke_all_sessions(&mut tx, user_id, None).await?;
    sqlx::query("delete from login_throttles where key = $1")
        .bind(throttle::account_key(user_id))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let event = AuditEvent::new("user.password_reset", "user", user_id);
    audit_in_user_orgs(&state.pool, user_id, Actor::User(user_id), meta, event).await
}
