//! A change in an organization, as the open pages of its members hear of
//! it (`/events`, server-sent events): enough for a page to know whether it
//! shows what changed, not the change itself (the page reads that again).
use super::CodeId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveChange {
    /// Where this change stands in the organization's stream of events; a
    /// reconnecting browser sends the last one it saw (`Last-Event-ID`).
    pub seq: i64,
    /// The event's type (`code.updated`), when the change was one event;
    /// none for a batch (an import).
    pub event_type: Option<String>,
    /// The code it touched, when it was one code's event.
    pub code_id: Option<CodeId>,
    /// That code's new version.
    pub version: Option<i32>,
    /// Who made it, when a person did.
    pub by: Option<String>,
    /// How many events the change wrote (an import writes thousands at once).
    pub count: i64,
}

impl LiveChange {
    /// Whether this change touched the code `id`, or may have (a batch).
    pub fn concerns_code(&self, id: CodeId) -> bool {
        self.code_id == Some(id) || self.event_type.is_none()
    }

    /// The area of the event: `code` for `code.updated`.
    pub fn area(&self) -> Option<&str> {
        self.event_type.as_deref()?.split('.').next()
    }
}

/// The name of the server-sent event that carries a `LiveChange`.
pub const CHANGE_EVENT: &str = "change";
/// The name of the event that tells a page to read all its data again: the
/// server may have missed changes for it (a lost database connection, a
/// reader too slow to keep up, a gap too long to replay).
pub const RESYNC_EVENT: &str = "resync";

#[cfg(test)]
mod tests {
    use super::*;

    fn change(event_type: Option<&str>, code_id: Option<CodeId>) -> LiveChange {
        LiveChange {
            seq: 1,
            event_type: event_type.map(str::to_owned),
            code_id,
            version: None,
            by: None,
            count: 1,
        }
    }

    #[test]
    fn a_change_concerns_its_own_code_and_a_batch_concerns_every_code() {
        let (mine, other) = (CodeId::from_u128(1), CodeId::from_u128(2));
        assert!(change(Some("code.updated"), Some(mine)).concerns_code(mine));
        assert!(!change(Some("code.updated"), Some(other)).concerns_code(mine));
        assert!(change(None, None).concerns_code(mine));
        assert_eq!(change(Some("member.joined"), None).area(), Some("member"));
    }
}
