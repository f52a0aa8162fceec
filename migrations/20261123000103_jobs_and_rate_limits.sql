-- Background jobs and request rate limits.

-- Work done after the request that asked for it (mail, first of all),
-- written in that request's transaction. Not tenant data: a job belongs to
-- the server, not to an organization (a password reset mail has none), and
-- nothing shows jobs to tenants; a job that touches an organization's rows
-- binds that organization when it runs, like any request.
--
-- A worker claims a due job with FOR UPDATE SKIP LOCKED and leases it
-- until `locked_until`, so a crashed worker's job runs again after that.
create table jobs (
    id uuid primary key,
    kind text not null check (kind ~ '^[a-z_]+$'),
    payload jsonb not null,
    run_at timestamptz not null,
    attempts integer not null default 0 check (attempts >= 0),
    max_attempts integer not null check (max_attempts > 0),
    locked_until timestamptz,
    last_error text,
    created_at timestamptz not null default now(),
    done_at timestamptz,
    failed_at timestamptz
);
create index jobs_due_idx on jobs (run_at) where done_at is null and failed_at is null;

grant select on jobs to codebook_app;
grant insert (id, kind, payload, run_at, max_attempts) on jobs to codebook_app;
grant update (payload, run_at, attempts, locked_until, last_error, done_at, failed_at)
    on jobs to codebook_app;

-- Requests counted per key ('sign_up:ip:<address>', 'invite:org:<id>', …)
-- in fixed windows; one atomic upsert per request.
create table rate_limits (
    key text primary key,
    hits integer not null check (hits >= 0),
    window_started timestamptz not null
);

grant select, insert, update on rate_limits to codebook_app;
