//! Outgoing mail: SMTP through lettre when configured; otherwise an outbox
//! folder of `.eml` files that a developer reads (and the dev page lists),
//! so no mail is ever silently dropped. Mail is sent by a job (`jobs`),
//! after the request that asked for it has committed.
use anyhow::Context as _;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Result;

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Outbox {
        dir: PathBuf,
        from: Mailbox,
    },
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// SMTP settings; the password comes only from the environment.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `smtps://host:465` or `smtp://host:587` (STARTTLS).
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Mailer {
    pub fn smtp(settings: &SmtpSettings, from: &str) -> anyhow::Result<Self> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.url)
            .context("Invalid SMTP URL")?
            .timeout(Some(Duration::from_secs(15)));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer::Smtp {
            transport: builder.build(),
            from: from.parse().context("Invalid mail-from address")?,
        })
    }

    pub fn outbox(dir: &Path, from: &str) -> anyhow::Result<Self> {
        Ok(Mailer::Outbox {
            dir: dir.to_path_buf(),
            from: from.parse().context("Invalid mail-from address")?,
        })
    }

    fn message(from: &Mailbox, mail: &Mail) -> anyhow::Result<Message> {
        Message::builder()
            .from(from.clone())
            .to(mail.to.parse().context("Invalid recipient address")?)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text.clone())
            .context("Failed to build the message")
    }

    /// Sends once; the error is returned for the job that sent it to
    /// record, and to retry later (`jobs`), never inside a request.
    pub async fn send(&self, mail: &Mail) -> Result<()> {
        match self {
            Mailer::Outbox { dir, from } => {
                let message = Self::message(from, mail)?;
                tokio::fs::create_dir_all(dir)
                    .await
                    .with_context(|| format!("Failed to create mail outbox {}", dir.display()))?;
                let name = format!(
                    "{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
                    uuid::Uuid::new_v4().simple()
                );
                tokio::fs::write(dir.join(&name), message.formatted())
                    .await
                    .context("Failed to write to the mail outbox")?;
                tracing::info!(to = %mail.to, subject = %mail.subject, file = %name, "mail written to the outbox");
                Ok(())
            }
            Mailer::Smtp { transport, from } => {
                let message = Self::message(from, mail)?;
                transport
                    .send(message)
                    .await
                    .context("Failed to send the mail by SMTP")?;
                tracing::info!(to = %mail.to, subject = %mail.subject, "mail sent");
                Ok(())
            }
        }
    }

    /// The outbox folder, when mail goes there.
    pub fn outbox_dir(&self) -> Option<&Path> {
        match self {
            Mailer::Outbox { dir, .. } => Some(dir),
            Mailer::Smtp { .. } => None,
        }
    }
}
