//! The webhook outbox: events written in the same transaction as the change
//! that caused them, so a committed change always has its events and a
//! rolled-back one never does. Delivery workers consume it.
use serde_json::{json, Value};
use uuid::Uuid;

use super::{OrgTx, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    CodeCreated,
    CodeUpdated,
    CodeDeleted,
    CodeRestored,
    CommentCreated,
    ReleasePublished,
    MemberInvited,
    MemberJoined,
    MemberRoleChanged,
    MemberRemoved,
    AuditLogged,
    WebhookTest,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CodeCreated => "code.created",
            EventType::CodeUpdated => "code.updated",
            EventType::CodeDeleted => "code.deleted",
            EventType::CodeRestored => "code.restored",
            EventType::CommentCreated => "comment.created",
            EventType::ReleasePublished => "release.published",
            EventType::MemberInvited => "member.invited",
            EventType::MemberJoined => "member.joined",
            EventType::MemberRoleChanged => "member.role_changed",
            EventType::MemberRemoved => "member.removed",
            EventType::AuditLogged => "audit.logged",
            EventType::WebhookTest => "webhook.test",
        }
    }
}

/// Queues an event; its payload is the Standard Webhooks body
/// `{type, timestamp, data}`, fixed now so every retry sends the same bytes.
pub async fn enqueue(tx: &mut OrgTx, event_type: EventType, data: Value) -> Result<Uuid> {
    let id = Uuid::new_v4();
    let payload = json!({
        "type": event_type.as_str(),
        "timestamp": chrono::Utc::now(),
        "data": data,
    });
    sqlx::query(
        "insert into outbox (organization_id, id, event_type, payload) values ($1, $2, $3, $4)",
    )
    .bind(tx.org_id())
    .bind(id)
    .bind(event_type.as_str())
    .bind(payload)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// Queues many events in one statement (a bulk import's), each with the
/// same body shape as `enqueue`.
pub async fn enqueue_many(tx: &mut OrgTx, events: Vec<(EventType, Value)>) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now();
    let mut ids = Vec::with_capacity(events.len());
    let mut types = Vec::with_capacity(events.len());
    let mut payloads = Vec::with_capacity(events.len());
    for (event_type, data) in events {
        ids.push(Uuid::new_v4());
        types.push(event_type.as_str());
        payloads.push(json!({"type": event_type.as_str(), "timestamp": now, "data": data}));
    }
    sqlx::query(
        "insert into outbox (organization_id, id, event_type, payload)
         select $1, id, event_type, payload
         from unnest($2::uuid[], $3::text[], $4::jsonb[]) as e (id, event_type, payload)",
    )
    .bind(tx.org_id())
    .bind(ids)
    .bind(types)
    .bind(payloads)
    .execute(tx.conn())
    .await?;
    Ok(())
}
