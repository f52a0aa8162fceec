//! The instance's mode, read by every area that behaves differently in
//! development.

/// Whether this instance runs for development (the embedded default) or in
/// production. Production refuses to start without its own database, mail
/// server and public URL, sends `Secure` `__Host-` cookies and HSTS, serves
/// no `/dev` pages and makes no one platform admin by signing up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Development,
    Production,
}
