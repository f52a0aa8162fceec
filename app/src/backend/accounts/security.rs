//! A signed-in user's own account: sessions, password change, and the
//! password reset by mail. Every change commits in one transaction with
//! its audit entries, one in each organization the user belongs to.
use crate::model::audit::AuditAction;
use crate::model::{OrgId, SessionId, UserId};
use chrono::Duration;
use serde_json::json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::backend::audit::{self, AuditEvent};
use crate::backend::error::ResultExt as _;
use crate::backend::jobs::{self, Job, JobContext, PasswordResetJob};
use crate::backend::mail::Mail;
use crate::backend::sessions::SessionUser;
use crate::backend::throttle::{self, Slot};
use crate::backend::{db, tokens, Actor, AppState, Error, OrgTx, RequestMeta, Result};
use crate::model::accounts::{Email, Password, SessionOut};

pub const RESET_TTL: Duration = Duration::hours(1);

/// Records `event` in the chain of each organization the user belongs to,
/// inside `tx`, and commits: the change the caller made in `tx` and every
/// audit entry of it are kept together or not at all. Account events
/// concern every organization that trusts the account.
pub async fn commit_with_audit_in_user_orgs(
    tx: Transaction<'static, Postgres>,
    user_id: UserId,
    actor: Actor,
    meta: &RequestMeta,
    event: AuditEvent,
) -> Result<()> {
    audit_in_user_orgs_within(tx, user_id, actor, meta, event)
        .await?
        .commit()
        .await
}

/// Records `event` in each of the user's organizations inside `tx`, and
/// hands the transaction back for the change that goes with it.
/// Organizations are taken in id order: each entry locks its
/// organization's row (the chain's head), so two transactions touching
/// the same organizations queue instead of deadlocking.
async fn audit_in_user_orgs_within(
    mut tx: Transaction<'static, Postgres>,
    user_id: UserId,
    actor: Actor,
    meta: &RequestMeta,
    event: AuditEvent,
) -> Result<UserOrgsTx> {
    // Reading the user's memberships across organizations needs app.user_id.
    sqlx::query("select set_config('app.user_id', $1, true)")
        .bind(user_id.to_string())
        .execute(&mut *tx)
        .await?;
    let org_ids: Vec<OrgId> = sqlx::query_scalar(
        "select organization_id from memberships where user_id = $1 order by organization_id",
    )
    .bind(user_id)
    .fetch_all(&mut *tx)
    .await?;
    let Some((&first, rest)) = org_ids.split_first() else {
        return Ok(UserOrgsTx::Plain(tx));
    };
    let mut tx = OrgTx::bind(tx, first, actor, meta.clone()).await?;
    audit::record(&mut tx, event.clone()).await?;
    for &org_id in rest {
        tx.rebind(org_id).await?;
        audit::record(&mut tx, event.clone()).await?;
    }
    Ok(UserOrgsTx::Audited(tx))
}

/// A transaction with a user's audit entries in it, or a plain one for a
/// user in no organization.
enum UserOrgsTx {
    Plain(Transaction<'static, Postgres>),
    Audited(OrgTx),
}

impl UserOrgsTx {
    fn conn(&mut self) -> &mut sqlx::PgConnection {
        match self {
            UserOrgsTx::Plain(tx) => tx,
            UserOrgsTx::Audited(tx) => tx.conn(),
        }
    }

    async fn commit(self) -> Result<()> {
        match self {
            UserOrgsTx::Plain(tx) => Ok(tx.commit().await?),
            UserOrgsTx::Audited(tx) => tx.commit().await,
        }
    }
}

/// Records `event` in each of the user's organizations, in a transaction
/// of its own: for events that change nothing else (a failed attempt).
pub async fn audit_in_user_orgs(
    pool: &PgPool,
    user_id: UserId,
    actor: Actor,
    meta: &RequestMeta,
    event: AuditEvent,
) -> Result<()> {
    commit_with_audit_in_user_orgs(db::begin(pool, None).await?, user_id, actor, meta, event).await
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
    session_id: SessionId,
    meta: &RequestMeta,
) -> Result<()> {
    let mut tx = db::begin_as_user(pool, user.user_id).await?;
    let revoked = sqlx::query(
        "update sessions set revoked_at = now()
         where id = $1 and user_id = $2 and revoked_at is null",
    )
    .bind(session_id)
    .bind(user.user_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if revoked == 0 {
        return Err(Error::NotFound);
    }
    let event = AuditEvent::new(AuditAction::UserSessionRevoked, "session", session_id);
    commit_with_audit_in_user_orgs(tx, user.user_id, Actor::User(user.user_id), meta, event).await
}

async fn revoke_all_sessions(
    conn: &mut sqlx::PgConnection,
    user_id: UserId,
    except: Option<SessionId>,
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
    let mut tx = db::begin_as_user(pool, user.user_id).await?;
    let revoked = revoke_all_sessions(&mut tx, user.user_id, Some(user.session_id)).await?;
    let event = AuditEvent::new(AuditAction::UserSessionsRevoked, "user", user.user_id)
        .after(json!({"revoked": revoked}));
    commit_with_audit_in_user_orgs(tx, user.user_id, Actor::User(user.user_id), meta, event)
        .await?;
    Ok(revoked)
}

/// Needs the current password, checked under the same per-account limit
/// as log-in (a wrong one counts as a failed log-in: whoever holds a
/// stolen session gets no more guesses here than at the log-in form);
/// ends every other session.
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
    confirm_password(state, user, current, "current_password", meta).await?;
    let proof = user.proof()?;
    let new_hash = state.passwords.hash(&new).await?;
    let mut tx = db::begin_as_user(&state.pool, user.user_id).await?;
    // The role cannot update password hashes itself; this function sets
    // the one of the session's user.
    sqlx::query("select set_own_password($1, $2)")
        .bind(proof.as_bytes())
        .bind(&new_hash)
        .execute(&mut *tx)
        .await?;
    revoke_all_sessions(&mut tx, user.user_id, Some(user.session_id)).await?;
    let event = AuditEvent::new(AuditAction::UserPasswordChanged, "user", user.user_id);
    commit_with_audit_in_user_orgs(tx, user.user_id, Actor::User(user.user_id), meta, event).await
}

/// Deletes the signed-in user's account once their password is confirmed;
/// refused, naming the organizations, while they are the last owner of
/// one. Each of their organizations records it in its audit chain, in the
/// transaction that deletes.
pub async fn delete_account(
    state: &AppState,
    user: &SessionUser,
    password: &str,
    meta: &RequestMeta,
) -> Result<()> {
    let proof = user.proof()?;
    confirm_password(state, user, password, "password", meta).await?;
    let tx = db::begin_as_user(&state.pool, user.user_id).await?;
    let event = AuditEvent::new(AuditAction::UserDeleted, "user", user.user_id);
    let actor = Actor::User(user.user_id);
    // `delete_own_account` locks the organizations in id order too.
    let mut tx = audit_in_user_orgs_within(tx, user.user_id, actor, meta, event).await?;
    let last_owner_of: Vec<String> = sqlx::query_scalar("select * from delete_own_account($1)")
        .bind(proof.as_bytes())
        .fetch_all(tx.conn())
        .await
        .on_constraint("memberships_last_owner", || last_owner_of_error(&[]))?;
    if !last_owner_of.is_empty() {
        return Err(last_owner_of_error(&last_owner_of));
    }
    tx.commit().await
}

/// Checks the signed-in user's password (throttled per account); a wrong
/// one is counted, audited, and refused on `field`.
async fn confirm_password(
    state: &AppState,
    user: &SessionUser,
    password: &str,
    field: &str,
    meta: &RequestMeta,
) -> Result<()> {
    let account_key = throttle::account_key(user.user_id);
    if let Slot::Locked { until } =
        throttle::take_slot(&state.pool, &account_key, throttle::ACCOUNT_LIMIT).await?
    {
        return Err(super::locked(until));
    }
    let hash: String = sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(user.user_id)
        .fetch_one(&state.pool)
        .await?;
    if !state.passwords.verify(password, Some(&hash)).await? {
        return Err(wrong_password(state, user, &account_key, field, meta).await?);
    }
    throttle::clear(&state.pool, &account_key).await
}

fn last_owner_of_error(names: &[String]) -> Error {
    let which = if names.is_empty() {
        "an organization".to_owned()
    } else {
        names.join(", ")
    };
    Error::Conflict {
        field: None,
        message: format!(
            "You are the last owner of {which}. Make someone else owner there, or delete the \
             organization, before you delete your account."
        ),
    }
}

/// Counts the failure, audits it, and says why the change was refused.
async fn wrong_password(
    state: &AppState,
    user: &SessionUser,
    account_key: &str,
    field: &str,
    meta: &RequestMeta,
) -> Result<Error> {
    let locked_until =
        throttle::record_failure(&state.pool, account_key, throttle::ACCOUNT_LIMIT).await?;
    let mut event =
        AuditEvent::new(AuditAction::UserPasswordChanged, "user", user.user_id).failed();
    if let Some(until) = locked_until {
        event = event.after(json!({"locked_until": until}));
    }
    audit_in_user_orgs(
        &state.pool,
        user.user_id,
        Actor::User(user.user_id),
        meta,
        event,
    )
    .await?;
    Ok(match locked_until {
        Some(until) => super::locked(until),
        None => Error::Validation {
            field: Some(field.into()),
            message: "That is not your current password.".into(),
        },
    })
}

/// Queues a reset link for the address. The request does the same work
/// whether or not the address has an account (two rate-limit upserts and
/// one job insert, no lookup), so neither its answer nor its timing tells
/// who has one; the lookup, the link and the mail happen in the job.
pub async fn request_reset(state: &AppState, email: &str, meta: &RequestMeta) -> Result<()> {
    let email = Email::parse(email)?;
    let mut tx = db::begin(&state.pool, None).await?;
    throttle::hit_address(
        &mut tx,
        state.mode,
        throttle::RESET_REQUEST_PER_ADDRESS,
        meta,
    )
    .await?;
    throttle::hit(&mut tx, throttle::RESET_REQUEST_PER_EMAIL, email.as_str()).await?;
    let job = Job::PasswordReset(PasswordResetJob {
        email: email.as_str().to_owned(),
        meta: meta.into(),
    });
    jobs::enqueue(&mut tx, &job).await?;
    tx.commit().await?;
    Ok(())
}

/// The job behind `request_reset`: a new link (older ones stop working),
/// audited with it in one transaction, then mailed. A retry after a failed
/// send makes a fresh link, so no link is stored anywhere but as a hash.
pub(crate) async fn send_reset_link(runner: &JobContext, job: &PasswordResetJob) -> Result<()> {
    let user_id: Option<UserId> = sqlx::query_scalar("select id from users where email = $1")
        .bind(&job.email)
        .fetch_optional(runner.pool())
        .await?;
    let Some(user_id) = user_id else {
        tracing::info!("password reset requested for an unknown address");
        return Ok(());
    };
    let token = tokens::generate();
    let mut tx = db::begin(runner.pool(), None).await?;
    sqlx::query(
        "update password_resets set used_at = now() where user_id = $1 and used_at is null",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into password_resets (id, user_id, token_hash, expires_at)
         values ($1, $2, $3, now() + $4::interval)",
    )
    .bind(Uuid::new_v4())
    .bind(user_id)
    .bind(tokens::hash(&token))
    .bind(format!("{} seconds", RESET_TTL.num_seconds()))
    .execute(&mut *tx)
    .await?;
    let event = AuditEvent::new(AuditAction::UserPasswordResetRequested, "user", user_id);
    let meta = RequestMeta::from(job.meta.clone());
    commit_with_audit_in_user_orgs(tx, user_id, Actor::Anonymous, &meta, event).await?;
    let mail = Mail {
        to: job.email.clone(),
        subject: "Reset your Codebook password".into(),
        text: format!(
            "Someone asked to reset the password of your Codebook account.\n\nChoose a new password:\n{}\n\nThe link works once and expires in one hour. If it was not you, ignore this mail.\n",
            runner.link(&format!("/reset-password/{token}"))
        ),
    };
    runner.mailer().send(&mail).await
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
    let mut conn = state.pool.acquire().await?;
    throttle::hit_address(&mut conn, state.mode, throttle::RESET_PER_ADDRESS, meta).await?;
    drop(conn);
    let new_hash = state.passwords.hash(&new).await?;
    let mut tx = db::begin(&state.pool, None).await?;
    // Uses the link up and sets the password in one statement, as the
    // owner: the role cannot update password hashes itself.
    let user_id: Option<UserId> = sqlx::query_scalar("select reset_password_with_token($1, $2)")
        .bind(tokens::hash(token))
        .bind(&new_hash)
        .fetch_one(&mut *tx)
        .await?;
    let user_id = user_id.ok_or_else(|| {
        Error::Gone("This reset link is not valid: it was used, replaced by a newer one, or has expired. Ask for a new one.".into())
    })?;
    revoke_all_sessions(&mut tx, user_id, None).await?;
    sqlx::query("delete from login_throttles where key = $1")
        .bind(throttle::account_key(user_id))
        .execute(&mut *tx)
        .await?;
    let event = AuditEvent::new(AuditAction::UserPasswordReset, "user", user_id);
    commit_with_audit_in_user_orgs(tx, user_id, Actor::User(user_id), meta, event).await
}
