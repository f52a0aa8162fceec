-- The audit log and the webhook outbox: both written in the same
-- transaction as the change they record.

create type audit_outcome as enum ('success', 'failure');
create type actor_kind as enum ('user', 'api_key', 'system', 'anonymous');

-- Append-only and tamper-evident: each organization's entries form a hash
-- chain (seq 1, 2, 3… with prev_hash = the hash of the entry before). The
-- application hashes each entry (see backend::audit) and serializes writers
-- of one chain with a transaction-level advisory lock; the primary key
-- refuses a fork even if that lock were skipped.
create table audit_log (
    organization_id uuid not null references organizations (id) on delete cascade,
    seq bigint not null check (seq > 0),
    id uuid not null,
    occurred_at timestamptz not null,
    actor_kind actor_kind not null,
    actor_id uuid,
    action text not null check (length(action) between 1 and 100),
    resource_type text not null,
    resource_id text,
    outcome audit_outcome not null,
    before jsonb,
    after jsonb,
    ip inet,
    user_agent text,
    request_id text,
    prev_hash bytea not null check (length(prev_hash) = 32),
    hash bytea not null check (length(hash) = 32),
    primary key (organization_id, seq),
    unique (organization_id, id)
);
create index audit_log_time_idx on audit_log (organization_id, occurred_at);

alter table audit_log enable row level security;
alter table audit_log force row level security;
create policy audit_log_tenant on audit_log
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());

-- The application may add and read entries, never change or remove them.
grant select, insert on audit_log to codebook_app;

-- Events waiting to be fanned out to webhook endpoints.
create table outbox (
    organization_id uuid not null references organizations (id) on delete cascade,
    id uuid not null,
    event_type text not null check (event_type ~ '^[a-z_]+\.[a-z_]+$'),
    payload jsonb not null,
    created_at timestamptz not null default now(),
    processed_at timestamptz,
    primary key (organization_id, id)
);
create index outbox_pending_idx on outbox (created_at) where processed_at is null;

alter table outbox enable row level security;
alter table outbox force row level security;
create policy outbox_tenant on outbox
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());

grant select, insert, update on outbox to codebook_app;
