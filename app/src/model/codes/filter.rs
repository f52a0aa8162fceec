//! What a list of codes shows: its filter (and the link that carries it),
//! its order, and a page of it.
use serde::{Deserialize, Serialize};

use super::{CodeOut, Severity};

/// The order of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum SortOrder {
    /// By code (A00 before A00.0 before A01).
    #[default]
    Code,
    /// Most recently changed first.
    Updated,
}

/// What the list shows: every field optional, as in the page's URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CodeFilter {
    /// Words of the description (any order, word prefixes match), or a
    /// code prefix such as `S72.0`.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub active: Option<bool>,
    /// Show deleted codes (to restore them) instead of live ones.
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub sort: SortOrder,
    /// The cursor of the page to show (from `CodePage::next`).
    #[serde(default)]
    pub after: Option<String>,
}

impl CodeFilter {
    /// The category to filter on, trimmed and cut to the longest a
    /// category can be; none when blank.
    pub fn category_term(&self) -> Option<String> {
        let category = self.category.as_deref()?.trim();
        (!category.is_empty()).then(|| category.chars().take(super::MAX_CATEGORY_LEN).collect())
    }

    /// Reads a filter from URL query parameters, leniently: an empty or
    /// unknown value is no filter, so any hand-edited link still shows a
    /// list.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let text = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let flag = |name: &str| match text(name).as_deref() {
            Some("true" | "1" | "yes" | "on") => Some(true),
            Some("false" | "0" | "no" | "off") => Some(false),
            _ => None,
        };
        CodeFilter {
            q: text("q"),
            category: text("category"),
            severity: text("severity").and_then(|s| s.parse().ok()),
            active: flag("active"),
            deleted: flag("deleted").unwrap_or(false),
            sort: match text("sort").as_deref() {
                Some("updated") => SortOrder::Updated,
                _ => SortOrder::Code,
            },
            after: text("after"),
        }
    }

    /// The query string of a link to this list (without `?`).
    pub fn to_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(q) = &self.q {
            pairs.push(("q", q.clone()));
        }
        if let Some(c) = &self.category {
            pairs.push(("category", c.clone()));
        }
        if let Some(s) = self.severity {
            pairs.push(("severity", s.as_str().to_owned()));
        }
        if let Some(a) = self.active {
            pairs.push(("active", a.to_string()));
        }
        if self.deleted {
            pairs.push(("deleted", "true".into()));
        }
        if self.sort == SortOrder::Updated {
            pairs.push(("sort", "updated".into()));
        }
        if let Some(a) = &self.after {
            pairs.push(("after", a.clone()));
        }
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={}", encode_query_value(&v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodePage {
    pub codes: Vec<CodeOut>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}

/// How a search string reads: a code prefix when it looks like one (a
/// single token with a digit), else words of the description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchTerms {
    CodePrefix(String),
    Words(Vec<String>),
}

impl SearchTerms {
    pub fn parse(q: &str) -> Option<Self> {
        let q = q.trim();
        if q.is_empty() {
            return None;
        }
        let single = !q.contains(char::is_whitespace);
        if single
            && q.chars().any(|c| c.is_ascii_digit())
            && q.chars()
                .all(|c| c.is_alphanumeric() || ".-_/:+".contains(c))
        {
            return Some(SearchTerms::CodePrefix(q.to_uppercase()));
        }
        let words: Vec<String> = q
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .take(8)
            .collect();
        (!words.is_empty()).then_some(SearchTerms::Words(words))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_round_trips_through_its_link_and_ignores_junk() {
        let filter = CodeFilter {
            q: Some("fracture femur & co".into()),
            category: Some("Injury, poisoning".into()),
            severity: Some(Severity::High),
            active: Some(false),
            deleted: true,
            sort: SortOrder::Updated,
            after: Some("abc_-".into()),
        };
        let query = filter.to_query();
        let pairs: std::collections::HashMap<String, String> = query
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                let v = v
                    .replace("%20", " ")
                    .replace("%26", "&")
                    .replace("%2C", ",");
                (k.to_owned(), v)
            })
            .collect();
        assert_eq!(CodeFilter::from_params(|k| pairs.get(k).cloned()), filter);
        let junk = CodeFilter::from_params(|k| match k {
            "severity" => Some("urgent".into()),
            "active" => Some("perhaps".into()),
            "q" => Some("  ".into()),
            _ => None,
        });
        assert_eq!(junk, CodeFilter::default());
    }

    #[test]
    fn a_search_is_a_code_prefix_or_words() {
        assert_eq!(
            SearchTerms::parse(" s72.0 "),
            Some(SearchTerms::CodePrefix("S72.0".into()))
        );
        assert_eq!(
            SearchTerms::parse("Fracture, femur"),
            Some(SearchTerms::Words(vec!["fracture".into(), "femur".into()]))
        );
        assert_eq!(
            SearchTerms::parse("fract"),
            Some(SearchTerms::Words(vec!["fract".into()]))
        );
        assert_eq!(SearchTerms::parse(" ,; "), None);
        assert_eq!(SearchTerms::parse(""), None);
    }
}
