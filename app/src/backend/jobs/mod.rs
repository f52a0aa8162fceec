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
//!
//! This module is what areas need to ask for work (`enqueue`) and to do it
//! (`JobContext`); `runner` claims jobs and calls those areas, so it sits
//! above them.
pub mod runner;
pub mod worker;

use crate::model::{InvitationId, OrgId};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use std::net::IpAddr;
use uuid::Uuid;

use super::mail::{Mail, Mailer};
use super::{RequestMeta, Result};

/// Where a worker is told that jobs are waiting.
pub const CHANNEL: &str = "jobs";
/// Where a worker tells that it finished an attempt.
pub const DONE_CHANNEL: &str = "jobs_done";
/// How long a claimed job is a worker's before another may take it over.
pub(crate) const LEASE: Duration = Duration::minutes(5);
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
    pub organization_id: OrgId,
    pub invitation_id: InvitationId,
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

    pub(crate) fn parse(kind: &str, payload: Value) -> Result<Self> {
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

/// What a job's work needs: the database, the mailer, and the public
/// address for links in mail.
#[derive(Clone)]
pub struct JobContext {
    pool: PgPool,
    mailer: Mailer,
    public_url: String,
}

impl JobContext {
    pub fn new(pool: PgPool, mailer: Mailer, public_url: &str) -> Self {
        Self {
            pool,
            mailer,
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
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
