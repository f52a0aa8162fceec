//! Organizations as the browser sees them, and slugs.
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{members::MemberOut, Role};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgOut {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub active: bool,
}

/// Plan tiers, cheapest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(
    feature = "ssr",
    sqlx(type_name = "plan_tier", rename_all = "lowercase")
)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Starter,
    Professional,
    Enterprise,
}

/// What an organization may hold; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub members: Option<u32>,
    pub codes: Option<u32>,
    pub webhooks: Option<u32>,
    pub api_keys: Option<u32>,
}

impl Plan {
    pub const ALL: [Plan; 4] = [
        Plan::Free,
        Plan::Starter,
        Plan::Professional,
        Plan::Enterprise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Starter => "starter",
            Plan::Professional => "professional",
            Plan::Enterprise => "enterprise",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Plan::Free => "Free",
            Plan::Starter => "Starter",
            Plan::Professional => "Professional",
            Plan::Enterprise => "Enterprise",
        }
    }

    /// The table of SPEC §3.
    pub fn limits(self) -> Limits {
        let (members, codes, webhooks, api_keys) = match self {
            Plan::Free => (5, 1_000, 2, 2),
            Plan::Starter => (10, 10_000, 5, 5),
            Plan::Professional => (50, 100_000, 20, 20),
            Plan::Enterprise => {
                return Limits {
                    members: None,
                    codes: None,
                    webhooks: None,
                    api_keys: None,
                }
            }
        };
        Limits {
            members: Some(members),
            codes: Some(codes),
            webhooks: Some(webhooks),
            api_keys: Some(api_keys),
        }
    }
}

/// One of the signed-in user's organizations, for the switcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct MyOrganization {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub role: Role,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub organization: OrgOut,
    pub role: Role,
    pub members: Vec<MemberOut>,
    pub usage: Usage,
}

/// What the organization uses of each limit (`None`: unlimited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Members plus open invitations.
    pub seats: i64,
    pub codes: i64,
    pub webhooks: i64,
    pub api_keys: i64,
    pub limits: Limits,
}

/// Checks a slug someone typed: lower-case letters and digits in groups
/// joined by single dashes, at most 48 characters.
pub fn parse_slug(raw: &str) -> Result<String, super::AppError> {
    let slug = raw.trim().to_lowercase();
    let valid = !slug.is_empty()
        && slug.len() <= 48
        && slug.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if valid {
        Ok(slug)
    } else {
        Err(super::AppError::validation(
            "slug",
            "Use lower-case letters and digits, joined by single dashes (at most 48 characters).",
        ))
    }
}

/// A URL-safe slug from a name: lower-case ASCII letters and digits joined by
/// single dashes, at most 48 characters. Names with no such characters get
/// "org".
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 48 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "org".to_owned()
    } else {
        slug.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_slug, slugify};

    #[test]
    fn typed_slugs_must_already_be_slugs() {
        assert_eq!(parse_slug(" Acme-2 ").unwrap(), "acme-2");
        for bad in [
            "",
            "-acme",
            "acme-",
            "ac--me",
            "ac me",
            "acmé",
            &"a".repeat(49),
        ] {
            assert!(parse_slug(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn slugs_keep_letters_and_digits_joined_by_single_dashes() {
        assert_eq!(slugify("Acme Health, Inc."), "acme-health-inc");
        assert_eq!(slugify("  --Déjà Vu 2026--"), "d-j-vu-2026");
        assert_eq!(slugify("日本"), "org");
        assert!(slugify(&"a".repeat(200)).len() <= 48);
    }
}
