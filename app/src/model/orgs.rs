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
    use super::slugify;

    #[test]
    fn slugs_keep_letters_and_digits_joined_by_single_dashes() {
        assert_eq!(slugify("Acme Health, Inc."), "acme-health-inc");
        assert_eq!(slugify("  --Déjà Vu 2026--"), "d-j-vu-2026");
        assert_eq!(slugify("日本"), "org");
        assert!(slugify(&"a".repeat(200)).len() <= 48);
    }
}
