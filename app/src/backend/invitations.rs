//! Invitations: by email, with a role no higher than the inviter may give,
//! a single-use link valid for 7 days, counted against the member limit
//! while open. A token only ever joins its own organization with its own
//! role.
use crate::model::audit::AuditAction;
use crate::model::{InvitationId, OrgId, UserId};
use chrono::Duration;
use serde_json::json;

use super::accounts::SignedIn;
use super::audit::{self, AuditEvent};
use super::error::ResultExt as _;
use super::jobs::{self, InvitationRef, Job, MailJob};
use super::mail::Mail;
use super::outbox::{self, EventType};
use super::sessions::{self, SessionUser};
use super::{
    limits, members, throttle, tokens, Actor, AppState, Error, OrgContext, OrgTx, RequestMeta,
    Result,
};
use crate::model::accounts::{DisplayName, Email, Password};
use crate::model::members::{InvitationOut, InvitationPreview};
use crate::model::{Permission, Role};

pub const TTL: Duration = Duration::days(7);

const SELECT_OUT: &str =
    "select i.id, i.email, i.role, u.name as invited_by, i.created_at, i.expires_at, i.mail_error
     from invitations i left join users u on u.id = i.invited_by";

async fn get_open(tx: &mut OrgTx, id: InvitationId) -> Result<InvitationOut> {
    sqlx::query_as(&format!(
        "{SELECT_OUT} where i.organization_id = $1 and i.id = $2
           and i.accepted_at is null and i.revoked_at is null"
    ))
    .bind(tx.org_id())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(Error::NotFound)
}

/// Open invitations of the organization, newest first: for those who may
/// invite (addresses of people who are not members yet are not for every
/// viewer or read-only key).
pub async fn list(ctx: &OrgContext, state: &AppState) -> Result<Vec<InvitationOut>> {
    let mut tx = ctx.begin_as(&state.pool, Permission::InviteMembers).await?;
    let rows = sqlx::query_as(&format!(
        "{SELECT_OUT} where i.organization_id = $1 and i.accepted_at is null and i.revoked_at is null
         order by i.created_at desc"
    ))
    .bind(tx.org_id())
    .fetch_all(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(rows)
}

async fn may_invite(ctx: &OrgContext, role: Role) -> Result<()> {
    ctx.require(Permission::InviteMembers).await?;
    if !ctx.grant.can_assign(role) {
        return Err(Error::Forbidden(format!(
            "{} cannot invite someone as {}.",
            ctx.grant.label(),
            role.label()
        )));
    }
    Ok(())
}

#[tracing::instrument(skip(ctx, state), fields(org_id = %ctx.org_id))]
pub async fn invite(
    ctx: &OrgContext,
    state: &AppState,
    email: &str,
    role: Role,
) -> Result<InvitationOut> {
    may_invite(ctx, role).await?;
    let email = Email::parse(email)?;
    let mut tx = ctx.begin(&state.pool).await?;
    limits::ensure_seat_available(&mut tx).await?;
    if let Err(error) = count_sending(&mut tx, state, &email).await {
        return Err(refused_sending(ctx, tx, &email, error).await);
    }
    let already_member: bool = sqlx::query_scalar(
        "select exists (select 1 from memberships m join users u on u.id = m.user_id
                        where m.organization_id = $1 and u.email = $2)",
    )
    .bind(tx.org_id())
    .bind(email.as_str())
    .fetch_one(tx.conn())
    .await?;
    if already_member {
        return Err(Error::conflict("email", "This person is already a member."));
    }
    // An expired invitation no longer holds the address.
    sqlx::query(
        "update invitations set revoked_at = now()
         where organization_id = $1 and email = $2 and accepted_at is null and revoked_at is null
           and expires_at <= now()",
    )
    .bind(tx.org_id())
    .bind(email.as_str())
    .execute(tx.conn())
    .await?;
    let id = InvitationId::new_v4();
    let token = tokens::generate();
    sqlx::query(
        "insert into invitations (organization_id, id, email, role, token_hash, invited_by, expires_at)
         values ($1, $2, $3, $4, $5, $6, now() + $7::interval)",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(email.as_str())
    .bind(role)
    .bind(tokens::hash(&token))
    .bind(ctx.user_id())
    .bind(format!("{} seconds", TTL.num_seconds()))
    .execute(tx.conn())
    .await
    .on_constraint("invitations_one_open", || {
        Error::conflict("email", "This address already has a pending invitation. Resend it instead.")
    })?;
    let details = json!({"invitation_id": id, "email": email.as_str(), "role": role});
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::MemberInvited, "invitation", id).after(details.clone()),
    )
    .await?;
    outbox::enqueue(&mut tx, EventType::MemberInvited, details).await?;
    let invitation = get_open(&mut tx, id).await?;
    queue_mail(&mut tx, ctx, state, &invitation, &token).await?;
    tx.commit().await?;
    Ok(invitation)
}

/// A new link (the old one stops working) and a new 7 days.
#[tracing::instrument(skip(ctx, state), fields(org_id = %ctx.org_id))]
pub async fn resend(ctx: &OrgContext, state: &AppState, id: InvitationId) -> Result<InvitationOut> {
    let mut tx = ctx.begin_as(&state.pool, Permission::InviteMembers).await?;
    let invitation = get_open(&mut tx, id).await?;
    may_invite(ctx, invitation.role).await?;
    let email = Email::parse(&invitation.email)?;
    if let Err(error) = count_sending(&mut tx, state, &email).await {
        return Err(refused_sending(ctx, tx, &email, error).await);
    }
    let token = tokens::generate();
    sqlx::query(
        "update invitations set token_hash = $3, expires_at = now() + $4::interval, mail_error = null
         where organization_id = $1 and id = $2",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(tokens::hash(&token))
    .bind(format!("{} seconds", TTL.num_seconds()))
    .execute(tx.conn())
    .await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::MemberInvitationResent, "invitation", id),
    )
    .await?;
    let invitation = get_open(&mut tx, id).await?;
    queue_mail(&mut tx, ctx, state, &invitation, &token).await?;
    tx.commit().await?;
    Ok(invitation)
}

#[tracing::instrument(skip(ctx, state), fields(org_id = %ctx.org_id))]
pub async fn revoke(ctx: &OrgContext, state: &AppState, id: InvitationId) -> Result<()> {
    let mut tx = ctx.begin_as(&state.pool, Permission::InviteMembers).await?;
    let invitation = get_open(&mut tx, id).await?;
    may_invite(ctx, invitation.role).await?;
    sqlx::query("update invitations set revoked_at = now() where organization_id = $1 and id = $2")
        .bind(tx.org_id())
        .bind(id)
        .execute(tx.conn())
        .await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::MemberInvitationRevoked, "invitation", id)
            .before(json!({"email": invitation.email})),
    )
    .await?;
    tx.commit().await
}

/// Counts a sent invitation against the limits per address, organization
/// and invited email, in the invitation's transaction: an invitation that
/// fails for another reason does not count.
async fn count_sending(tx: &mut OrgTx, state: &AppState, email: &Email) -> Result<()> {
    let (org_id, meta) = (tx.org_id(), tx.meta().clone());
    throttle::hit_address(tx.conn(), state.mode, throttle::INVITE_PER_ADDRESS, &meta).await?;
    throttle::hit(
        tx.conn(),
        throttle::INVITE_PER_ORGANIZATION,
        &org_id.to_string(),
    )
    .await?;
    throttle::hit(tx.conn(), throttle::INVITE_PER_EMAIL, email.as_str()).await
}

/// Ends the invitation's transaction after `count_sending` refused it, and
/// records a refusal by a rate limit in the audit log.
async fn refused_sending(ctx: &OrgContext, tx: OrgTx, email: &Email, error: Error) -> Error {
    if let Err(rollback) = tx.rollback().await {
        return rollback;
    }
    if let Error::RateLimited(message) = &error {
        let event = AuditEvent::new(AuditAction::RateLimitExceeded, "invitation", email.as_str())
            .after(json!({"message": message}));
        ctx.record_failure(event).await;
    }
    error
}

/// Queues the invitation mail in the invitation's transaction; the job
/// sends it after the commit and notes a failure on the invitation for
/// admins to see (and resend).
async fn queue_mail(
    tx: &mut OrgTx,
    ctx: &OrgContext,
    state: &AppState,
    invitation: &InvitationOut,
    token: &str,
) -> Result<()> {
    let link = state.link(&format!("/invite/{token}"));
    let mail = Mail {
        to: invitation.email.clone(),
        subject: format!("You are invited to join {} on Codebook", ctx.org_name),
        text: format!(
            "{} invited you to join {} on Codebook as {}.\n\nAccept the invitation:\n{link}\n\nThe link works once and expires in 7 days.\n",
            ctx.actor_name,
            ctx.org_name,
            invitation.role.label()
        ),
    };
    let job = Job::Mail(MailJob {
        mail,
        invitation: Some(InvitationRef {
            organization_id: tx.org_id(),
            invitation_id: invitation.id,
        }),
    });
    jobs::enqueue(tx.conn(), &job).await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: InvitationId,
    email: String,
    role: Role,
    organization: String,
    usable: bool,
}

async fn organization_of(pool: &sqlx::PgPool, token: &str) -> Result<OrgId> {
    let org: Option<OrgId> = sqlx::query_scalar("select invitation_organization($1)")
        .bind(tokens::hash(token))
        .fetch_one(pool)
        .await?;
    org.ok_or_else(invalid)
}

fn invalid() -> Error {
    Error::Gone("This invitation link is not valid: it was used, revoked, replaced by a newer one, or has expired.".into())
}

async fn find(tx: &mut OrgTx, token: &str) -> Result<TokenRow> {
    let row: TokenRow = sqlx::query_as(
        "select i.id, i.email, i.role, o.name as organization,
                (i.accepted_at is null and i.revoked_at is null and i.expires_at > now() and o.active) as usable
         from invitations i join organizations o on o.id = i.organization_id
         where i.organization_id = $1 and i.token_hash = $2",
    )
    .bind(tx.org_id())
    .bind(tokens::hash(token))
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(invalid)?;
    if row.usable {
        Ok(row)
    } else {
        Err(invalid())
    }
}

pub async fn preview(
    state: &AppState,
    token: &str,
    user: Option<&SessionUser>,
) -> Result<InvitationPreview> {
    let org_id = organization_of(&state.pool, token).await?;
    let mut tx = OrgTx::begin(
        &state.pool,
        org_id,
        Actor::Anonymous,
        RequestMeta::default(),
    )
    .await?;
    let row = find(&mut tx, token).await?;
    let account_exists: bool =
        sqlx::query_scalar("select exists (select 1 from users where email = $1)")
            .bind(&row.email)
            .fetch_one(tx.conn())
            .await?;
    tx.commit().await?;
    Ok(InvitationPreview {
        organization: row.organization,
        email: row.email,
        role: row.role,
        account_exists,
        signed_in_as: user.map(|u| u.email.clone()),
    })
}

/// How the invitee accepts: as the signed-in user, or with a new account.
pub enum Acceptor {
    SignedIn(SessionUser),
    NewAccount { name: String, password: String },
}

/// Accepts: marks the invitation used (atomically, so a link works once),
/// adds the membership with the invitation's role, and makes the
/// organization current. A new account gets a session.
#[tracing::instrument(skip_all)]
pub async fn accept(
    state: &AppState,
    token: &str,
    acceptor: Acceptor,
    meta: RequestMeta,
) -> Result<Option<SignedIn>> {
    let org_id = organization_of(&state.pool, token).await?;
    let (user_id, new_account) = match &acceptor {
        Acceptor::SignedIn(user) => (user.user_id, None),
        Acceptor::NewAccount { name, password } => {
            let name = DisplayName::parse("name", name)?;
            let password = Password::parse(password)?;
            let hash = state.passwords.hash(&password).await?;
            (UserId::new_v4(), Some((name, hash)))
        }
    };
    let mut tx = OrgTx::begin(&state.pool, org_id, Actor::User(user_id), meta.clone()).await?;
    let row = find(&mut tx, token).await?;
    match (&acceptor, &new_account) {
        (Acceptor::SignedIn(user), _) if user.email != row.email => {
            return Err(Error::Forbidden(format!(
                "This invitation is for {}. Log in as that user to accept it.",
                row.email
            )));
        }
        (Acceptor::NewAccount { .. }, Some((name, hash))) => {
            let email = Email::parse(&row.email)?;
            sqlx::query(
                "insert into users (id, email, name, password_hash) values ($1, $2, $3, $4)",
            )
            .bind(user_id)
            .bind(email.as_str())
            .bind(name.as_str())
            .bind(hash)
            .execute(tx.conn())
            .await
            .on_constraint("users_email_key", || {
                Error::conflict(
                    "email",
                    format!("An account with {} exists. Log in to accept.", row.email),
                )
            })?;
        }
        _ => {}
    }
    let used = sqlx::query(
        "update invitations set accepted_at = now(), accepted_by = $3
         where organization_id = $1 and id = $2 and accepted_at is null and revoked_at is null
           and expires_at > now()",
    )
    .bind(org_id)
    .bind(row.id)
    .bind(user_id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if used != 1 {
        return Err(invalid());
    }
    members::add(&mut tx, user_id, row.role)
        .await
        .on_constraint("memberships_pkey", || {
            Error::conflict("email", "You are already a member of this organization.")
        })?;
    let details =
        json!({"user_id": user_id, "email": row.email, "role": row.role, "invitation_id": row.id});
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::MemberJoined, "member", user_id).after(details.clone()),
    )
    .await?;
    outbox::enqueue(&mut tx, EventType::MemberJoined, details).await?;
    let signed_in = match acceptor {
        Acceptor::SignedIn(user) => {
            sessions::set_current_organization(tx.conn(), user.session_id, org_id).await?;
            None
        }
        Acceptor::NewAccount { .. } => {
            let token = sessions::create(
                tx.conn(),
                user_id,
                Some(org_id),
                sessions::Lifetime::Workday,
                &meta,
            )
            .await?;
            Some(SignedIn {
                token,
                remember: false,
                user_id,
                organization_id: org_id,
            })
        }
    };
    tx.commit().await?;
    Ok(signed_in)
}
