//! Validated account inputs. Raw strings from a form become one of these at
//! the edge; past it, no code handles an unchecked email or password.
use super::{OrgId, SessionId, UserId};
use serde::{Deserialize, Serialize};

use super::{AppError, Role};

pub const MIN_PASSWORD_LEN: usize = 10;
/// Argon2 cost grows with input; a cap keeps one request from being costly.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Characters no name or email may hold: controls (NUL, escapes, line
/// breaks; general category Cc), line and paragraph separators, and the
/// invisible format characters (category Cf: bidi overrides that make a
/// name read backwards, zero-width spaces and joiners, the soft hyphen, the
/// byte-order mark), with which one name can pass for another.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_format_char(c)
}

/// Unicode general category Cf (Unicode 15.1). The standard library has no
/// category lookup, and a crate for one table would weigh on the wasm.
fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

const UNSAFE_CHARS_MESSAGE: &str = "Remove the control or invisible characters.";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    /// Trims and lower-cases; requires one `@` with text on both sides and a
    /// dot in the domain.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(AppError::validation("email", "Enter your email address."));
        }
        if email.chars().any(is_unsafe_char) {
            return Err(AppError::validation("email", UNSAFE_CHARS_MESSAGE));
        }
        let valid = email.len() <= 254
            && !email.chars().any(char::is_whitespace)
            && match email.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if !valid {
            return Err(AppError::validation(
                "email",
                "Enter a valid email address, like name@example.com.",
            ));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the length rules. Never serialized.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_LEN {
            return Err(AppError::validation(
                "password",
                format!("Use at least {MIN_PASSWORD_LEN} characters."),
            ));
        }
        if raw.len() > MAX_PASSWORD_LEN {
            return Err(AppError::validation(
                "password",
                format!("Use at most {MAX_PASSWORD_LEN} bytes."),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// A display name for a person or an organization: trimmed, 1–100 chars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(AppError::validation(field, "This field is required."));
        }
        if name.chars().count() > 100 {
            return Err(AppError::validation(field, "Use at most 100 characters."));
        }
        if name.chars().any(is_unsafe_char) {
            return Err(AppError::validation(field, UNSAFE_CHARS_MESSAGE));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who is signed in, as the UI needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub is_platform_admin: bool,
    pub organization: Option<CurrentOrganization>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentOrganization {
    pub id: OrgId,
    pub name: String,
    pub slug: super::orgs::OrgSlug,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_refused_with_a_field_error() {
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@c.com",
            "ada@.com",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("email"), "{bad:?}");
        }
    }

    #[test]
    fn passwords_need_ten_characters() {
        assert!(Password::parse("123456789").is_err());
        assert!(Password::parse("1234567890").is_ok());
        // characters, not bytes
        assert!(Password::parse("ééééééééé").is_err());
        assert!(Password::parse(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let p = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(
            DisplayName::parse("name", "  Ada ").unwrap().as_str(),
            "Ada"
        );
        assert!(DisplayName::parse("name", " ").is_err());
        assert!(DisplayName::parse("name", &"a".repeat(101)).is_err());
    }

    #[test]
    fn control_and_invisible_characters_are_refused_in_names_and_emails() {
        for bad in [
            "\0",
            "\u{7}",
            "\n",
            "\u{1b}",
            "\u{85}",
            "\u{2028}",
            "\u{202E}",
            "\u{2066}",
            "\u{200B}",
            "\u{200D}",
            "\u{FEFF}",
            "\u{AD}",
            "\u{E0041}",
        ] {
            let name = DisplayName::parse("name", &format!("Ada{bad}Lovelace")).unwrap_err();
            assert_eq!(name.field.as_deref(), Some("name"), "{bad:?}");
            assert_eq!(name.message, UNSAFE_CHARS_MESSAGE);
            let email = Email::parse(&format!("ada{bad}x@example.com")).unwrap_err();
            assert_eq!(email.field.as_deref(), Some("email"), "{bad:?}");
        }
    }

    #[test]
    fn letters_of_every_script_and_emoji_are_fine_in_names() {
        for good in ["Zoë Ó Briain", "محمد", "李小龙", "Ada 🚀", "O\u{2019}Neil"] {
            assert!(DisplayName::parse("name", good).is_ok(), "{good:?}");
        }
    }
}

/// One of the user's sessions, for the account page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct SessionOut {
    pub id: SessionId,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// The session this request came with.
    pub current: bool,
}

impl SessionOut {
    /// "Chrome on Linux"-style summary of the user agent.
    pub fn device(&self) -> String {
        let ua = self.user_agent.as_deref().unwrap_or("");
        let browser = [
            ("Edg/", "Edge"),
            ("Firefox/", "Firefox"),
            ("Chrome/", "Chrome"),
            ("Safari/", "Safari"),
            ("curl/", "curl"),
        ]
        .into_iter()
        .find(|(needle, _)| ua.contains(needle))
        .map_or("Unknown browser", |(_, name)| name);
        let os = [
            ("Windows", "Windows"),
            ("Android", "Android"),
            ("iPhone", "iOS"),
            ("Mac OS", "macOS"),
            ("Linux", "Linux"),
        ]
        .into_iter()
        .find(|(needle, _)| ua.contains(needle))
        .map(|(_, name)| name);
        match os {
            Some(os) => format!("{browser} on {os}"),
            None => browser.to_owned(),
        }
    }
}
