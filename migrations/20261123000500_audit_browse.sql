-- Browsing the audit log, and the platform's security events.
--
-- 1. Indexes for the audit log's filters. The list is newest first by
--    `seq`, fifty at a time, so each filter gets an index that leads with
--    the organization, then the filtered value, then `seq`: the page is the
--    first rows of one backward index scan, however many entries match or
--    do not. Measured (EXPLAIN ANALYZE as the application role, row-level
--    security on) on 1.25M entries, 300,000 in one organization: every
--    filter alone or combined with another answers in under 4 ms, and a
--    filter matching nothing in well under 1 ms (without these indexes:
--    a 190-230 ms scan of the whole organization).
--
--    `actor_kind` and `outcome` are enums, whose `=` is not leakproof:
--    under row-level security PostgreSQL will not use them as index
--    conditions. A partial index per rare value works (the planner proves
--    the index predicate from the query instead); the common values (a
--    user, a success) are found quickly by the primary key.
--
--    On a large existing audit_log, build these first with
--    `create index concurrently if not exists ...` (same names): a plain
--    build blocks every audited write while it runs, and `if not exists`
--    then skips them here.
--
-- 2. `security_events`: what happens before anyone is known to belong to
--    an organization (a log-in attempt with an email that has no account),
--    so no organization's chain can hold it. Platform-level, not tenant
--    data: the application adds events and only a platform admin (by
--    app.user_id) can read them; nobody but the retention prune, a definer
--    function, removes any.

create index if not exists audit_log_action_idx
    on audit_log (organization_id, action, seq);
create index if not exists audit_log_actor_idx
    on audit_log (organization_id, actor_id, seq) where actor_id is not null;
create index if not exists audit_log_api_key_actor_idx
    on audit_log (organization_id, seq) where actor_kind = 'api_key';
create index if not exists audit_log_system_actor_idx
    on audit_log (organization_id, seq) where actor_kind = 'system';
create index if not exists audit_log_anonymous_actor_idx
    on audit_log (organization_id, seq) where actor_kind = 'anonymous';
create index if not exists audit_log_resource_idx
    on audit_log (organization_id, resource_id, seq) where resource_id is not null;
create index if not exists audit_log_resource_type_idx
    on audit_log (organization_id, resource_type, seq);
create index if not exists audit_log_failure_idx
    on audit_log (organization_id, seq) where outcome = 'failure';

create table security_events (
    id bigint generated always as identity primary key,
    -- The database's clock, not the caller's.
    occurred_at timestamptz not null default now(),
    kind text not null check (kind ~ '^[a-z_]+\.[a-z_]+$' and length(kind) <= 100),
    -- As typed (trimmed, lower-cased), cut to the longest an email can be.
    email text check (length(email) <= 254),
    ip inet,
    user_agent text check (length(user_agent) <= 512),
    request_id text check (length(request_id) <= 64)
);
create index security_events_occurred_at_idx on security_events (occurred_at);

-- Enabled, not forced: the owner (migrations, the prune below) is exempt,
-- the application role is not.
alter table security_events enable row level security;
create policy security_events_add on security_events for insert
    with check (true);
create policy security_events_platform_admins on security_events for select
    using (exists (select 1 from users u where u.id = app_current_user() and u.is_platform_admin));

-- Added and read, never changed or removed, by the application.
grant select on security_events to codebook_app;
grant insert (kind, email, ip, user_agent, request_id) on security_events to codebook_app;

-- Retention: forgets events older than 90 days, the oldest first, at most
-- p_batch per call; returns how many it removed. The cut-off is the
-- database's own clock, so no caller can make it remove recent events.
create function security_events_prune(p_batch integer) returns integer
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
declare
    v_removed integer;
begin
    delete from security_events
     where id in (select id from security_events
                   where occurred_at < now() - interval '90 days'
                   order by occurred_at
                   limit greatest(p_batch, 0));
    get diagnostics v_removed = row_count;
    return v_removed;
end
$$;
revoke all on function security_events_prune(integer) from public;
grant execute on function security_events_prune(integer) to codebook_app;
