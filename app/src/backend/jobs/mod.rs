//! Background work: jobs written in the transaction of the request that
//! asks for them (so a rolled-back request leaves none, and a committed one
//! never loses its job), run afterwards by a worker, retried with backoff.
//!
//! A worker claims one due job at a time with `FOR UPDATE SKIP LOCKED` and
//! leases it until `locked_until`; any number of workers (inside `serve`,
//! or alone as `server worker`) share the queue. `enqueue` notifies the
//! `jobs` channel on commit so a listening worker starts at once; each
//! finished attempt notifies `jobs_done`. Every function takes the time
//! `now` from its caller, so tests move a clock instead of sleeping.
pub mod worker;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use std::net::IpAddr;
use uuid::Uuid;

use super::mail::{Mail, Mailer};
use super::{Actor, AppState, Error, OrgTx, RequestMeta, Result};

pub use worker::Worker;

/// Where a worker is told that jobs are waiting.
pub const CHANNEL: &str = "jobs";
/// Where a worker tells that it finished an attempt.
pub const DONE_CHANNEL: &str = "jobs_done";
/// How long a claimed job is a worker's before another may take it over.
const LEASE: Duration = Duration::minutes(5);
const MAX_ATTEMPTS: i32 = 6;

/// The request facts a job records in its audit entries.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JobMeta {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl From<&RequestMeta> for JobMeta {
    fn from(m: &RequestMeta) -> Self {
        Self {
            ip: m.ip,
            user_agent: m.user_agent.clone(),
            request_id: m.request_id.clone(),
        }
    }
}

impl From<JobMeta> for RequestMeta {
    fn from(m: JobMeta) -> Self {
        Self {
            ip: m.ip,
            user_agent: m.user_agent,
            request_id: m.request_id,
        }
    }
}

/// The invitation a mail belongs to: its delivery failures are shown there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvitationRef {
    pub organization_id: Uuid,
    pub invitation_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailJob {
    pub mail: Mail,
    #[serde(default)]
    pub invitation: Option<InvitationRef>,
}

/// A reset link for an address, if it has an account: the lookup, the link
/// and its audit entries happen here, after the response, so the request
/// does the same work whether or not the account exists.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordResetJob {
    pub email: String,
    pub meta: JobMeta,
}

#[derive(Debug, Clone)]
pub enum Job {
    Mail(MailJob),
    PasswordReset(PasswordResetJob),
}

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Mail(_) => "mail",
            Job::PasswordReset(_) => "password_reset",
        }
    }

    fn payload(&self) -> Result<Value> {
        let value = match self {
            Job::Mail(job) => serde_json::to_value(job),
            Job::PasswordReset(job) => serde_json::to_value(job),
        };
        Ok(value.map_err(anyhow::Error::new)?)
    }

    fn parse(kind: &str, payload: Value) -> Result<Self> {
        let job = match kind {
            "mail" => serde_json::from_value(payload).map(Job::Mail),
            "password_reset" => serde_json::from_value(payload).map(Job::PasswordReset),
            other => return Err(anyhow::anyhow!("unknown job kind {other}").into()),
        };
        Ok(job.map_err(anyhow::Error::new)?)
    }
}

/// Adds `job` in the caller's transaction, due now.
pub async fn enqueue(conn: &mut PgConnection, job: &Job) -> Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into jobs (id, kind, payload, run_at, max_attempts) values ($1, $2, $3, now(), $4)",
    )
    .bind(id)
    .bind(job.kind())
    .bind(job.payload()?)
    .bind(MAX_ATTEMPTS)
    .execute(&mut *conn)
    .await?;
    // Delivered when (and only if) the transaction commits.
    sqlx::query("select pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(id)
}

/// The pause before attempt `attempts + 1`: 30 s, doubling, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let doublings = attempts.clamp(1, 8) - 1;
    (Duration::seconds(30) * 2i32.pow(doublings as u32)).min(Duration::hours(1))
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: Uuid,
    kind: String,
    payload: Value,
    attempts: i32,
    max_attempts: i32,
}

/// What running jobs needs: the database, the mailer, and the public
/// address for links in mail.
#[derive(Clone)]
pub struct Runner {
    pool: PgPool,
    mailer: Mailer,
    public_url: String,
}

impl Runner {
    pub fn new(pool: PgPool, mailer: Mailer, public_url: &str) -> Self {
        Self {
            pool,
            mailer,
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn from_state(state: &AppState) -> Self {
        Self::new(state.pool.clone(), state.mailer.clone(), &state.public_url)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
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
        .fetch_optional(&self.pool)
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
            Job::Mail(job) => self.mailer.send(&job.mail).await,
            Job::PasswordReset(job) => super::accounts::security::send_reset_link(self, job).await,
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
            &self.pool,
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
        let mut tx = self.pool.begin().await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_from_thirty_seconds_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::seconds(30));
        assert_eq!(backoff(2), Duration::seconds(60));
        assert_eq!(backoff(4), Duration::seconds(240));
        assert_eq!(backoff(20), Duration::hours(1));
    }

    #[test]
    fn a_job_reads_back_as_written() {
        let job = Job::PasswordReset(PasswordResetJob {
            email: "ada@example.com".into(),
            meta: JobMeta::default(),
        });
        let again = Job::parse(job.kind(), job.payload().unwrap()).unwrap();
        assert!(matches!(again, Job::PasswordReset(j) if j.email == "ada@example.com"));
    }
}
