//! API keys: made, listed, rotated and revoked by admins, and presented by
//! programs calling `/api/v1`.
//!
//! A key reads `cb_live_<random>_<checksum>`: 30 alphanumeric random
//! characters, then the CRC-32 of everything before it in 6 base-62
//! characters. The checksum lets a secret scanner recognise a real key
//! offline, and lets the server refuse a mistyped one without a query.
//! Only the SHA-256 of the key is stored.
use crate::model::{ApiKeyId, UserId};
use chrono::{DateTime, Duration, Utc};
use rand::distributions::{Alphanumeric, DistString};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::types::ipnetwork::IpNetwork;
use sqlx::PgPool;

use super::audit::{self, AuditEvent};
use super::{limits, AppState, Error, OrgContext, OrgTx, RequestMeta, Result};
use crate::model::api_keys::{
    ApiKeyDraft, ApiKeyForm, ApiKeyOut, ApiKeyWithSecret, Scopes, DEFAULT_ROTATION_GRACE_HOURS,
    MAX_ROTATION_GRACE_HOURS,
};
use crate::model::audit::AuditAction;
use crate::model::codes::optional_number;
use crate::model::Permission;

mod authenticated;
mod gate;
pub use authenticated::{AuthenticatedKey, RateLimitState};
pub use gate::{KeyGate, UsageFlusher};

pub const KEY_PREFIX: &str = "cb_live_";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
/// Characters of the random part kept in the listed prefix.
const SHOWN_RANDOM_CHARS: usize = 8;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A freshly made key: the text its holder uses, never stored.
struct Secret(String);

impl Secret {
    fn generate() -> Self {
        let random = Alphanumeric.sample_string(&mut rand::thread_rng(), RANDOM_LEN);
        let body = format!("{KEY_PREFIX}{random}");
        let checksum = checksum(&body);
        Self(format!("{body}_{checksum}"))
    }

    fn prefix(&self) -> String {
        self.0[..KEY_PREFIX.len() + SHOWN_RANDOM_CHARS].to_owned()
    }
}

/// The CRC-32 of `body`, as six base-62 characters.
fn checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes()) as u64;
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).expect("base-62 is ASCII")
}

/// Whether `text` has the shape of a key and its checksum holds: what a
/// scanner (or the server, before any query) can tell offline.
pub fn is_well_formed(text: &str) -> bool {
    let Some(rest) = text.strip_prefix(KEY_PREFIX) else {
        return false;
    };
    let Some((random, check)) = rest.split_once('_') else {
        return false;
    };
    random.len() == RANDOM_LEN
        && random.bytes().all(|b| b.is_ascii_alphanumeric())
        && check.len() == CHECKSUM_LEN
        && checksum(&text[..KEY_PREFIX.len() + RANDOM_LEN]) == check
}

/// Whether a bearer credential is meant as an API key (rather than a JWT).
pub fn looks_like_key(text: &str) -> bool {
    text.starts_with(KEY_PREFIX)
}

fn hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Records the first refused request of a window in the organization's
/// audit log (later ones in the same window would only flood it).
pub async fn audit_rate_limit_hit(pool: &PgPool, key: &AuthenticatedKey, meta: &RequestMeta) {
    if key.rate_limit.used != key.rate_limit.limit + 1 {
        return;
    }
    let event = AuditEvent::new(AuditAction::RateLimitExceeded, "api_key", key.id)
        .after(json!({"limit_per_minute": key.rate_limit.limit}));
    OrgContext::api_key(pool, key, meta.clone())
        .record_failure(event)
        .await;
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: ApiKeyId,
    name: String,
    prefix: String,
    scopes: Vec<String>,
    created_by: Option<String>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    replaced_by: Option<ApiKeyId>,
    rate_limit_per_minute: i32,
    last_used_at: Option<DateTime<Utc>>,
    last_used_ip: Option<IpNetwork>,
    request_count: i64,
    live: bool,
}

impl From<KeyRow> for ApiKeyOut {
    fn from(r: KeyRow) -> Self {
        ApiKeyOut {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            scopes: r.scopes.iter().filter_map(|s| s.parse().ok()).collect(),
            created_by: r.created_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            replaced_by: r.replaced_by,
            rate_limit_per_minute: r.rate_limit_per_minute,
            last_used_at: r.last_used_at,
            last_used_ip: r.last_used_ip.map(|ip| ip.ip().to_string()),
            request_count: r.request_count,
            live: r.live,
        }
    }
}

const SELECT_KEYS: &str = "select k.id, k.name, k.prefix, k.scopes, u.name as created_by,
        k.created_at, k.expires_at, k.revoked_at, k.replaced_by, k.rate_limit_per_minute,
        k.last_used_at, k.last_used_ip, k.request_count,
        (k.revoked_at is null and (k.expires_at is null or k.expires_at > now())) as live
     from api_keys k left join users u on u.id = k.created_by
     where k.organization_id = $1";

/// Every key of the organization, live ones first, newest first.
pub async fn list(ctx: &OrgContext, state: &AppState) -> Result<Vec<ApiKeyOut>> {
    ctx.require(Permission::ManageApiKeys).await?;
    // Show every request this process has let through (others write
    // theirs within seconds).
    if let Err(error) = state.api_keys.flush_usage(&state.pool).await {
        tracing::warn!(error = ?error, "writing API key usage before a listing failed");
    }
    let mut tx = ctx.begin(&state.pool).await?;
    let rows: Vec<KeyRow> = sqlx::query_as(&format!(
        "{SELECT_KEYS}
         order by live desc, k.created_at desc, k.id"
    ))
    .bind(tx.org_id())
    .fetch_all(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

async fn find(tx: &mut OrgTx, id: ApiKeyId) -> Result<ApiKeyOut> {
    let row: Option<KeyRow> = sqlx::query_as(&format!("{SELECT_KEYS} and k.id = $2"))
        .bind(tx.org_id())
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    row.map(Into::into).ok_or(Error::NotFound)
}

/// Locks a key's row for a change, so a rotation and a revocation of the
/// same key run one after the other.
async fn lock(tx: &mut OrgTx, id: ApiKeyId) -> Result<ApiKeyOut> {
    sqlx::query("select 1 from api_keys where organization_id = $1 and id = $2 for update")
        .bind(tx.org_id())
        .bind(id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(Error::NotFound)?;
    find(tx, id).await
}

/// Refuses scopes that grant what the creator's own grant does not.
fn ensure_within_grant(ctx: &OrgContext, scopes: &Scopes) -> Result<()> {
    for scope in scopes.iter() {
        if !scope.permissions().iter().all(|p| ctx.grant.can(*p)) {
            return Err(Error::Validation {
                field: Some("scopes".into()),
                message: format!(
                    "{} does not hold `{scope}`, so it cannot give it to a key.",
                    ctx.grant.label()
                ),
            });
        }
    }
    Ok(())
}

/// The keys that count against the plan's limit: live ones, a rotated key
/// in its grace period counted once (as its replacement).
pub async fn live_count(tx: &mut OrgTx) -> Result<i64> {
    let live = sqlx::query_scalar(
        "select count(*) from api_keys
         where organization_id = $1 and revoked_at is null and replaced_by is null
           and (expires_at is null or expires_at > now())",
    )
    .bind(tx.org_id())
    .fetch_one(tx.conn())
    .await?;
    Ok(live)
}

/// Refuses one more live key at the plan's limit; the organization's row
/// stays locked until the transaction ends, so parallel creations queue.
async fn ensure_key_allowed(tx: &mut OrgTx) -> Result<()> {
    let Some(max) = limits::lock(tx).await?.api_keys else {
        return Ok(());
    };
    if live_count(tx).await? >= i64::from(max) {
        return Err(Error::LimitReached(format!(
            "Organization has reached its API key limit ({max}). Revoke a key first."
        )));
    }
    Ok(())
}

/// Inserts a key with `draft`'s settings, expiring at `expires_at`.
async fn insert(
    tx: &mut OrgTx,
    draft: &ApiKeyDraft,
    expires_at: Option<DateTime<Utc>>,
    created_by: Option<UserId>,
) -> Result<(ApiKeyId, Secret)> {
    let id = ApiKeyId::new_v4();
    let secret = Secret::generate();
    sqlx::query(
        "insert into api_keys (organization_id, id, name, prefix, key_hash, scopes,
             rate_limit_per_minute, created_by, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(&draft.name)
    .bind(secret.prefix())
    .bind(hash(&secret.0))
    .bind(draft.scopes.names())
    .bind(draft.rate_limit_per_minute)
    .bind(created_by)
    .bind(expires_at)
    .execute(tx.conn())
    .await?;
    Ok((id, secret))
}

fn settings_json(key: &ApiKeyOut) -> serde_json::Value {
    json!({
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "expires_at": key.expires_at,
        "rate_limit_per_minute": key.rate_limit_per_minute,
    })
}

pub async fn create(
    ctx: &OrgContext,
    state: &AppState,
    form: ApiKeyForm,
) -> Result<ApiKeyWithSecret> {
    ctx.require(Permission::ManageApiKeys).await?;
    let draft = form.check()?;
    ensure_within_grant(ctx, &draft.scopes)?;
    let expires_at = draft
        .expires_in_days
        .map(|days| Utc::now() + Duration::days(days.into()));
    let mut tx = ctx.begin(&state.pool).await?;
    ensure_key_allowed(&mut tx).await?;
    let (id, secret) = insert(&mut tx, &draft, expires_at, ctx.user_id()).await?;
    let key = find(&mut tx, id).await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::ApiKeyCreated, "api_key", id).after(settings_json(&key)),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiKeyWithSecret {
        key,
        secret: secret.0,
    })
}

/// A new key with the same settings; the old one keeps working for
/// `grace_hours` as typed (0: it stops now; empty: the default), so
/// clients can switch without an outage.
pub async fn rotate(
    ctx: &OrgContext,
    state: &AppState,
    id: ApiKeyId,
    grace_hours: Option<&str>,
) -> Result<ApiKeyWithSecret> {
    ctx.require(Permission::ManageApiKeys).await?;
    let grace_hours = optional_number("grace_hours", grace_hours, 0..=MAX_ROTATION_GRACE_HOURS)?
        .unwrap_or(DEFAULT_ROTATION_GRACE_HOURS);
    let mut tx = ctx.begin(&state.pool).await?;
    let old = lock(&mut tx, id).await?;
    if !old.live || old.replaced_by.is_some() {
        return Err(Error::Conflict {
            field: None,
            message: "Only a live key can be rotated; this one is revoked, expired or already \
                      rotated."
                .into(),
        });
    }
    let scopes = Scopes::new(old.scopes.iter().copied());
    ensure_within_grant(ctx, &scopes)?;
    let draft = ApiKeyDraft {
        name: old.name.clone(),
        scopes,
        expires_in_days: None,
        rate_limit_per_minute: old.rate_limit_per_minute,
    };
    let (new_id, secret) = insert(&mut tx, &draft, old.expires_at, ctx.user_id()).await?;
    let old_until = Utc::now() + Duration::hours(grace_hours.into());
    sqlx::query(
        "update api_keys set replaced_by = $3,
             expires_at = least(coalesce(expires_at, 'infinity'), $4)
         where organization_id = $1 and id = $2",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(new_id)
    .bind(old_until)
    .execute(tx.conn())
    .await?;
    let key = find(&mut tx, new_id).await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::ApiKeyRotated, "api_key", id).after(json!({
            "replaced_by": new_id,
            "old_key_valid_until": old_until,
            "grace_hours": grace_hours,
        })),
    )
    .await?;
    tx.commit().await?;
    state.api_keys.forget();
    Ok(ApiKeyWithSecret {
        key,
        secret: secret.0,
    })
}

/// Stops a key at once. Revoking a revoked key changes nothing.
pub async fn revoke(ctx: &OrgContext, state: &AppState, id: ApiKeyId) -> Result<ApiKeyOut> {
    let mut tx = ctx.begin_as(&state.pool, Permission::ManageApiKeys).await?;
    let key = lock(&mut tx, id).await?;
    if key.revoked_at.is_some() {
        tx.commit().await?;
        return Ok(key);
    }
    sqlx::query("update api_keys set revoked_at = now() where organization_id = $1 and id = $2")
        .bind(tx.org_id())
        .bind(id)
        .execute(tx.conn())
        .await?;
    let key = find(&mut tx, id).await?;
    audit::record(
        &mut tx,
        AuditEvent::new(AuditAction::ApiKeyRevoked, "api_key", id).before(settings_json(&key)),
    )
    .await?;
    tx.commit().await?;
    state.api_keys.forget();
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_has_the_documented_shape_and_a_valid_checksum() {
        for _ in 0..100 {
            let secret = Secret::generate();
            assert!(secret.0.starts_with(KEY_PREFIX));
            assert_eq!(
                secret.0.len(),
                KEY_PREFIX.len() + RANDOM_LEN + 1 + CHECKSUM_LEN
            );
            assert!(is_well_formed(&secret.0), "{}", secret.0);
            assert!(secret.0.starts_with(&secret.prefix()));
        }
    }

    #[test]
    fn a_changed_character_breaks_the_checksum() {
        let key = Secret::generate().0;
        let mut bytes = key.clone().into_bytes();
        let i = KEY_PREFIX.len() + 3;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        assert!(!is_well_formed(&String::from_utf8(bytes).unwrap()));
        for bad in [
            "",
            "cb_live_",
            "cb_test_x_y",
            &key[..key.len() - 1],
            &format!("{key}0"),
        ] {
            assert!(!is_well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn the_checksum_is_the_documented_crc32_in_base62() {
        // A scanner in another language must compute the same suffix: this
        // value comes from Python's zlib.crc32, written in the same base 62.
        let body = "cb_live_0123456789abcdefghijklmnopqrst";
        assert_eq!(checksum(body), "18iPC1");
        assert!(is_well_formed(&format!("{body}_18iPC1")));
    }

    #[test]
    fn the_rate_limit_state_counts_down_and_resets() {
        let now = Utc::now();
        let state = RateLimitState {
            limit: 2,
            used: 3,
            resets_at: now + Duration::seconds(30),
        };
        assert!(state.exceeded());
        assert_eq!(state.remaining(), 0);
        assert!((29..=30).contains(&state.reset_seconds(now)));
    }
}
