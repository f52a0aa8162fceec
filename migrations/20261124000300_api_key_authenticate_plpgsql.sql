-- The same function in PL/pgSQL: a SQL-language function with an UPDATE is
-- planned anew on every call (its plans live only as long as the calling
-- query), and every REST request through a key calls it once. PL/pgSQL
-- keeps its plans for the connection's life.
create or replace function api_key_authenticate(p_hash bytea, p_ip inet)
    returns table (
        organization_id uuid,
        id uuid,
        name text,
        scopes text[],
        organization_name text,
        organization_slug text,
        organization_active boolean,
        rate_limit_per_minute integer,
        window_hits integer,
        window_resets_at timestamptz
    )
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
#variable_conflict use_column
begin
    return query
    update api_keys k set
        last_used_at = now(),
        last_used_ip = p_ip,
        request_count = k.request_count + 1,
        window_hits = case
            when k.window_started is null or k.window_started <= now() - interval '1 minute'
            then 1 else k.window_hits + 1 end,
        window_started = case
            when k.window_started is null or k.window_started <= now() - interval '1 minute'
            then now() else k.window_started end
    from organizations o
    where k.key_hash = p_hash
      and o.id = k.organization_id
      and k.revoked_at is null
      and (k.expires_at is null or k.expires_at > now())
    returning k.organization_id, k.id, k.name, k.scopes, o.name, o.slug::text, o.active,
              k.rate_limit_per_minute, k.window_hits, k.window_started + interval '1 minute';
end
$$;
