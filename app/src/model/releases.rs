//! Releases of the catalogue and the changelog between two of them.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::codes::{clean_text, CodeContent, Diff};
use super::{AppError, CodeId, ReleaseId};

pub const MAX_NAME_LEN: usize = 64;
pub const MAX_DESCRIPTION_LEN: usize = 2000;
/// Changes on one page of a changelog.
pub const CHANGELOG_PAGE_SIZE: i64 = 100;

/// A release's name: 1–64 letters, digits, `.`, `-` and `_`, starting with
/// a letter or digit, so it reads the same in a URL path (`2026.2`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ssr",
    derive(sqlx::Type, utoipa::ToSchema),
    sqlx(transparent)
)]
#[serde(try_from = "String", into = "String")]
pub struct ReleaseName(String);

impl ReleaseName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let name = raw.trim();
        let first_ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
        if name.is_empty() {
            return Err(AppError::validation(
                "name",
                "Name the release, e.g. 2026.2.",
            ));
        }
        if name.len() > MAX_NAME_LEN || !first_ok || !rest_ok {
            return Err(AppError::validation(
                "name",
                format!(
                    "Use up to {MAX_NAME_LEN} letters, digits, dots, dashes and underscores, \
                     starting with a letter or digit (e.g. 2026.2)."
                ),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ReleaseName {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw).map_err(|e| e.message)
    }
}

impl From<ReleaseName> for String {
    fn from(name: ReleaseName) -> Self {
        name.0
    }
}

impl fmt::Display for ReleaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new release as a form or an API client names it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReleaseForm {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// A checked new release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseDraft {
    pub name: ReleaseName,
    pub description: String,
}

impl ReleaseForm {
    pub fn check(&self) -> Result<ReleaseDraft, AppError> {
        Ok(ReleaseDraft {
            name: ReleaseName::parse(&self.name)?,
            description: clean_text("description", &self.description, MAX_DESCRIPTION_LEN, false)?,
        })
    }
}

/// A release as listed and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReleaseOut {
    pub id: ReleaseId,
    pub name: ReleaseName,
    pub description: String,
    /// The codes it holds: every code that was live when it was cut.
    pub code_count: i32,
    pub created_at: DateTime<Utc>,
    /// Who cut it, while they exist.
    pub created_by: Option<String>,
}

/// A code as a release holds it: the version it had when the release was
/// cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReleasedCodeOut {
    pub id: CodeId,
    #[serde(flatten)]
    pub content: CodeContent,
    pub version: i32,
}

/// A page of a release's codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedCodePage {
    pub release: ReleaseOut,
    pub codes: Vec<ReleasedCodeOut>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}

/// What a changelog compares a release with: another release, or the live
/// catalogue now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangelogEnd {
    Release(ReleaseName),
    Live,
}

impl ChangelogEnd {
    /// `live`, or a release's name.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        match raw.trim() {
            "" | "live" => Ok(ChangelogEnd::Live),
            name => ReleaseName::parse(name)
                .map(ChangelogEnd::Release)
                .map_err(|e| AppError::validation("to", e.message)),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ChangelogEnd::Release(name) => name.as_str(),
            ChangelogEnd::Live => "live",
        }
    }
}

/// How a code differs between the two ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }
}

/// One code in a changelog: its content at each end it is in, and the
/// field diff when it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CodeChange {
    pub kind: ChangeKind,
    pub code_id: CodeId,
    /// The code as the newer end has it, else as the older one had it.
    pub code: String,
    pub before: Option<ReleasedCodeOut>,
    pub after: Option<ReleasedCodeOut>,
    /// `{field: {old, new}}` for a changed code.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<std::collections::BTreeMap<String, super::codes::FieldChange>>))]
    pub diff: Option<Diff>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChangeCounts {
    pub added: i64,
    pub removed: i64,
    pub changed: i64,
}

/// The changes from one release to another (or to now), counts first, then
/// a page of the codes in code order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChangelogOut {
    pub from: ReleaseName,
    /// A release's name, or `live`.
    pub to: String,
    pub counts: ChangeCounts,
    pub changes: Vec<CodeChange>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_read_the_same_in_a_url() {
        for good in ["2026.2", "fy2024-final", "v1_0", "A"] {
            assert_eq!(ReleaseName::parse(good).unwrap().as_str(), good);
        }
        assert_eq!(ReleaseName::parse("  2026.2 ").unwrap().as_str(), "2026.2");
        for bad in ["", ".hidden", "-x", "2026/2", "a b", "ü", &"x".repeat(65)] {
            let error = ReleaseName::parse(bad).unwrap_err();
            assert_eq!(error.field.as_deref(), Some("name"), "{bad:?}");
        }
    }

    #[test]
    fn a_changelog_ends_at_a_release_or_now() {
        assert_eq!(ChangelogEnd::parse("live").unwrap(), ChangelogEnd::Live);
        assert_eq!(ChangelogEnd::parse("").unwrap(), ChangelogEnd::Live);
        assert_eq!(
            ChangelogEnd::parse("2026").unwrap(),
            ChangelogEnd::Release(ReleaseName::parse("2026").unwrap())
        );
        assert_eq!(
            ChangelogEnd::parse("../x").unwrap_err().field.as_deref(),
            Some("to")
        );
    }
}
