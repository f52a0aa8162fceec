//! The platform audit log: events that concern the platform rather than one
//! organization, and that must outlive the organization they name (its
//! deletion, its deactivation, a platform admin granted). One hash chain,
//! hashed like an organization's, with its head kept in
//! `platform_audit_head` by a database trigger.
use crate::model::audit::AuditAction;
use crate::model::OrgId;
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::types::ipnetwork::IpNetwork;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{canonical_json, Chained, VerifyReport, Walk, GENESIS, PAGE};
use crate::backend::{Actor, RequestMeta, Result};

/// Bumped if the canonical form ever changes, so old entries still verify.
const HASH_FORMAT: u32 = 1;

/// What happened, and to which organization (kept by value).
#[derive(Debug, Clone)]
pub struct PlatformEvent {
    pub action: String,
    pub organization_id: Option<OrgId>,
    pub organization_slug: Option<String>,
    pub details: Option<Value>,
}

impl PlatformEvent {
    pub fn new(action: AuditAction) -> Self {
        Self {
            action: action.as_str().to_owned(),
            organization_id: None,
            organization_slug: None,
            details: None,
        }
    }

    pub fn organization(mut self, id: OrgId, slug: &str) -> Self {
        self.organization_id = Some(id);
        self.organization_slug = Some(slug.to_owned());
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
}

/// A stored entry, exactly as hashed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlatformEntry {
    pub seq: i64,
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub organization_id: Option<OrgId>,
    pub organization_slug: Option<String>,
    pub details: Option<Value>,
    pub ip: Option<IpNetwork>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl PlatformEntry {
    pub fn compute_hash(&self) -> [u8; 32] {
        let canonical = json!([
            HASH_FORMAT,
            "platform",
            self.seq,
            self.id,
            self.occurred_at.timestamp_micros(),
            self.actor_kind,
            self.actor_id,
            self.action,
            self.organization_id,
            self.organization_slug,
            self.details.as_ref().map(canonical_json),
            self.ip.map(|ip| ip.ip().to_string()),
            self.user_agent,
            self.request_id,
            hex::encode(&self.prev_hash),
        ]);
        Sha256::digest(canonical.to_string().as_bytes()).into()
    }
}

impl Chained for PlatformEntry {
    fn seq(&self) -> i64 {
        self.seq
    }
    fn prev_hash(&self) -> &[u8] {
        &self.prev_hash
    }
    fn hash(&self) -> &[u8] {
        &self.hash
    }
    fn compute_hash(&self) -> [u8; 32] {
        PlatformEntry::compute_hash(self)
    }
}

/// Appends `event` in the caller's transaction, so it commits with the
/// change it records.
#[tracing::instrument(skip_all, fields(action = %event.action))]
pub async fn record(
    conn: &mut PgConnection,
    actor: Actor,
    meta: &RequestMeta,
    event: PlatformEvent,
) -> Result<i64> {
    // One writer at a time; the head row itself is the trigger's to change.
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('platform-audit', 0))")
        .execute(&mut *conn)
        .await?;
    let (head_seq, head_hash): (i64, Option<Vec<u8>>) =
        sqlx::query_as("select seq, hash from platform_audit_head")
            .fetch_one(&mut *conn)
            .await?;
    let mut entry = PlatformEntry {
        seq: head_seq + 1,
        id: Uuid::new_v4(),
        occurred_at: Utc::now().trunc_subsecs(6),
        actor_kind: actor.kind().as_str().to_owned(),
        actor_id: actor.id(),
        action: event.action,
        organization_id: event.organization_id,
        organization_slug: event.organization_slug,
        details: event.details,
        ip: meta.ip.map(IpNetwork::from),
        user_agent: meta.user_agent.clone(),
        request_id: meta.request_id.clone(),
        prev_hash: head_hash.unwrap_or_else(|| GENESIS.to_vec()),
        hash: Vec::new(),
    };
    entry.hash = entry.compute_hash().to_vec();
    insert(conn, &entry).await?;
    Ok(entry.seq)
}

async fn insert(conn: &mut PgConnection, e: &PlatformEntry) -> Result<()> {
    sqlx::query(
        "insert into platform_audit_log (seq, id, occurred_at, actor_kind, actor_id, action,
             org_id, org_slug, details, ip, user_agent, request_id, prev_hash, hash)
         values ($1, $2, $3, $4::actor_kind, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(e.seq)
    .bind(e.id)
    .bind(e.occurred_at)
    .bind(&e.actor_kind)
    .bind(e.actor_id)
    .bind(&e.action)
    .bind(e.organization_id)
    .bind(&e.organization_slug)
    .bind(&e.details)
    .bind(e.ip)
    .bind(&e.user_agent)
    .bind(&e.request_id)
    .bind(&e.prev_hash)
    .bind(&e.hash)
    .execute(conn)
    .await?;
    Ok(())
}

/// Walks the platform chain up to its head, like an organization's.
pub async fn verify(pool: &PgPool) -> Result<VerifyReport> {
    let mut tx = crate::backend::db::begin(pool, None).await?;
    let (head_seq, head_hash): (i64, Option<Vec<u8>>) =
        sqlx::query_as("select seq, hash from platform_audit_head")
            .fetch_one(&mut *tx)
            .await?;
    let mut walk = Walk::new(head_seq, head_hash);
    loop {
        let page: Vec<PlatformEntry> = sqlx::query_as(
            "select seq, id, occurred_at, actor_kind::text as actor_kind, actor_id, action,
                    org_id as organization_id, org_slug as organization_slug, details, ip,
                    user_agent, request_id, prev_hash, hash
             from platform_audit_log where seq >= $1 and seq <= $2
             order by seq limit $3",
        )
        .bind(walk.next_seq())
        .bind(walk.head_seq())
        .bind(PAGE)
        .fetch_all(&mut *tx)
        .await?;
        if let Some(report) = walk.page(&page) {
            return Ok(report);
        }
        if (page.len() as i64) < PAGE {
            return Ok(walk.finish());
        }
    }
}
