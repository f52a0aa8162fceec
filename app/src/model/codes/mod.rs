//! Diagnostic codes and their versions, as the browser and the server share
//! them. Raw form input becomes a `CodeDraft` at the edge; past it, no code
//! handles an unchecked code value or description.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

use super::{CodeId, CommentId, UserId};

use super::AppError;

mod filter;
mod import;
pub use filter::*;
pub use import::*;

pub const MAX_CODE_LEN: usize = 32;
pub const MAX_DESCRIPTION_LEN: usize = 1000;
pub const MAX_CATEGORY_LEN: usize = 200;
pub const MAX_CHANGE_COMMENT_LEN: usize = 1000;
pub const MAX_COMMENT_LEN: usize = 5000;
/// Codes on one page of the list.
pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(
    feature = "ssr",
    sqlx(type_name = "code_severity", rename_all = "lowercase")
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Severity {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = AppError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                AppError::validation("severity", "Use one of low, medium, high or critical.")
            })
    }
}

/// What a version records about its change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(
    feature = "ssr",
    sqlx(type_name = "code_change", rename_all = "lowercase")
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ChangeType {
    Create,
    Update,
    Delete,
    Restore,
}

impl ChangeType {
    pub fn label(self) -> &'static str {
        match self {
            ChangeType::Create => "Created",
            ChangeType::Update => "Updated",
            ChangeType::Delete => "Deleted",
            ChangeType::Restore => "Restored",
        }
    }
}

/// A code value: trimmed, 1–32 characters of letters, digits and `.-_/:+`.
/// Compared without regard to case (`s72.0` and `S72.0` are one code).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CodeValue(String);

impl CodeValue {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let code = raw.trim();
        if code.is_empty() {
            return Err(AppError::validation("code", "Enter the code."));
        }
        if code.chars().count() > MAX_CODE_LEN {
            return Err(AppError::validation(
                "code",
                format!("Use at most {MAX_CODE_LEN} characters."),
            ));
        }
        if !code
            .chars()
            .all(|c| c.is_alphanumeric() || ".-_/:+".contains(c))
        {
            return Err(AppError::validation(
                "code",
                "Use letters, digits and . - _ / : + only.",
            ));
        }
        Ok(Self(code.to_owned()))
    }

    /// A value read back from the database, which only ever stored parsed
    /// ones.
    #[cfg(feature = "ssr")]
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-blind key codes are unique and sorted by.
    pub fn key(&self) -> String {
        self.0.to_uppercase()
    }
}

impl fmt::Display for CodeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text someone typed, trimmed, without control or format characters
/// (bidi overrides, zero-width spaces), and no longer than `max`.
pub fn clean_text(field: &str, raw: &str, max: usize, required: bool) -> Result<String, AppError> {
    let text = raw.trim();
    if required && text.is_empty() {
        return Err(AppError::validation(field, "This field is required."));
    }
    if text.chars().count() > max {
        return Err(AppError::validation(
            field,
            format!("Use at most {max} characters."),
        ));
    }
    if text.chars().any(is_hidden_char) {
        return Err(AppError::validation(
            field,
            "Remove the control or invisible formatting characters.",
        ));
    }
    Ok(text.to_owned())
}

/// A whole number someone typed, within `range`; nothing when left empty.
pub fn optional_number(
    field: &str,
    raw: Option<&str>,
    range: std::ops::RangeInclusive<i32>,
) -> Result<Option<i32>, AppError> {
    let raw = raw.map(str::trim).unwrap_or_default();
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<i32>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(AppError::validation(
            field,
            format!(
                "Enter a whole number from {} to {}.",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// Control characters (but tab), and the format characters that change how
/// text reads without showing (bidi controls, zero-width, BOM, soft hyphen).
fn is_hidden_char(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// The content of a code: what each version snapshots and diffs compare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CodeContent {
    pub code: CodeValue,
    pub description: String,
    pub category: String,
    pub severity: Severity,
    pub active: bool,
}

impl CodeContent {
    /// Checks the fields of a form or a CSV row; `severity` empty means the
    /// organization's default.
    pub fn parse(
        code: &str,
        description: &str,
        category: &str,
        severity: Option<&str>,
        active: bool,
        default_severity: Severity,
    ) -> Result<Self, AppError> {
        let severity = match severity.map(str::trim) {
            None | Some("") => default_severity,
            Some(s) => s.parse()?,
        };
        Ok(Self {
            code: CodeValue::parse(code)?,
            description: clean_text("description", description, MAX_DESCRIPTION_LEN, true)?,
            category: clean_text("category", category, MAX_CATEGORY_LEN, false)?,
            severity,
            active,
        })
    }

    /// The fields that differ from `old`, as `{field: {old, new}}`.
    pub fn diff_from(&self, old: &CodeContent) -> Diff {
        let mut diff = Diff::new();
        let mut field = |name: &str, old: serde_json::Value, new: serde_json::Value| {
            if old != new {
                diff.insert(name.to_owned(), FieldChange { old, new });
            }
        };
        use serde_json::json;
        field("code", json!(old.code), json!(self.code));
        field(
            "description",
            json!(old.description),
            json!(self.description),
        );
        field("category", json!(old.category), json!(self.category));
        field("severity", json!(old.severity), json!(self.severity));
        field("active", json!(old.active), json!(self.active));
        diff
    }
}

/// One field's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FieldChange {
    pub old: serde_json::Value,
    pub new: serde_json::Value,
}

/// `{field: {old, new}}`, fields in name order.
pub type Diff = BTreeMap<String, FieldChange>;

/// A code as the list and the detail page show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CodeOut {
    pub id: CodeId,
    #[serde(flatten)]
    pub content: CodeContent,
    /// The newest version: what an edit must be based on.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Who made a change, as people read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ActorOut {
    /// `user`, `api_key`, `system` or `anonymous`.
    pub kind: String,
    pub id: Option<Uuid>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VersionOut {
    pub version: i32,
    pub change: ChangeType,
    pub snapshot: CodeContent,
    /// Whether the code was deleted after this change.
    pub deleted: bool,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<BTreeMap<String, FieldChange>>))]
    pub diff: Option<Diff>,
    pub comment: Option<String>,
    pub actor: ActorOut,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CommentOut {
    pub id: CommentId,
    pub version: i32,
    pub author_id: Option<UserId>,
    pub author: Option<String>,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
}

/// A code's page: the code, its history (newest first) and the comments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeHistory {
    pub code: CodeOut,
    pub versions: Vec<VersionOut>,
    pub comments: Vec<CommentOut>,
}

/// The most versions one read of the change feed returns.
pub const MAX_FEED_LIMIT: i64 = 1000;

/// One version in the change feed: what a mirror applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChangeFeedItem {
    pub code_id: CodeId,
    pub version: i32,
    pub operation: ChangeType,
    /// Whether the code is deleted after this change.
    pub deleted: bool,
    /// The code as it is after this change.
    pub content: CodeContent,
    pub at: DateTime<Utc>,
}

/// A read of the change feed: versions oldest first, and where to read on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChangeFeedPage {
    pub items: Vec<ChangeFeedItem>,
    /// Pass as `since` to read on; the same cursor when nothing was new.
    pub next_cursor: String,
}

/// A change to some code, for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentChange {
    pub code_id: CodeId,
    pub code: String,
    pub version: i32,
    pub change: ChangeType,
    pub actor: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(description: &str) -> CodeContent {
        CodeContent::parse("S72.0", description, "Injury", None, true, Severity::High).unwrap()
    }

    #[test]
    fn codes_are_trimmed_and_compared_without_case() {
        let code = CodeValue::parse("  s72.0 ").unwrap();
        assert_eq!(code.as_str(), "s72.0");
        assert_eq!(code.key(), "S72.0");
        for bad in ["", "  ", "S72 0", "S72.0;drop", &"A".repeat(33), "S7\u{0}2"] {
            assert!(CodeValue::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn text_fields_refuse_hidden_characters() {
        assert!(clean_text("d", "ok\u{202E}evil", 100, true).is_err());
        assert!(clean_text("d", "zero\u{200B}width", 100, true).is_err());
        assert!(clean_text("d", "nul\u{0}", 100, true).is_err());
        assert!(clean_text("d", "", 100, true).is_err());
        assert_eq!(clean_text("d", "", 100, false).unwrap(), "");
        assert_eq!(clean_text("d", " Fémur ", 100, true).unwrap(), "Fémur");
        assert!(clean_text("d", &"é".repeat(101), 100, true).is_err());
    }

    #[test]
    fn an_empty_severity_takes_the_default_and_a_bad_one_is_refused() {
        assert_eq!(content("x").severity, Severity::High);
        let err =
            CodeContent::parse("A", "x", "", Some("urgent"), true, Severity::Low).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("severity"));
        let c = CodeContent::parse("A", "x", "", Some(" Critical "), true, Severity::Low).unwrap();
        assert_eq!(c.severity, Severity::Critical);
    }

    #[test]
    fn a_diff_names_only_the_fields_that_changed() {
        let old = content("Fracture of femur");
        let mut new = old.clone();
        assert!(new.diff_from(&old).is_empty());
        new.description = "Fracture of neck of femur".into();
        new.active = false;
        let diff = new.diff_from(&old);
        assert_eq!(diff.keys().collect::<Vec<_>>(), ["active", "description"]);
        assert_eq!(diff["active"].old, serde_json::json!(true));
        assert_eq!(diff["active"].new, serde_json::json!(false));
    }
}
