//! The app's cookies (the session, the flash): one set of attributes, one
//! way to read them back.
use http::HeaderMap;

/// A cookie for the whole site that scripts cannot read and other sites'
/// forms do not send (`SameSite=Lax`); `Secure` when `secure`.
pub fn build(name: &'static str, value: String, secure: bool) -> cookie::CookieBuilder<'static> {
    cookie::Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
}

/// `Set-Cookie` that removes the cookie `name`.
pub fn removal(name: &'static str, secure: bool) -> String {
    build(name, String::new(), secure)
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

/// The value of the cookie `name` in a request, if it has a non-empty one.
pub fn value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(|c| c.ok())
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}
