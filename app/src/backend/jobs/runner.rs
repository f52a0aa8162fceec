//! Claims due jobs, one at a time, and does each with the area it belongs
//! to, retrying with backoff.
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{backoff, Job, JobContext, MailJob, DONE_CHANNEL, LEASE};
use crate::backend::mail::Mailer;
use crate::backend::{Actor, AppState, Error, OrgTx, RequestMeta, Result};

#[derive(sqlx::FromRow)]
struct Claimed {
    id: Uuid,
    kind: String,
    payload: Value,
    attempts: i32,
    max_attempts: i32,
}

/// Claims due jobs and does them.
#[derive(Clone)]
pub struct Runner {
    context: JobContext,
}

impl Runner {
    pub fn new(pool: PgPool, mailer: Mailer, public_url: &str) -> Self {
        Self {
            context: JobContext::new(pool, mailer, public_url),
        }
    }

    pub fn from_state(state: &AppState) -> Self {
        Self::new(state.pool.clone(), state.mailer.clone(), &state.public_url)
    }

    pub fn pool(&self) -> &PgPool {
        self.context.pool()
    }

    /// Runs every job due at `now`, one after another, until none is left
    /// that no other worker holds; returns how many attempts it made.
    pub async fn run_due(&self, now: DateTime<Utc>) -> Result<usize> {
        let mut ran = 0;
        while let Some(claimed) = self.claim(now).await? {
            self.attempt(claimed, now).await?;
            ran += 1;
        }
        Ok(ran)
    }

    async fn claim(&self, now: DateTime<Utc>) -> Result<Option<Claimed>> {
        Ok(sqlx::query_as(
            "update jobs set attempts = attempts + 1, locked_until = $1 + $2::interval
             where id = (
                 select id from jobs
                 where done_at is null and failed_at is null and run_at <= $1
                   and (locked_until is null or locked_until <= $1)
                 order by run_at
                 limit 1
                 for update skip locked)
             returning id, kind, payload, attempts, max_attempts",
        )
        .bind(now)
        .bind(format!("{} seconds", LEASE.num_seconds()))
        .fetch_optional(self.pool())
        .await?)
    }

    #[tracing::instrument(skip_all, fields(job_id = %claimed.id, kind = %claimed.kind, attempt = claimed.attempts))]
    async fn attempt(&self, claimed: Claimed, now: DateTime<Utc>) -> Result<()> {
        let outcome = match Job::parse(&claimed.kind, claimed.payload) {
            Ok(job) => {
                let outcome = self.perform(&job).await;
                self.after_attempt(&job, outcome.as_ref().err()).await?;
                outcome
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => self.finish(claimed.id, now).await,
            Err(e) => {
                let error = describe(&e);
                tracing::warn!(%error, "job attempt failed");
                if claimed.attempts >= claimed.max_attempts {
                    tracing::error!(%error, "job failed for good");
                    self.give_up(claimed.id, now, &error).await
                } else {
                    self.retry(claimed.id, now + backoff(claimed.attempts), &error)
                        .await
                }
            }
        }
    }

    async fn perform(&self, job: &Job) -> Result<()> {
        match job {
            Job::Mail(job) => self.context.mailer().send(&job.mail).await,
            Job::PasswordReset(job) => {
                crate::backend::accounts::security::send_reset_link(&self.context, job).await
            }
        }
    }

    /// Shows an invitation mail's outcome on the invitation, for admins.
    async fn after_attempt(&self, job: &Job, error: Option<&Error>) -> Result<()> {
        let Job::Mail(MailJob {
            invitation: Some(invitation),
            ..
        }) = job
        else {
            return Ok(());
        };
        let mut tx = OrgTx::begin(
            self.pool(),
            invitation.organization_id,
            Actor::System,
            RequestMeta::default(),
        )
        .await?;
        sqlx::query(
            "update invitations set mail_error = $3 where organization_id = $1 and id = $2",
        )
        .bind(invitation.organization_id)
        .bind(invitation.invitation_id)
        .bind(error.map(describe))
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    /// Done; a mail's text (with its link) is not kept once sent.
    async fn finish(&self, id: Uuid, now: DateTime<Utc>) -> Result<()> {
        self.close(
            id,
            "update jobs set done_at = $2, locked_until = null, last_error = coalesce($3, last_error),
                 payload = case when kind = 'mail' then payload #- '{mail,text}' else payload end
             where id = $1",
            now,
            None,
        )
        .await
    }

    async fn give_up(&self, id: Uuid, now: DateTime<Utc>, error: &str) -> Result<()> {
        self.close(
            id,
            "update jobs set failed_at = $2, locked_until = null, last_error = $3,
                 payload = case when kind = 'mail' then payload #- '{mail,text}' else payload end
             where id = $1",
            now,
            Some(error),
        )
        .await
    }

    async fn retry(&self, id: Uuid, run_at: DateTime<Utc>, error: &str) -> Result<()> {
        self.close(
            id,
            "update jobs set run_at = $2, locked_until = null, last_error = $3 where id = $1",
            run_at,
            Some(error),
        )
        .await
    }

    async fn close(
        &self,
        id: Uuid,
        statement: &str,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<()> {
        let mut tx = crate::backend::db::begin(self.pool(), None).await?;
        sqlx::query(statement)
            .bind(id)
            .bind(at)
            .bind(error)
            .execute(&mut *tx)
            .await?;
        sqlx::query("select pg_notify($1, $2)")
            .bind(DONE_CHANNEL)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// An error with its causes, for a person to read.
fn describe(error: &Error) -> String {
    match error {
        Error::Internal(e) => format!("{e:#}"),
        other => other.to_string(),
    }
}
