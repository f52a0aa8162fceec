-- Webhooks as a small receiver sees them: each endpoint says how many
-- requests it takes at once, and an attempt is on the delivery log from the
-- moment it is claimed, so one cut off by a dying worker is not lost.

-- Requests a worker keeps going to the endpoint at once. A receiver with a
-- short listen queue drops the connections beyond it; they time out and
-- are sent again.
alter table webhook_endpoints
    add column max_in_flight integer not null default 4 check (max_in_flight between 1 and 32);
grant insert (max_in_flight) on webhook_endpoints to codebook_app;
grant update (max_in_flight) on webhook_endpoints to codebook_app;

-- An attempt is 'sending' from its claim until its worker records the
-- answer; 'interrupted' when its worker's lease ran out and the delivery
-- was claimed again (the worker died, or never came back in time).
create type webhook_attempt_outcome as enum ('sending', 'succeeded', 'failed', 'interrupted');
alter table webhook_attempts
    add column outcome webhook_attempt_outcome not null default 'failed',
    -- The fencing token of the claim that made it.
    add column lease bigint;
update webhook_attempts set outcome = 'succeeded' where succeeded;
alter table webhook_attempts
    alter column outcome drop default,
    add constraint webhook_attempts_succeeded_outcome check (succeeded = (outcome = 'succeeded'));
-- Disabling an endpoint skips the deliveries no worker holds; an attempt
-- of theirs still 'sending' is interrupted then.
grant update (outcome, error) on webhook_attempts to codebook_app;

drop function webhook_claim(timestamptz, integer, integer, uuid[]);

-- A worker's claim: up to p_limit due deliveries of enabled endpoints,
-- round-robin across endpoints (every endpoint's oldest first, then every
-- endpoint's second…), taking from each endpoint no more than its
-- max_in_flight less what this worker already has in flight to it
-- (p_busy, with the counts in p_busy_counts). So one organization's
-- backlog or one slow receiver cannot hold back another's next event, and
-- no receiver gets more requests at once from a worker than it takes.
-- Each claimed delivery is leased until its timeout and p_lease_margin
-- (seconds) have run out, gets a new fencing token, and its attempt goes
-- on the log as 'sending' before a byte is sent; an earlier attempt still
-- 'sending' (its worker's lease ran out) becomes 'interrupted'. Granted to
-- the application role only; it reads nothing a person sees.
create function webhook_claim(
    p_now timestamptz, p_limit integer, p_busy uuid[], p_busy_counts integer[],
    p_lease_margin double precision
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
    in_flight as (
        select f.endpoint_id, sum(f.n)::integer as n
        from unnest(p_busy, p_busy_counts) as f (endpoint_id, n)
        group by f.endpoint_id
    ),
    candidates as (
        select c.organization_id, c.id, c.rank, c.next_attempt_at, ep.timeout_seconds
        from busy b
        join webhook_endpoints ep on ep.id = b.endpoint_id and ep.enabled
        left join in_flight f on f.endpoint_id = b.endpoint_id
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
                limit greatest(ep.max_in_flight - coalesce(f.n, 0), 0)
                for update skip locked
            ) d
        ) c
        where b.endpoint_id is not null
          and ep.max_in_flight > coalesce(f.n, 0)
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
               locked_until = p_now + make_interval(secs => c.timeout_seconds + p_lease_margin),
               updated_at = p_now
          -- By primary key only: joining the endpoints here let the planner,
          -- on statistics lagging a fast-growing table, look deliveries up
          -- by organization (225 ms for 32 rows in the benchmark).
          from chosen c
         where d.organization_id = c.organization_id and d.id = c.id
        returning d.organization_id, d.id, d.endpoint_id, d.event_id, d.event_type, d.lease,
                  d.attempts, d.tries
    ),
    interrupted as (
        update webhook_attempts a
           set outcome = 'interrupted',
               error = 'The worker sending it stopped before it recorded the answer.'
          from claimed cl
         where a.organization_id = cl.organization_id and a.delivery_id = cl.id
           and a.outcome = 'sending'
        returning a.delivery_id
    ),
    sending as (
        insert into webhook_attempts
            (organization_id, delivery_id, attempt, endpoint_id, started_at, duration_ms,
             request_headers, succeeded, outcome, lease)
        select cl.organization_id, cl.id, cl.attempts, cl.endpoint_id, p_now, 0, '[]'::jsonb,
               false, 'sending', cl.lease
        from claimed cl
        returning webhook_attempts.delivery_id
    )
    select cl.organization_id, cl.id, cl.endpoint_id, cl.event_id, cl.event_type, cl.lease,
           cl.attempts, cl.tries, ep.url, ep.timeout_seconds, ep.max_retries, ep.secret,
           ep.previous_secret, ep.previous_secret_expires_at, o.payload, o.created_at
    from claimed cl
    join webhook_endpoints ep on ep.organization_id = cl.organization_id and ep.id = cl.endpoint_id
    join outbox o on o.organization_id = cl.organization_id and o.id = cl.event_id;
end
$$;
revoke all on function webhook_claim(timestamptz, integer, uuid[], integer[], double precision)
    from public;
grant execute on function webhook_claim(timestamptz, integer, uuid[], integer[], double precision)
    to codebook_app;

-- Records finished attempts (a JSON array, one object per attempt) and
-- moves their deliveries on. The attempt's row, put on the log as
-- 'sending' by its claim, gets the answer; a test send, which no claim
-- made, gets its row here. An attempt whose worker no longer holds the
-- lease (it ran out and another worker claimed the delivery) is dropped:
-- the fencing token no longer matches, and its row stays 'interrupted'.
-- Returns, per endpoint, whether its newest recorded attempt failed and
-- since when it has been failing.
create or replace function webhook_record(p_attempts jsonb) returns table (
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
        insert into webhook_attempts as a
            (organization_id, delivery_id, attempt, endpoint_id, started_at, duration_ms,
             status_code, response_body, error, request_headers, succeeded, outcome, lease)
        select r.organization_id, r.delivery_id, r.attempt, m.endpoint_id, r.started_at,
               r.duration_ms, r.status_code, r.response_body, r.error, r.request_headers,
               r.outcome = 'succeeded',
               (case when r.outcome = 'succeeded' then 'succeeded' else 'failed' end)::webhook_attempt_outcome,
               r.lease
        from r join moved m on m.organization_id = r.organization_id and m.id = r.delivery_id
        on conflict (organization_id, delivery_id, attempt) do update
           set started_at = excluded.started_at,
               duration_ms = excluded.duration_ms,
               status_code = excluded.status_code,
               response_body = excluded.response_body,
               error = excluded.error,
               request_headers = excluded.request_headers,
               succeeded = excluded.succeeded,
               outcome = excluded.outcome
        returning a.organization_id, a.delivery_id, a.endpoint_id, a.started_at, a.succeeded
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
