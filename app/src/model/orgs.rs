//! Organizations as the browser sees them, and slugs.
use super::OrgId;
use serde::{Deserialize, Serialize};

use super::{members::MemberOut, Role};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgOut {
    pub id: OrgId,
    pub name: String,
    pub slug: OrgSlug,
    pub plan: Plan,
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
    pub id: OrgId,
    pub name: String,
    pub slug: OrgSlug,
    pub role: Role,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub organization: OrgOut,
    pub role: Role,
    pub members: Vec<MemberOut>,
    pub usage: Usage,
    /// The newest changes to codes, newest first.
    pub recent_changes: Vec<super::codes::RecentChange>,
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

/// An organization's slug: lower-case ASCII letters and digits in groups
/// joined by single dashes, at most 48 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(transparent))]
#[serde(transparent)]
pub struct OrgSlug(String);

impl OrgSlug {
    pub const MAX_LEN: usize = 48;

    /// Checks a slug someone typed (trimmed and lower-cased first).
    pub fn parse(raw: &str) -> Result<Self, super::AppError> {
        let slug = raw.trim().to_lowercase();
        let valid = !slug.is_empty()
            && slug.len() <= Self::MAX_LEN
            && slug.split('-').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
        if valid {
            Ok(Self(slug))
        } else {
            Err(super::AppError::validation(
                "slug",
                "Use lower-case letters and digits, joined by single dashes (at most 48 characters).",
            ))
        }
    }

    /// A slug made from a name: its ASCII letters and digits joined by
    /// single dashes. Names with no such characters get "org".
    pub fn from_name(name: &str) -> Self {
        let mut slug = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
            if slug.len() >= Self::MAX_LEN {
                break;
            }
        }
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() {
            Self("org".to_owned())
        } else {
            Self(slug.to_owned())
        }
    }

    /// This slug with a suffix, shortened to fit: for when it is taken.
    pub fn with_suffix(&self, suffix: &str) -> Self {
        let keep = Self::MAX_LEN
            .saturating_sub(suffix.len() + 1)
            .min(self.0.len());
        Self(format!("{}-{suffix}", self.0[..keep].trim_end_matches('-')))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OrgSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::OrgSlug;

    fn slugify(name: &str) -> String {
        OrgSlug::from_name(name).as_str().to_owned()
    }

    #[test]
    fn typed_slugs_must_already_be_slugs() {
        assert_eq!(OrgSlug::parse(" Acme-2 ").unwrap().as_str(), "acme-2");
        for bad in [
            "",
            "-acme",
            "acme-",
            "ac--me",
            "ac me",
            "acmé",
            &"a".repeat(49),
        ] {
            assert!(OrgSlug::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn slugs_keep_letters_and_digits_joined_by_single_dashes() {
        assert_eq!(slugify("Acme Health, Inc."), "acme-health-inc");
        assert_eq!(slugify("  --Déjà Vu 2026--"), "d-j-vu-2026");
        assert_eq!(slugify("日本"), "org");
        assert!(slugify(&"a".repeat(200)).len() <= 48);
    }

    #[test]
    fn a_suffixed_slug_still_fits_and_stays_valid() {
        let long = OrgSlug::from_name(&"ab-".repeat(30));
        let suffixed = long.with_suffix("x1y2z3");
        assert!(suffixed.as_str().len() <= OrgSlug::MAX_LEN);
        assert!(suffixed.as_str().ends_with("-x1y2z3"));
        assert_eq!(OrgSlug::parse(suffixed.as_str()).unwrap(), suffixed);
    }
}
