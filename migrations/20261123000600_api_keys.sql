-- API keys: owned by the organization (they outlive the member who made
-- them), stored as a hash only. A tenant table like any other; the one
-- statement that must find a key before its organization is known (a
-- request presenting it) is the SECURITY DEFINER function below.
create table api_keys (
    organization_id uuid not null references organizations (id) on delete cascade,
    id uuid not null,
    name text not null check (length(name) between 1 and 100),
    -- `cb_live_` and the first characters of the random part: what lists
    -- show and what a person matches a leaked key against.
    prefix text not null,
    -- SHA-256 of the whole key. The key carries ~178 random bits, so a slow
    -- password hash would add nothing but latency to every request.
    key_hash bytea not null check (length(key_hash) = 32),
    scopes text[] not null check (cardinality(scopes) > 0),
    rate_limit_per_minute integer not null check (rate_limit_per_minute between 1 and 100000),
    created_by uuid references users (id) on delete set null,
    created_at timestamptz not null default now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    -- Set by a rotation: the key that replaced this one (which then stays
    -- valid only until its new `expires_at`, the grace period).
    replaced_by uuid,
    last_used_at timestamptz,
    last_used_ip inet,
    request_count bigint not null default 0,
    -- The current one-minute rate-limit window.
    window_started timestamptz,
    window_hits integer not null default 0,
    primary key (organization_id, id)
);
create unique index api_keys_id_idx on api_keys (id);
create unique index api_keys_hash_idx on api_keys (key_hash);

alter table api_keys enable row level security;
alter table api_keys force row level security;
create policy api_keys_tenant on api_keys
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());

grant select on api_keys to codebook_app;
grant insert (organization_id, id, name, prefix, key_hash, scopes, rate_limit_per_minute,
              created_by, expires_at)
    on api_keys to codebook_app;
grant update (expires_at, revoked_at, replaced_by) on api_keys to codebook_app;

-- A request presents a key: if the key is live (not revoked, not expired)
-- and its organization exists, count the request (usage and the rate-limit
-- window, in one statement so parallel requests cannot undercount) and
-- return what the request may do. Nothing is returned for an unknown,
-- revoked or expired key.
create function api_key_authenticate(p_hash bytea, p_ip inet)
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
    language sql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
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
              k.rate_limit_per_minute, k.window_hits, k.window_started + interval '1 minute'
    $$;
revoke all on function api_key_authenticate(bytea, inet) from public;
grant execute on function api_key_authenticate(bytea, inet) to codebook_app;
