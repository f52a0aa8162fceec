-- Webhooks: endpoints, one delivery per event and endpoint, and every
-- attempt of each delivery. All three are tenant tables closed by
-- row-level security. Delivery workers serve every organization, so the
-- few statements that cross organizations (claim, record, prune, queue
-- depths) are SECURITY DEFINER functions below; everything a person does
-- goes through an OrgTx like any other request.

-- How long delivery history (attempts, payloads) is kept.
alter table organizations
    add column webhook_retention_days integer not null default 30
        check (webhook_retention_days between 1 and 365);

create table webhook_endpoints (
    organization_id uuid not null references organizations (id) on delete cascade,
    id uuid not null,
    url text not null check (length(url) between 1 and 2048),
    description text not null default '' check (length(description) <= 500),
    -- Empty: every event type.
    event_types text[] not null default '{}',
    enabled boolean not null default true,
    -- Why it was disabled, when the system did it (410 Gone, days of failures).
    disabled_reason text,
    timeout_seconds integer not null default 15 check (timeout_seconds between 1 and 300),
    max_retries integer not null default 8 check (max_retries between 0 and 10),
    -- The signing secret, sealed with the instance's key (AEAD, bound to
    -- this endpoint): HMAC needs the secret itself, so it cannot be hashed.
    secret bytea not null,
    -- After a rotation the old secret signs too, until it expires.
    previous_secret bytea,
    previous_secret_expires_at timestamptz,
    -- Since when every attempt has failed; null after a success.
    failing_since timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (organization_id, id)
);
create unique index webhook_endpoints_id_idx on webhook_endpoints (id);

alter table webhook_endpoints enable row level security;
alter table webhook_endpoints force row level security;
create policy webhook_endpoints_tenant on webhook_endpoints
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());

create type webhook_delivery_status as enum ('pending', 'retrying', 'succeeded', 'dead', 'skipped');

-- The outbox row is now the event: fanned out to deliveries by the very
-- statement that inserts it (the trigger below), so `processed_at` is the
-- insert time and the pending index has nothing left to find.
alter table outbox alter column processed_at set default now();
update outbox set processed_at = created_at where processed_at is null;
drop index outbox_pending_idx;
create index outbox_created_idx on outbox (created_at);

create table webhook_deliveries (
    organization_id uuid not null,
    id uuid not null,
    endpoint_id uuid not null,
    -- The event: its id is the `webhook-id`, the same on every attempt.
    event_id uuid not null,
    event_type text not null,
    status webhook_delivery_status not null,
    -- Attempts ever made, and attempts since it was last queued (a replay
    -- starts a new round with the endpoint's full retry allowance).
    attempts integer not null default 0 check (attempts >= 0),
    tries integer not null default 0 check (tries >= 0),
    next_attempt_at timestamptz,
    -- A worker's claim: until when it is that worker's, and the fencing
    -- token that worker must show to record its attempt.
    locked_until timestamptz,
    lease bigint not null default 0,
    last_status_code integer,
    last_error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (organization_id, id),
    foreign key (organization_id, endpoint_id)
        references webhook_endpoints (organization_id, id) on delete cascade,
    foreign key (organization_id, event_id)
        references outbox (organization_id, id) on delete cascade
);
-- The claim walks the endpoints that have work, then each one's oldest due
-- deliveries.
create index webhook_deliveries_due_idx on webhook_deliveries (endpoint_id, next_attempt_at)
    where status in ('pending', 'retrying');
-- The delivery log: an endpoint's deliveries, newest first.
create index webhook_deliveries_log_idx
    on webhook_deliveries (organization_id, endpoint_id, created_at desc, id);
create index webhook_deliveries_event_idx on webhook_deliveries (organization_id, event_id);

alter table webhook_deliveries enable row level security;
alter table webhook_deliveries force row level security;
create policy webhook_deliveries_tenant on webhook_deliveries
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());

create table webhook_attempts (
    organization_id uuid not null,
    delivery_id uuid not null,
    attempt integer not null check (attempt > 0),
    endpoint_id uuid not null,
    started_at timestamptz not null,
    duration_ms integer not null check (duration_ms >= 0),
    status_code integer,
    -- The receiver's answer, cut to a few KiB.
    response_body text,
    error text,
    -- The request exactly as sent, but for the body (the event's payload).
    request_headers jsonb not null,
    succeeded boolean not null,
    primary key (organization_id, delivery_id, attempt),
    foreign key (organization_id, delivery_id)
        references webhook_deliveries (organization_id, id) on delete cascade
);
create index webhook_attempts_health_idx on webhook_attempts (organization_id, endpoint_id, started_at desc);
create index webhook_attempts_started_idx on webhook_attempts (started_at);

alter table webhook_attempts enable row level security;
alter table webhook_attempts force row level security;
create policy webhook_attempts_tenant on webhook_attempts
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());

grant select, delete on webhook_endpoints to codebook_app;
grant insert (organization_id, id, url, description, event_types, enabled, timeout_seconds,
              max_retries, secret) on webhook_endpoints to codebook_app;
grant update (url, description, event_types, enabled, disabled_reason, timeout_seconds,
              max_retries, secret, previous_secret, previous_secret_expires_at,
              failing_since, updated_at) on webhook_endpoints to codebook_app;
grant select on webhook_deliveries to codebook_app;
-- A test send inserts its delivery as one attempt already under way.
grant insert (organization_id, id, endpoint_id, event_id, event_type, status, next_attempt_at,
              attempts, tries)
    on webhook_deliveries to codebook_app;
grant update (status, tries, next_attempt_at, updated_at) on webhook_deliveries to codebook_app;
grant select on webhook_attempts to codebook_app;

-- Fan-out: each event inserted into the outbox becomes, in the same
-- statement and transaction, one delivery per subscribed endpoint of its
-- organization (skipped for a disabled one, so a replay can send it
-- later). Runs as the inserting role, under its organization's RLS.
-- `webhook.test` goes to the one endpoint it tests, inserted by the app.
create function webhook_fan_out() returns trigger
    language plpgsql
    set search_path = pg_catalog, public, pg_temp
    as $$
begin
    insert into webhook_deliveries
        (organization_id, id, endpoint_id, event_id, event_type, status, next_attempt_at)
    select e.organization_id, gen_random_uuid(), ep.id, e.id, e.event_type,
           case when ep.enabled then 'pending' else 'skipped' end::webhook_delivery_status,
           case when ep.enabled then e.created_at end
    from new_events e
    join webhook_endpoints ep on ep.organization_id = e.organization_id
    where e.event_type <> 'webhook.test'
      and (cardinality(ep.event_types) = 0 or e.event_type = any (ep.event_types));
    if found then
        -- One notification per transaction, sent at commit.
        perform pg_notify('webhook_deliveries', '');
    end if;
    return null;
end
$$;
create trigger outbox_fan_out after insert on outbox
    referencing new table as new_events
    for each statement execute function webhook_fan_out();

-- A worker's claim: up to p_limit due deliveries of enabled endpoints,
-- taking at most p_per_endpoint from each endpoint and round-robin across
-- endpoints (every endpoint's oldest first, then every endpoint's second…),
-- so one organization's backlog or one slow receiver cannot hold back
-- another's next event. Endpoints in p_saturated (this worker already has
-- enough of theirs in flight) are passed over. Each claimed delivery is
-- leased until its timeout has run out with a margin, and gets a new
-- fencing token. Granted to the application role only; it reads nothing a
-- person sees.
create function webhook_claim(
    p_now timestamptz, p_limit integer, p_per_endpoint integer, p_saturated uuid[]
) returns table (
    organization_id uuid, delivery_id uuid, endpoint_id uuid, event_id uuid, event_type text,
    lease bigint, attempt integer, tries integer, url text, timeout_seconds integer,
    max_retries integer, secret bytea, previous_secret bytea,
    previous_secret_expires_at timestamptz, payload jsonb, event_created_at timestamptz
)
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
#variable_conflict use_column
begin
    return query
    with recursive busy (endpoint_id) as (
        (select d.endpoint_id from webhook_deliveries d
          where d.status in ('pending', 'retrying')
          order by d.endpoint_id limit 1)
        union all
        select (select d.endpoint_id from webhook_deliveries d
                 where d.status in ('pending', 'retrying') and d.endpoint_id > b.endpoint_id
                 order by d.endpoint_id limit 1)
        from busy b
        where b.endpoint_id is not null
    ),
    candidates as (
        select c.organization_id, c.id, c.rank, c.next_attempt_at, ep.timeout_seconds
        from busy b
        join webhook_endpoints ep on ep.id = b.endpoint_id and ep.enabled
        cross join lateral (
            select d.organization_id, d.id, d.next_attempt_at,
                   row_number() over (order by d.next_attempt_at) as rank
            from (
                select d.organization_id, d.id, d.next_attempt_at
                from webhook_deliveries d
                where d.endpoint_id = b.endpoint_id
                  and d.status in ('pending', 'retrying')
                  and d.next_attempt_at <= p_now
                  and (d.locked_until is null or d.locked_until <= p_now)
                order by d.next_attempt_at
                limit p_per_endpoint
                for update skip locked
            ) d
        ) c
        where b.endpoint_id is not null
          and not (b.endpoint_id = any (coalesce(p_saturated, '{}')))
    ),
    chosen as (
        select c.organization_id, c.id, c.timeout_seconds from candidates c
        order by c.rank, c.next_attempt_at
        limit p_limit
    ),
    claimed as (
        update webhook_deliveries d
           set lease = d.lease + 1,
               attempts = d.attempts + 1,
               tries = d.tries + 1,
               locked_until = p_now + make_interval(secs => c.timeout_seconds + 10),
               updated_at = p_now
          -- By primary key only: joining the endpoints here let the planner,
          -- on statistics lagging a fast-growing table, look deliveries up
          -- by organization (225 ms for 32 rows in the benchmark).
          from chosen c
         where d.organization_id = c.organization_id and d.id = c.id
        returning d.organization_id, d.id, d.endpoint_id, d.event_id, d.event_type, d.lease,
                  d.attempts, d.tries
    )
    select cl.organization_id, cl.id, cl.endpoint_id, cl.event_id, cl.event_type, cl.lease,
           cl.attempts, cl.tries, ep.url, ep.timeout_seconds, ep.max_retries, ep.secret,
           ep.previous_secret, ep.previous_secret_expires_at, o.payload, o.created_at
    from claimed cl
    join webhook_endpoints ep on ep.organization_id = cl.organization_id and ep.id = cl.endpoint_id
    join outbox o on o.organization_id = cl.organization_id and o.id = cl.event_id;
end
$$;
revoke all on function webhook_claim(timestamptz, integer, integer, uuid[]) from public;
grant execute on function webhook_claim(timestamptz, integer, integer, uuid[]) to codebook_app;

-- Records finished attempts (a JSON array, one object per attempt) and
-- moves their deliveries on. An attempt whose worker no longer holds the
-- lease (it ran out and another worker claimed the delivery) is dropped:
-- the fencing token no longer matches. Returns, per endpoint, whether its
-- newest recorded attempt failed and since when it has been failing.
create function webhook_record(p_attempts jsonb) returns table (
    organization_id uuid, endpoint_id uuid, failing_since timestamptz, gone boolean
)
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
#variable_conflict use_column
begin
    return query
    with r as (
        select * from jsonb_to_recordset(p_attempts) as x (
            organization_id uuid, delivery_id uuid, lease bigint, attempt integer,
            started_at timestamptz, duration_ms integer, status_code integer,
            response_body text, error text, request_headers jsonb,
            outcome webhook_delivery_status, next_attempt_at timestamptz, gone boolean)
    ),
    moved as (
        update webhook_deliveries d
           set status = r.outcome,
               next_attempt_at = case when r.outcome = 'retrying' then r.next_attempt_at end,
               locked_until = null,
               last_status_code = r.status_code,
               last_error = r.error,
               updated_at = r.started_at + make_interval(secs => r.duration_ms / 1000.0)
          from r
         where d.organization_id = r.organization_id and d.id = r.delivery_id
           and d.lease = r.lease
        returning d.organization_id, d.id, d.endpoint_id
    ),
    kept as (
        insert into webhook_attempts
            (organization_id, delivery_id, attempt, endpoint_id, started_at, duration_ms,
             status_code, response_body, error, request_headers, succeeded)
        select r.organization_id, r.delivery_id, r.attempt, m.endpoint_id, r.started_at,
               r.duration_ms, r.status_code, r.response_body, r.error, r.request_headers,
               r.outcome = 'succeeded'
        from r join moved m on m.organization_id = r.organization_id and m.id = r.delivery_id
        returning webhook_attempts.organization_id, webhook_attempts.delivery_id,
                  webhook_attempts.endpoint_id, webhook_attempts.started_at,
                  webhook_attempts.succeeded
    ),
    newest as (
        select k.organization_id, k.endpoint_id,
               (array_agg(k.succeeded order by k.started_at desc))[1] as succeeded,
               min(k.started_at) filter (where not k.succeeded) as first_failure,
               bool_or(coalesce(rr.gone, false)) as gone
        from kept k
        join r rr on rr.organization_id = k.organization_id and rr.delivery_id = k.delivery_id
        group by k.organization_id, k.endpoint_id
    ),
    health as (
        update webhook_endpoints ep
           set failing_since = case when n.succeeded then null
                                    else coalesce(ep.failing_since, n.first_failure) end
          from newest n
         where ep.organization_id = n.organization_id and ep.id = n.endpoint_id
        returning ep.organization_id, ep.id, ep.failing_since, n.gone
    )
    select h.organization_id, h.id, h.failing_since, coalesce(h.gone, false) from health h;
end
$$;
revoke all on function webhook_record(jsonb) from public;
grant execute on function webhook_record(jsonb) to codebook_app;

-- Forgets delivery history older than each organization's retention, at
-- most p_batch events (with their deliveries and attempts) per call so no
-- call holds locks for long; returns how many events it removed. Events
-- with a delivery still to be made are kept whatever their age.
create function webhook_prune(p_now timestamptz, p_batch integer) returns integer
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
declare
    v_removed integer;
begin
    with old as (
        select o.organization_id, o.id
        from outbox o
        join organizations org on org.id = o.organization_id
        where o.created_at < p_now - make_interval(days => org.webhook_retention_days)
          and not exists (
              select 1 from webhook_deliveries d
              where d.organization_id = o.organization_id and d.event_id = o.id
                and d.status in ('pending', 'retrying'))
        order by o.created_at
        limit p_batch
        for update of o skip locked
    )
    delete from outbox o using old
     where o.organization_id = old.organization_id and o.id = old.id;
    get diagnostics v_removed = row_count;
    return v_removed;
end
$$;
revoke all on function webhook_prune(timestamptz, integer) from public;
grant execute on function webhook_prune(timestamptz, integer) to codebook_app;

-- Queue depths for /metrics: deliveries due now, deliveries waiting for a
-- retry, jobs due.
create function webhook_queue_depths(p_now timestamptz) returns table (queue text, depth bigint)
    language sql
    stable
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
    select 'outbox', count(*) from outbox where processed_at is null
    union all
    select 'webhook_deliveries_due', count(*) from webhook_deliveries
     where status in ('pending', 'retrying') and next_attempt_at <= p_now
    union all
    select 'webhook_deliveries_retrying', count(*) from webhook_deliveries
     where status = 'retrying' and next_attempt_at > p_now
    union all
    select 'jobs_due', count(*) from jobs
     where done_at is null and failed_at is null and run_at <= p_now
$$;
revoke all on function webhook_queue_depths(timestamptz) from public;
grant execute on function webhook_queue_depths(timestamptz) to codebook_app;

-- Finished jobs are kept a while for diagnosis, then removed.
grant delete on jobs to codebook_app;
