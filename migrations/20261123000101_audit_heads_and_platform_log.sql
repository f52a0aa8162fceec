-- Tamper evidence that survives truncation and deletion.
--
-- 1. Each organization's chain head (the last seq and its hash) is kept on
--    the organization's row. A trigger on audit_log moves it forward, and
--    only by an entry that extends it (seq = head + 1, prev_hash = head
--    hash); the application role has no UPDATE on these columns (see
--    20261123000102), so deleting the newest entries leaves a head that
--    points past the end of the chain, which `verify` reports.
-- 2. Organization deletion and deactivation go to a platform-level log,
--    itself a hash chain with its head in a one-row table, that keeps the
--    organization's id and slug as plain values (no foreign key), so it
--    outlives the organization.

create function audit_genesis() returns bytea
    language sql immutable
    as $$ select decode(repeat('00', 32), 'hex') $$;

alter table organizations
    add column audit_head_seq bigint not null default 0 check (audit_head_seq >= 0),
    add column audit_head_hash bytea check (length(audit_head_hash) = 32);

update organizations o
   set audit_head_seq = h.seq, audit_head_hash = h.hash
  from (select distinct on (organization_id) organization_id, seq, hash
          from audit_log order by organization_id, seq desc) h
 where h.organization_id = o.id;

create function audit_log_advance_head() returns trigger
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
begin
    update organizations
       set audit_head_seq = new.seq, audit_head_hash = new.hash
     where id = new.organization_id
       and audit_head_seq = new.seq - 1
       and coalesce(audit_head_hash, audit_genesis()) = new.prev_hash;
    if not found then
        raise exception 'audit entry % does not extend the chain of organization %',
                new.seq, new.organization_id
            using errcode = 'check_violation', constraint = 'audit_log_extends_head';
    end if;
    return null;
end
$$;
revoke all on function audit_log_advance_head() from public;

create trigger audit_log_advance_head
    after insert on audit_log
    for each row execute function audit_log_advance_head();

create table platform_audit_log (
    seq bigint primary key check (seq > 0),
    id uuid not null unique,
    occurred_at timestamptz not null,
    actor_kind actor_kind not null,
    actor_id uuid,
    action text not null check (length(action) between 1 and 100),
    -- Values, not references: the entry must outlive the organization.
    -- (Not `organization_id`: this is the platform's table, not tenant
    -- data, and is not scoped by row-level security.)
    org_id uuid,
    org_slug text,
    details jsonb,
    ip inet,
    user_agent text,
    request_id text,
    prev_hash bytea not null check (length(prev_hash) = 32),
    hash bytea not null check (length(hash) = 32)
);
create index platform_audit_log_org_idx on platform_audit_log (org_id);

create table platform_audit_head (
    singleton boolean primary key default true check (singleton),
    seq bigint not null default 0 check (seq >= 0),
    hash bytea check (length(hash) = 32)
);
insert into platform_audit_head default values;

create function platform_audit_log_advance_head() returns trigger
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
begin
    update platform_audit_head
       set seq = new.seq, hash = new.hash
     where singleton and seq = new.seq - 1
       and coalesce(hash, audit_genesis()) = new.prev_hash;
    if not found then
        raise exception 'platform audit entry % does not extend the chain', new.seq
            using errcode = 'check_violation', constraint = 'platform_audit_log_extends_head';
    end if;
    return null;
end
$$;
revoke all on function platform_audit_log_advance_head() from public;

create trigger platform_audit_log_advance_head
    after insert on platform_audit_log
    for each row execute function platform_audit_log_advance_head();

-- Added and read, never changed or removed, by the application.
grant select, insert on platform_audit_log to codebook_app;
grant select on platform_audit_head to codebook_app;
