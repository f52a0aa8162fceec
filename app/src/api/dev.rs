//! Development helpers, refused in production mode.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMail {
    pub file: String,
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// The mail outbox, newest first (development mode without SMTP only).
#[server(endpoint = "dev/mail")]
pub async fn dev_mail() -> Result<Vec<OutboxMail>, AppError> {
    use super::server::{fail, state};
    use crate::backend::{mode::Mode, Error};

    let state = state()?;
    let dir = match (state.mode, state.mailer.outbox_dir()) {
        (Mode::Development, Some(dir)) => dir.to_path_buf(),
        _ => return Err(fail(Error::NotFound)),
    };
    let mut mails = Vec::new();
    let mut entries = match tokio::fs::read_dir(&dir).await {
        Ok(entries) => entries,
        Err(_) => return Ok(mails),
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let file = entry.file_name().to_string_lossy().into_owned();
        if !file.ends_with(".eml") {
            continue;
        }
        let Ok(raw) = tokio::fs::read_to_string(entry.path()).await else {
            continue;
        };
        mails.push(parse_eml(file, &raw));
    }
    mails.sort_by(|a, b| b.file.cmp(&a.file));
    Ok(mails)
}

/// Enough of RFC 5322 for our own plain-text mails: headers, blank line,
/// body (quoted-printable soft breaks undone).
#[cfg(feature = "ssr")]
fn parse_eml(file: String, raw: &str) -> OutboxMail {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap_or_default()
    };
    let quoted_printable = head.contains("Content-Transfer-Encoding: quoted-printable");
    let body = if quoted_printable {
        body.replace("=\n", "").replace("=3D", "=")
    } else {
        body.to_owned()
    };
    OutboxMail {
        file,
        to: header("To:"),
        subject: header("Subject:"),
        body,
    }
}
