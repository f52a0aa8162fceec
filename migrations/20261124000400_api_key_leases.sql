-- API keys at request rate: a server process takes a *lease* of a key's
-- rate-limit window (a number of requests it may let through) and hands
-- those out from memory, instead of updating the key's row on every
-- request. Every server process updating one hot row per request made
-- requests through one key wait on each other's row locks.
--
-- The window still lives here, so across processes a key never gets more
-- than its limit: leased requests count as used until given back.

-- Takes a lease on the key `p_hash` stands for, if it is live: up to
-- `p_want` requests of its current window (0 when the window is used up;
-- that refused request is still counted, so the first refusal of a window
-- is the one whose `window_hits` is the limit plus one). `p_return`
-- requests of the previous lease, taken in the window that started at
-- `p_return_window`, were not used and are given back if that window is
-- still current. `p_used` requests since the last lease (the refused ones
-- too) are added to the key's usage, from `p_ip` last. Nothing is
-- returned for an unknown, revoked or expired key.
create function api_key_lease(
    p_hash bytea,
    p_want integer,
    p_return integer,
    p_return_window timestamptz,
    p_used bigint,
    p_ip inet
)
    returns table (
        organization_id uuid,
        id uuid,
        name text,
        scopes text[],
        organization_name text,
        organization_slug text,
        organization_active boolean,
        expires_at timestamptz,
        rate_limit_per_minute integer,
        granted integer,
        window_hits integer,
        window_started timestamptz
    )
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
#variable_conflict use_column
declare
    v_key api_keys%rowtype;
    v_started timestamptz;
    v_hits integer;
    v_granted integer;
begin
    select k.* into v_key from api_keys k
    where k.key_hash = p_hash
      and k.revoked_at is null
      and (k.expires_at is null or k.expires_at > now())
    for update;
    if not found then
        return;
    end if;
    if v_key.window_started is null or v_key.window_started <= now() - interval '1 minute' then
        v_started := now();
        v_hits := 0;
    else
        v_started := v_key.window_started;
        v_hits := v_key.window_hits;
        if p_return_window = v_key.window_started then
            v_hits := greatest(v_hits - greatest(p_return, 0), 0);
        end if;
    end if;
    v_granted := least(greatest(p_want, 1), greatest(v_key.rate_limit_per_minute - v_hits, 0));
    v_hits := v_hits + greatest(v_granted, 1);
    update api_keys k set
        last_used_at = now(),
        last_used_ip = coalesce(p_ip, k.last_used_ip),
        request_count = k.request_count + greatest(p_used, 0),
        window_started = v_started,
        window_hits = v_hits
    where k.organization_id = v_key.organization_id and k.id = v_key.id;
    return query
    select v_key.organization_id, v_key.id, v_key.name, v_key.scopes, o.name, o.slug::text,
           o.active, v_key.expires_at, v_key.rate_limit_per_minute, v_granted, v_hits, v_started
    from organizations o
    where o.id = v_key.organization_id;
end
$$;
revoke all on function api_key_lease(bytea, integer, integer, timestamptz, bigint, inet) from public;
grant execute on function api_key_lease(bytea, integer, integer, timestamptz, bigint, inet)
    to codebook_app;

-- Usage counted in memory since the keys' last leases (keys that went
-- quiet), written in one statement: per key hash, the requests and the
-- address and time of the last one.
create function api_key_record_usage(
    p_hashes bytea[],
    p_counts bigint[],
    p_last_at timestamptz[],
    p_ips inet[]
)
    returns void
    language sql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
    update api_keys k set
        request_count = k.request_count + greatest(u.n, 0),
        last_used_at = greatest(k.last_used_at, u.at),
        last_used_ip = case
            when k.last_used_at is null or u.at >= k.last_used_at then coalesce(u.ip, k.last_used_ip)
            else k.last_used_ip end
    from unnest(p_hashes, p_counts, p_last_at, p_ips) as u(hash, n, at, ip)
    where k.key_hash = u.hash
    $$;
revoke all on function api_key_record_usage(bytea[], bigint[], timestamptz[], inet[]) from public;
grant execute on function api_key_record_usage(bytea[], bigint[], timestamptz[], inet[])
    to codebook_app;

drop function api_key_authenticate(bytea, inet);
