//! Keys presented at request rate. Every request through a key must be
//! checked (is the key live?), counted (usage) and held to the key's rate
//! limit, but writing the key's row on every request made every request
//! through one key wait for the others' row locks.
//!
//! So a server process takes a *lease* on a key: one statement
//! (`api_key_lease`) checks the key, writes the usage counted since the
//! last lease, and takes a number of requests from the key's current
//! rate-limit window; the process then lets that many requests through
//! from memory. The window stays in the database, leased requests count
//! as used there, so however many processes serve a key, it never gets
//! more than its limit in a minute. What a lease did not use is given
//! back with the next one.
//!
//! A lease is trusted for at most [`LEASE_TTL`]: another process sees a
//! revocation, an expiry or a deactivated organization that late at most;
//! this process at once, as changes to keys call [`KeyGate::forget`].
//! Lease sizes start at one request and double while a key is busy, so a
//! quiet key is checked on every request and a limit of a few requests a
//! minute is exact.
use crate::model::{ApiKeyId, OrgId};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use sqlx::types::ipnetwork::IpNetwork;
use sqlx::PgPool;
use tokio::sync::{watch, Mutex as AsyncMutex};
use tokio::task::JoinHandle;

use super::{hash, is_well_formed, AuthenticatedKey, RateLimitState};
use crate::backend::{Error, RequestMeta, Result};
use crate::model::api_keys::{Scope, Scopes};
use crate::model::orgs::OrgSlug;

/// How long a lease is trusted before the key is read again.
const LEASE_TTL: StdDuration = StdDuration::from_secs(1);
/// The most requests one lease takes: a tenth of the limit, and never more
/// than this (what one process may hold back from the others).
const MAX_LEASE: i32 = 1_000;
/// How often usage counted in memory for keys that went quiet is written.
const FLUSH_EVERY: StdDuration = StdDuration::from_secs(5);
/// The length of a rate-limit window (the database's `interval '1 minute'`).
const WINDOW: Duration = Duration::minutes(1);

/// The keys this process has seen, each with its lease and the usage not
/// yet written. Cheap to clone; one per process (in `AppState`).
#[derive(Clone, Default)]
pub struct KeyGate {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// By key hash. Only keys the database knows stay here.
    slots: Mutex<HashMap<Vec<u8>, Arc<AsyncMutex<Slot>>>>,
    /// Bumped by `forget`: leases taken before it are not used again.
    epoch: AtomicU64,
}

/// One key's state in this process. Requests through the key take its
/// lock in turn; the one that finds the lease spent renews it while the
/// others wait, so a busy key sends one statement per lease, not one per
/// waiting request.
#[derive(Default)]
struct Slot {
    lease: Option<Lease>,
    usage: Usage,
}

struct Lease {
    key: AuthenticatedKey,
    organization_active: bool,
    expires_at: Option<DateTime<Utc>>,
    window_started: DateTime<Utc>,
    /// The window's hits in the database, this lease's requests included.
    window_hits: i32,
    granted: i32,
    /// Requests of the lease not yet let through.
    left: i32,
    taken: Instant,
    epoch: u64,
}

/// Requests counted since the key's usage was last written.
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    count: i64,
    last_at: Option<DateTime<Utc>>,
    last_ip: Option<IpAddr>,
}

impl Usage {
    fn record(&mut self, now: DateTime<Utc>, ip: Option<IpAddr>) {
        self.count += 1;
        self.last_at = Some(now);
        if ip.is_some() {
            self.last_ip = ip;
        }
    }

    /// Puts back usage whose write failed, under what came since.
    fn restore(&mut self, earlier: Usage) {
        self.count += earlier.count;
        self.last_at = self.last_at.or(earlier.last_at);
        self.last_ip = self.last_ip.or(earlier.last_ip);
    }
}

impl Lease {
    fn usable(&self, now: DateTime<Utc>, epoch: u64) -> bool {
        self.left > 0
            && self.epoch == epoch
            && self.taken.elapsed() < LEASE_TTL
            && now < self.window_started + WINDOW
            && self.expires_at.is_none_or(|at| now < at)
    }

    /// The key as a request sees it, with the window as this process
    /// knows it: what is left of the lease is not used yet.
    fn key(&self) -> AuthenticatedKey {
        let mut key = self.key.clone();
        key.rate_limit = RateLimitState {
            limit: key.rate_limit.limit,
            used: self.window_hits - self.left,
            resets_at: self.window_started + WINDOW,
        };
        key
    }

    /// Twice what the last lease let through, within a tenth of the limit.
    fn next_size(&self) -> i32 {
        let used = self.granted - self.left;
        let most = (self.key.rate_limit.limit / 10).clamp(1, MAX_LEASE);
        (used.saturating_mul(2)).clamp(1, most)
    }
}

#[derive(sqlx::FromRow)]
struct LeaseRow {
    organization_id: OrgId,
    id: ApiKeyId,
    name: String,
    scopes: Vec<String>,
    organization_name: String,
    organization_slug: OrgSlug,
    organization_active: bool,
    expires_at: Option<DateTime<Utc>>,
    rate_limit_per_minute: i32,
    granted: i32,
    window_hits: i32,
    window_started: DateTime<Utc>,
}

impl LeaseRow {
    fn into_lease(self, epoch: u64) -> Lease {
        let key = AuthenticatedKey {
            id: self.id,
            name: self.name,
            organization_id: self.organization_id,
            organization_name: self.organization_name,
            organization_slug: self.organization_slug,
            // A scope the code no longer knows grants nothing.
            scopes: Scopes::new(self.scopes.iter().filter_map(|s| s.parse::<Scope>().ok())),
            rate_limit: RateLimitState {
                limit: self.rate_limit_per_minute,
                used: self.window_hits,
                resets_at: self.window_started + WINDOW,
            },
        };
        Lease {
            key,
            organization_active: self.organization_active,
            expires_at: self.expires_at,
            window_started: self.window_started,
            window_hits: self.window_hits,
            granted: self.granted,
            left: self.granted,
            taken: Instant::now(),
            epoch,
        }
    }
}

impl KeyGate {
    /// The key `text` stands for, if it is live, with this request counted
    /// against its usage and its rate limit (`rate_limit.exceeded()` when
    /// the request is over it).
    pub async fn authenticate(
        &self,
        pool: &PgPool,
        text: &str,
        meta: &RequestMeta,
    ) -> Result<AuthenticatedKey> {
        if !is_well_formed(text) {
            return Err(Error::Unauthenticated);
        }
        let hash = hash(text);
        let slot = self.slot(&hash);
        let mut slot = slot.lock().await;
        let now = Utc::now();
        slot.usage.record(now, meta.ip);
        let epoch = self.inner.epoch.load(Ordering::Acquire);
        if let Some(lease) = slot.lease.as_mut().filter(|l| l.usable(now, epoch)) {
            lease.left -= 1;
            return Ok(lease.key());
        }
        let Some(mut lease) = self.renew(pool, &hash, &mut slot, epoch).await? else {
            drop(slot);
            self.inner.slots.lock().expect("unpoisoned").remove(&hash);
            return Err(Error::Unauthenticated);
        };
        if !lease.organization_active {
            return Err(Error::OrganizationInactive);
        }
        if lease.granted == 0 {
            // Over the limit: nothing to keep; the next request asks again.
            return Ok(lease.key());
        }
        lease.left -= 1;
        let key = lease.key();
        slot.lease = Some(lease);
        Ok(key)
    }

    /// Leases taken before this are not used again: a key changed (revoked,
    /// rotated) or an organization was deactivated, and the next request
    /// through any key reads it afresh.
    pub fn forget(&self) {
        self.inner.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Writes the usage counted in memory (keys that went quiet since
    /// their last lease), so listings show every request. Keys busy
    /// renewing their lease are left to it: the renewal writes theirs.
    pub async fn flush_usage(&self, pool: &PgPool) -> Result<()> {
        let slots: Vec<(Vec<u8>, Arc<AsyncMutex<Slot>>)> = {
            let slots = self.inner.slots.lock().expect("unpoisoned");
            slots.iter().map(|(h, s)| (h.clone(), s.clone())).collect()
        };
        let mut taken = Vec::new();
        for (hash, slot) in slots {
            let Ok(mut slot) = slot.try_lock() else {
                continue;
            };
            if slot.usage.count > 0 {
                taken.push((hash, std::mem::take(&mut slot.usage)));
            }
        }
        if taken.is_empty() {
            return Ok(());
        }
        if let Err(error) = write_usage(pool, &taken).await {
            for (hash, usage) in taken {
                if let Some(slot) = self.existing_slot(&hash) {
                    slot.lock().await.usage.restore(usage);
                }
            }
            return Err(error);
        }
        Ok(())
    }

    /// Writes quiet keys' usage every few seconds, and once more on `stop`.
    pub fn start_flushing(&self, pool: PgPool) -> UsageFlusher {
        let (stop, mut stopped) = watch::channel(false);
        let gate = self.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tokio::time::sleep(FLUSH_EVERY) => {}
                }
                if let Err(error) = gate.flush_usage(&pool).await {
                    tracing::warn!(error = ?error, "writing API key usage failed; kept for later");
                }
            }
            if let Err(error) = gate.flush_usage(&pool).await {
                tracing::error!(error = ?error, "API key usage of the last moments is lost");
            }
        });
        UsageFlusher { stop, task }
    }

    fn slot(&self, hash: &[u8]) -> Arc<AsyncMutex<Slot>> {
        let mut slots = self.inner.slots.lock().expect("unpoisoned");
        slots.entry(hash.to_vec()).or_default().clone()
    }

    fn existing_slot(&self, hash: &[u8]) -> Option<Arc<AsyncMutex<Slot>>> {
        self.inner
            .slots
            .lock()
            .expect("unpoisoned")
            .get(hash)
            .cloned()
    }

    /// Takes a new lease (giving back what the old one did not use) and
    /// writes the usage counted since the last; `None` when the key is not
    /// live. On an error the usage stays counted for the next try.
    async fn renew(
        &self,
        pool: &PgPool,
        hash: &[u8],
        slot: &mut Slot,
        epoch: u64,
    ) -> Result<Option<Lease>> {
        let previous = slot.lease.take();
        let want = previous.as_ref().map_or(1, Lease::next_size);
        let (give_back, of_window) = previous
            .as_ref()
            .map_or((0, None), |l| (l.left, Some(l.window_started)));
        // Usage and rate windows need not wait for the disk: a crash
        // forgets at most the last moment's counts, never anyone's change.
        let row: Option<LeaseRow> = sqlx::query_as(
            "select k.* from set_config('synchronous_commit', 'off', true),
                             api_key_lease($1, $2, $3, $4, $5, $6) as k",
        )
        .bind(hash)
        .bind(want)
        .bind(give_back)
        .bind(of_window)
        .bind(slot.usage.count)
        .bind(slot.usage.last_ip.map(IpNetwork::from))
        .fetch_optional(pool)
        .await?;
        slot.usage = Usage::default();
        Ok(row.map(|row| row.into_lease(epoch)))
    }
}

async fn write_usage(pool: &PgPool, taken: &[(Vec<u8>, Usage)]) -> Result<()> {
    let hashes: Vec<Vec<u8>> = taken.iter().map(|(h, _)| h.clone()).collect();
    let counts: Vec<i64> = taken.iter().map(|(_, u)| u.count).collect();
    let last_at: Vec<DateTime<Utc>> = taken
        .iter()
        .map(|(_, u)| u.last_at.unwrap_or_else(Utc::now))
        .collect();
    let ips: Vec<Option<IpNetwork>> = taken
        .iter()
        .map(|(_, u)| u.last_ip.map(IpNetwork::from))
        .collect();
    sqlx::query("select api_key_record_usage($1, $2, $3, $4)")
        .bind(hashes)
        .bind(counts)
        .bind(last_at)
        .bind(ips)
        .execute(pool)
        .await?;
    Ok(())
}

/// The task writing quiet keys' usage.
pub struct UsageFlusher {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl UsageFlusher {
    /// Writes what is left and stops.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(error = %error, "the API key usage writer ended abnormally");
        }
    }
}
