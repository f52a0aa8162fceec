//! The sealed cookie that carries a `Flash` from a form's answer to the one
//! page it is for. Sealed with a key of its own derived from the
//! instance's key (`AppState::flash_key`, XChaCha20-Poly1305) and bound to
//! that page's path: the browser holds a secret only encrypted,
//! for a minute at most, and another page cannot open it. The page that
//! opens it clears it, so it shows once.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::HeaderMap;

use super::cookies;
use super::webhooks::secrets::SecretKey;
use crate::model::flash::Flash;

pub const COOKIE_NAME: &str = "codebook_flash";
/// `__Host-` and `Secure` together, as for the session cookie.
pub const SECURE_COOKIE_NAME: &str = "__Host-codebook_flash";
/// Long enough for the redirect to land, short enough that a flash nobody
/// picked up does not linger.
const MAX_AGE_SECONDS: i64 = 60;

fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

fn context(page: &str) -> Vec<u8> {
    [b"codebook flash for ".as_slice(), page.as_bytes()].concat()
}

/// `Set-Cookie` that hands `flash` to the page at `page` (a path).
pub fn cookie_for(key: &SecretKey, page: &str, flash: &Flash, secure: bool) -> String {
    let json = serde_json::to_vec(flash).expect("a flash serializes");
    let sealed = URL_SAFE_NO_PAD.encode(key.seal_bytes(&json, &context(page)));
    cookies::build(cookie_name(secure), sealed, secure)
        .max_age(cookie::time::Duration::seconds(MAX_AGE_SECONDS))
        .build()
        .to_string()
}

/// The flash in `headers` if it is for `page`; a flash for another page
/// (or sealed with another key, or tampered with) is none.
pub fn open(key: &SecretKey, headers: &HeaderMap, page: &str, secure: bool) -> Option<Flash> {
    let sealed = URL_SAFE_NO_PAD
        .decode(cookies::value(headers, cookie_name(secure))?)
        .ok()?;
    let json = key.open_bytes(&sealed, &context(page))?;
    serde_json::from_slice(&json).ok()
}

/// `Set-Cookie` that removes the flash once its page has shown it.
pub fn clear_cookie(secure: bool) -> String {
    cookies::removal(cookie_name(secure), secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_with(set_cookie: &str) -> HeaderMap {
        let pair = set_cookie.split(';').next().unwrap().to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::COOKIE, pair.parse().unwrap());
        headers
    }

    #[test]
    fn a_flash_opens_on_its_own_page_only() {
        let key = SecretKey::ephemeral();
        let flash = Flash::Secret("cb_live_abc".into());
        let cookie = cookie_for(&key, "/api-keys", &flash, false);
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(!cookie.contains("cb_live_abc"), "sealed: {cookie}");
        let headers = headers_with(&cookie);
        assert_eq!(open(&key, &headers, "/api-keys", false), Some(flash));
        assert_eq!(open(&key, &headers, "/webhooks", false), None);
        assert_eq!(
            open(&SecretKey::ephemeral(), &headers, "/api-keys", false),
            None
        );
    }

    #[test]
    fn a_secure_instance_uses_the_host_prefixed_cookie_and_clears_it() {
        let key = SecretKey::ephemeral();
        let cookie = cookie_for(&key, "/members", &Flash::Notice("Sent.".into()), true);
        assert!(cookie.starts_with("__Host-codebook_flash="), "{cookie}");
        assert!(cookie.contains("Secure"), "{cookie}");
        assert_eq!(open(&key, &headers_with(&cookie), "/members", false), None);
        assert!(clear_cookie(true).starts_with("__Host-codebook_flash=;"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }

    #[test]
    fn a_tampered_flash_is_none() {
        let key = SecretKey::ephemeral();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::COOKIE, "codebook_flash=AAAA".parse().unwrap());
        assert_eq!(open(&key, &headers, "/members", false), None);
    }
}
