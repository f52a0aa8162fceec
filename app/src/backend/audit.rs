//! The audit log: an append-only, per-organization hash chain.
//!
//! Entry n stores `prev_hash` = hash of entry n-1 (32 zero bytes for the
//! first) and `hash` = SHA-256 of a canonical JSON array of all its fields,
//! `prev_hash` included. Changing, removing or reordering any entry breaks
//! the chain at that entry, which `verify` reports. The chain's head (last
//! seq and hash) is also kept on the organization's row, moved only by a
//! database trigger as entries are added, so removing the newest entries is
//! reported too. Events that must outlive an organization (its deletion)
//! go to the platform log in `platform`.
//!
//! Reading it: `query` (the filtered, paged list, one entry, the verify
//! report), `export` (CSV and NDJSON streamed straight from PostgreSQL),
//! and `security` (the platform's security events, which belong to no
//! organization).
pub mod export;
pub mod platform;
pub mod query;
pub mod security;

use crate::model::audit::AuditAction;
use crate::model::OrgId;
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::types::ipnetwork::IpNetwork;
use sqlx::PgPool;
use uuid::Uuid;

use super::{outbox, Actor, OrgTx, RequestMeta, Result};

const GENESIS: [u8; 32] = [0; 32];
/// Bumped if the canonical form ever changes, so old entries still verify.
const HASH_FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize)]
#[sqlx(type_name = "audit_outcome", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

/// What happened, as a service describes it.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub outcome: Outcome,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl AuditEvent {
    pub fn new(action: AuditAction, resource_type: &str, resource_id: impl ToString) -> Self {
        Self {
            action: action.as_str().to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id: Some(resource_id.to_string()),
            outcome: Outcome::Success,
            before: None,
            after: None,
        }
    }

    pub fn failed(mut self) -> Self {
        self.outcome = Outcome::Failure;
        self
    }

    pub fn before(mut self, value: Value) -> Self {
        self.before = Some(value);
        self
    }

    pub fn after(mut self, value: Value) -> Self {
        self.after = Some(value);
        self
    }
}

/// A stored entry, exactly as hashed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEntry {
    pub organization_id: OrgId,
    pub seq: i64,
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub outcome: Outcome,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub ip: Option<IpNetwork>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl AuditEntry {
    fn from_event(
        org_id: OrgId,
        seq: i64,
        prev_hash: Vec<u8>,
        actor: Actor,
        meta: &RequestMeta,
        event: AuditEvent,
    ) -> Self {
        let mut entry = AuditEntry {
            organization_id: org_id,
            seq,
            id: Uuid::new_v4(),
            // PostgreSQL keeps microseconds; hash what will be stored.
            occurred_at: Utc::now().trunc_subsecs(6),
            actor_kind: actor.kind().as_str().to_owned(),
            actor_id: actor.id(),
            action: event.action,
            resource_type: event.resource_type,
            resource_id: event.resource_id,
            outcome: event.outcome,
            before: event.before,
            after: event.after,
            ip: meta.ip.map(IpNetwork::from),
            user_agent: meta.user_agent.clone(),
            request_id: meta.request_id.clone(),
            prev_hash,
            hash: Vec::new(),
        };
        entry.hash = entry.compute_hash().to_vec();
        entry
    }

    /// SHA-256 over the canonical form of every field but `hash` itself.
    pub fn compute_hash(&self) -> [u8; 32] {
        let canonical = json!([
            HASH_FORMAT,
            self.organization_id,
            self.seq,
            self.id,
            self.occurred_at.timestamp_micros(),
            self.actor_kind,
            self.actor_id,
            self.action,
            self.resource_type,
            self.resource_id,
            self.outcome,
            self.before.as_ref().map(canonical_json),
            self.after.as_ref().map(canonical_json),
            self.ip.map(|ip| ip.ip().to_string()),
            self.user_agent,
            self.request_id,
            hex::encode(&self.prev_hash),
        ]);
        Sha256::digest(canonical.to_string().as_bytes()).into()
    }
}

/// JSON text with object keys sorted at every level, so the hash does not
/// depend on how `jsonb` happens to order keys when read back.
fn canonical_json(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// Appends `event` to the organization's chain in the caller's transaction,
/// and queues its `audit.logged` webhook event.
#[tracing::instrument(skip_all, fields(org_id = %tx.org_id(), action = %event.action))]
pub async fn record(tx: &mut OrgTx, event: AuditEvent) -> Result<i64> {
    let org_id = tx.org_id();
    // One writer per chain at a time, until this transaction ends: the
    // organization's row holds the head. (The same lock the last-owner
    // trigger takes, so the two never wait on each other in reverse order.)
    let (head_seq, head_hash): (i64, Option<Vec<u8>>) = sqlx::query_as(
        "select audit_head_seq, audit_head_hash from organizations where id = $1
         for no key update",
    )
    .bind(org_id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or(super::Error::NotFound)?;
    let seq = head_seq + 1;
    let prev_hash = head_hash.unwrap_or_else(|| GENESIS.to_vec());
    let entry = AuditEntry::from_event(org_id, seq, prev_hash, tx.actor(), tx.meta(), event);
    insert(tx, &entry).await?;
    outbox::enqueue(
        tx,
        outbox::EventType::AuditLogged,
        json!({
            "seq": entry.seq,
            "id": entry.id,
            "action": entry.action,
            "resource_type": entry.resource_type,
            "resource_id": entry.resource_id,
            "outcome": entry.outcome,
            "actor": {"kind": entry.actor_kind, "id": entry.actor_id},
            "occurred_at": entry.occurred_at,
        }),
    )
    .await?;
    Ok(entry.seq)
}

async fn insert(tx: &mut OrgTx, e: &AuditEntry) -> Result<()> {
    sqlx::query(
        "insert into audit_log (organization_id, seq, id, occurred_at, actor_kind, actor_id,
             action, resource_type, resource_id, outcome, before, after, ip, user_agent,
             request_id, prev_hash, hash)
         values ($1, $2, $3, $4, $5::actor_kind, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(e.organization_id)
    .bind(e.seq)
    .bind(e.id)
    .bind(e.occurred_at)
    .bind(&e.actor_kind)
    .bind(e.actor_id)
    .bind(&e.action)
    .bind(&e.resource_type)
    .bind(&e.resource_id)
    .bind(e.outcome)
    .bind(&e.before)
    .bind(&e.after)
    .bind(e.ip)
    .bind(&e.user_agent)
    .bind(&e.request_id)
    .bind(&e.prev_hash)
    .bind(&e.hash)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub entries_checked: u64,
    pub first_broken: Option<BrokenLink>,
}

/// What a chain's entries have in common, for one walk over either chain.
pub(crate) trait Chained {
    fn seq(&self) -> i64;
    fn prev_hash(&self) -> &[u8];
    fn hash(&self) -> &[u8];
    fn compute_hash(&self) -> [u8; 32];
}

impl Chained for AuditEntry {
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
        AuditEntry::compute_hash(self)
    }
}

/// A walk along a chain, page by page, up to its recorded head.
pub(crate) struct Walk {
    expected_seq: i64,
    prev_hash: Vec<u8>,
    checked: u64,
    head_seq: i64,
    head_hash: Option<Vec<u8>>,
}

pub(crate) const PAGE: i64 = 1000;

impl Walk {
    pub(crate) fn new(head_seq: i64, head_hash: Option<Vec<u8>>) -> Self {
        Self {
            expected_seq: 1,
            prev_hash: GENESIS.to_vec(),
            checked: 0,
            head_seq,
            head_hash,
        }
    }

    /// The first seq the next page starts at.
    pub(crate) fn next_seq(&self) -> i64 {
        self.expected_seq
    }

    pub(crate) fn head_seq(&self) -> i64 {
        self.head_seq
    }

    /// Checks a page; the report if the chain broke in it.
    pub(crate) fn page<E: Chained>(&mut self, page: &[E]) -> Option<VerifyReport> {
        for entry in page {
            if let Some(reason) = check_link(entry, self.expected_seq, &self.prev_hash) {
                return Some(self.broken(entry.seq().min(self.expected_seq), reason));
            }
            self.checked += 1;
            self.expected_seq += 1;
            self.prev_hash = entry.hash().to_vec();
        }
        None
    }

    /// After the last page: the walk must have reached the head, and the
    /// last entry must be the one the head names.
    pub(crate) fn finish(self) -> VerifyReport {
        let last_seq = self.expected_seq - 1;
        if last_seq < self.head_seq {
            let reason = format!(
                "entries after seq {last_seq} are missing (the chain's head is at seq {})",
                self.head_seq
            );
            return self.broken(last_seq + 1, reason);
        }
        let head_hash = self.head_hash.clone().unwrap_or_else(|| GENESIS.to_vec());
        if self.prev_hash != head_hash {
            let reason = "the last entry is not the one the chain's head names".to_owned();
            return self.broken(last_seq.max(1), reason);
        }
        VerifyReport {
            entries_checked: self.checked,
            first_broken: None,
        }
    }

    fn broken(&self, seq: i64, reason: String) -> VerifyReport {
        VerifyReport {
            entries_checked: self.checked,
            first_broken: Some(BrokenLink { seq, reason }),
        }
    }
}

/// Walks an organization's chain from the first entry to the head kept on
/// the organization's row, and reports the first entry whose hash, link or
/// sequence number does not hold, or entries missing before the head.
pub async fn verify(pool: &PgPool, org_id: OrgId) -> Result<VerifyReport> {
    let mut tx = OrgTx::begin(pool, org_id, Actor::System, RequestMeta::default()).await?;
    // The head first: entries committed after it have higher seqs and are
    // left out of this walk, so a busy chain verifies too.
    let (head_seq, head_hash): (i64, Option<Vec<u8>>) =
        sqlx::query_as("select audit_head_seq, audit_head_hash from organizations where id = $1")
            .bind(org_id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or(super::Error::NotFound)?;
    let mut walk = Walk::new(head_seq, head_hash);
    loop {
        let page: Vec<AuditEntry> = sqlx::query_as(
            "select organization_id, seq, id, occurred_at, actor_kind::text as actor_kind,
                    actor_id, action, resource_type, resource_id, outcome, before, after, ip,
                    user_agent, request_id, prev_hash, hash
             from audit_log where organization_id = $1 and seq >= $2 and seq <= $3
             order by seq limit $4",
        )
        .bind(org_id)
        .bind(walk.next_seq())
        .bind(walk.head_seq())
        .bind(PAGE)
        .fetch_all(tx.conn())
        .await?;
        if let Some(report) = walk.page(&page) {
            return Ok(report);
        }
        if (page.len() as i64) < PAGE {
            return Ok(walk.finish());
        }
    }
}

fn check_link<E: Chained>(entry: &E, expected_seq: i64, prev_hash: &[u8]) -> Option<String> {
    if entry.seq() != expected_seq {
        return Some(format!(
            "entry {expected_seq} is missing (next is {})",
            entry.seq()
        ));
    }
    if entry.prev_hash() != prev_hash {
        return Some("prev_hash does not match the hash of the entry before".to_owned());
    }
    if entry.compute_hash().as_slice() != entry.hash() {
        return Some("hash does not match the entry's contents".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, prev_hash: Vec<u8>) -> AuditEntry {
        AuditEntry::from_event(
            OrgId::from_u128(0),
            seq,
            prev_hash,
            Actor::System,
            &RequestMeta::default(),
            AuditEvent::new(AuditAction::CodeCreated, "thing", 1)
                .after(json!({"b": 1, "a": [true, null]})),
        )
    }

    #[test]
    fn a_chain_links_each_entry_to_the_one_before() {
        let first = entry(1, GENESIS.to_vec());
        let second = entry(2, first.hash.clone());
        assert_eq!(check_link(&first, 1, &GENESIS), None);
        assert_eq!(check_link(&second, 2, &first.hash), None);
        assert!(check_link(&second, 2, &GENESIS).is_some());
    }

    #[test]
    fn changing_any_field_changes_the_hash() {
        let mut e = entry(1, GENESIS.to_vec());
        e.action = "test.undone".into();
        assert!(check_link(&e, 1, &GENESIS).unwrap().contains("hash"));
    }

    #[test]
    fn key_order_does_not_change_the_canonical_form() {
        let a: Value = serde_json::from_str(r#"{"b":{"y":1,"x":2},"a":"é\"q"}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":"é\"q","b":{"x":2,"y":1}}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(canonical_json(&a), r#"{"a":"é\"q","b":{"x":2,"y":1}}"#);
    }
}
