//! Connections, migrations, and `OrgTx`: the only door to tenant data.
use crate::model::{OrgId, UserId};
use anyhow::{bail, Context as _};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, Executor, PgConnection, PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;

use super::{Actor, RequestMeta, Result};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The role the application runs as; created by the first migration.
pub const APP_ROLE: &str = "codebook_app";
/// The role delivery workers run as: the application's rights, and the
/// functions that lease and record deliveries across organizations.
pub const WORKER_ROLE: &str = "codebook_worker";

/// A pooled connection idle longer than this is checked before use.
pub const TRUSTED_IDLE: Duration = Duration::from_secs(30);

/// Begins a transaction with `statement` (a plain `BEGIN` when none), on a
/// task of its own. sqlx counts a transaction only once PostgreSQL has
/// answered its `BEGIN`: a request cancelled in that moment (a browser that
/// navigates away) would hand the connection back to the pool inside a
/// transaction nobody owns, with that request's settings, and the next
/// user of the connection would work inside it. On its own task the
/// `BEGIN` always completes, and a transaction nobody takes is rolled back
/// as any dropped one is.
pub async fn begin(
    pool: &PgPool,
    statement: Option<String>,
) -> Result<Transaction<'static, Postgres>> {
    let pool = pool.clone();
    let begun = tokio::spawn(async move {
        match statement {
            Some(statement) => pool.begin_with(statement).await,
            None => pool.begin().await,
        }
    })
    .await
    .map_err(|e| {
        super::Error::Internal(anyhow::anyhow!(
            "the task beginning a transaction failed: {e}"
        ))
    })?;
    Ok(begun?)
}

pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    connect_trusting_idle(url, max_connections, TRUSTED_IDLE).await
}

/// `connect`, with connections idle up to `trusted_idle` handed out
/// unchecked.
pub async fn connect_trusting_idle(
    url: &str,
    max_connections: u32,
    trusted_idle: Duration,
) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url).context("Invalid database URL")?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        // sqlx pings every connection it hands out: a round trip per
        // transaction, a quarter of a short request's. A connection in
        // steady use is known good; one that sat idle (through a restart
        // of PostgreSQL, a proxy's idle cut) is still checked, and if dead
        // replaced before anyone uses it.
        .test_before_acquire(false)
        .before_acquire(move |conn, meta| {
            Box::pin(async move {
                if meta.idle_for > trusted_idle {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // Generic plans of prepared statements can cross jit_above_cost
                // and spend far longer compiling than running (TOOLCHAIN.md).
                conn.execute("set jit = off").await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .context("Failed to connect to PostgreSQL")
}

pub async fn migrate(owner_pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(owner_pool)
        .await
        .context("Failed to run database migrations")
}

/// The URL `role` connects with: the owner's URL with the user swapped
/// (and no password: give `APP_DATABASE_URL` / `WORKER_DATABASE_URL` where
/// the server wants one).
pub fn role_url(owner_url: &str, role: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(owner_url).context("Invalid database URL")?;
    url.set_username(role)
        .map_err(|()| anyhow::anyhow!("Database URL cannot carry a user name"))?;
    url.set_password(None)
        .map_err(|()| anyhow::anyhow!("Database URL cannot carry a password"))?;
    Ok(url.to_string())
}

/// Refuses a connection that row-level security would not bind: a
/// superuser, a role with BYPASSRLS, or the owner of a tenant table.
pub async fn ensure_restricted_role(pool: &PgPool) -> anyhow::Result<()> {
    let (name, is_super, bypass): (String, bool, bool) = sqlx::query_as(
        "select rolname::text, rolsuper, rolbypassrls from pg_roles where rolname = current_user",
    )
    .fetch_one(pool)
    .await
    .context("Failed to read the database role")?;
    if is_super {
        bail!(
            "Refusing to start: the application's database role `{name}` is a superuser, \
             so row-level security would not apply. Connect as `{APP_ROLE}` or `{WORKER_ROLE}` \
             (see APP_DATABASE_URL and WORKER_DATABASE_URL)."
        );
    }
    if bypass {
        bail!(
            "Refusing to start: the application's database role `{name}` has BYPASSRLS, \
             so row-level security would not apply. Connect as `{APP_ROLE}` or `{WORKER_ROLE}` \
             (see APP_DATABASE_URL and WORKER_DATABASE_URL)."
        );
    }
    let owned: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind = 'r'
           and pg_get_userbyid(c.relowner) = current_user",
    )
    .fetch_all(pool)
    .await
    .context("Failed to read table owners")?;
    if !owned.is_empty() {
        bail!(
            "Refusing to start: the application's database role `{name}` owns tables ({}); \
             run the application as a role that owns none.",
            owned.join(", ")
        );
    }
    Ok(())
}

/// A transaction bound to one organization and one actor. Row-level
/// security reads `app.org_id`, set here for this transaction only, so even
/// a query that forgot its `organization_id` filter sees no other tenant.
pub struct OrgTx {
    tx: Transaction<'static, Postgres>,
    org_id: OrgId,
    actor: Actor,
    meta: RequestMeta,
}

/// How PostgreSQL plans a transaction's prepared statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plans {
    /// PostgreSQL's choice, per statement and values.
    Chosen,
    /// One plan per statement and connection, whatever the values: for
    /// statements whose best plan does not depend on them (an
    /// organization's codes by key, a word's entries). PostgreSQL would
    /// plan those anew on every execution, and planning the word search
    /// costs more than running it (`bench load`: word search 1,408 → 2,184
    /// req/s with generic plans, the list 0.44 → 0.57 of pgbench, whose
    /// scripts bind no parameters and so never plan twice).
    Generic,
}

impl OrgTx {
    pub async fn begin(
        pool: &PgPool,
        org_id: OrgId,
        actor: Actor,
        meta: RequestMeta,
    ) -> Result<Self> {
        Self::begin_planned(pool, org_id, actor, meta, Plans::Chosen).await
    }

    pub async fn begin_planned(
        pool: &PgPool,
        org_id: OrgId,
        actor: Actor,
        meta: RequestMeta,
        plans: Plans,
    ) -> Result<Self> {
        // BEGIN, the transaction's organization and user (and its plans) in
        // one round trip (a simple query cannot bind: both are UUIDs
        // formatted here, never text from a request).
        let user = actor.id().map(|id| id.to_string()).unwrap_or_default();
        let plans = match plans {
            Plans::Chosen => "",
            Plans::Generic => ", set_config('plan_cache_mode', 'force_generic_plan', true)",
        };
        let statement = format!(
            "begin; select set_config('app.org_id', '{org_id}', true), \
             set_config('app.user_id', '{user}', true){plans}"
        );
        let tx = begin(pool, Some(statement)).await?;
        Ok(Self {
            tx,
            org_id,
            actor,
            meta,
        })
    }

    /// Binds a transaction already under way to `org_id`, e.g. right after
    /// it created that organization.
    pub async fn bind(
        mut tx: Transaction<'static, Postgres>,
        org_id: OrgId,
        actor: Actor,
        meta: RequestMeta,
    ) -> Result<Self> {
        sqlx::query(
            "select set_config('app.org_id', $1, true), set_config('app.user_id', $2, true)",
        )
        .bind(org_id.to_string())
        .bind(actor.id().map(|id| id.to_string()).unwrap_or_default())
        .execute(&mut *tx)
        .await?;
        Ok(Self {
            tx,
            org_id,
            actor,
            meta,
        })
    }

    /// Points this transaction at another organization, for a change that
    /// concerns several (an account's password, recorded in each of its
    /// organizations' audit logs) and must commit as one.
    pub async fn rebind(&mut self, org_id: OrgId) -> Result<()> {
        sqlx::query("select set_config('app.org_id', $1, true)")
            .bind(org_id.to_string())
            .execute(&mut *self.tx)
            .await?;
        self.org_id = org_id;
        Ok(())
    }

    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    pub fn actor(&self) -> Actor {
        self.actor
    }

    pub fn meta(&self) -> &RequestMeta {
        &self.meta
    }

    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    /// Ends the transaction now, releasing its locks before the caller
    /// goes on (dropping it would only roll back when its connection is
    /// next used).
    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

/// A transaction for a signed-in user outside any one organization: it can
/// see that user's own memberships and nothing of any tenant.
pub async fn begin_as_user(
    pool: &PgPool,
    user_id: UserId,
) -> Result<Transaction<'static, Postgres>> {
    // BEGIN and the user in one round trip, as `OrgTx::begin` does (a UUID
    // formatted here, never text from a request).
    let statement = format!("begin; select set_config('app.user_id', '{user_id}', true)");
    begin(pool, Some(statement)).await
}
