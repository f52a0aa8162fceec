-- A page's caller in one statement: the user behind a live session and
-- their memberships (for the page's organization and the switcher).
--
-- Memberships are readable by the application role only with `app.user_id`
-- set (row-level security), which needs the user, which needs the session:
-- a page paid a query, then a transaction of its own, before its data. This
-- function reads both from the session token's hash, so it can only ever
-- answer with the memberships of whoever holds the token. One row per
-- membership, by organization name; one row with no organization for a
-- user without any; no row for a token that is unknown, revoked or expired.
create function session_caller(p_token_hash bytea)
returns table (
    session_id uuid,
    user_id uuid,
    name text,
    email text,
    is_platform_admin boolean,
    current_organization_id uuid,
    last_seen_at timestamptz,
    organization_id uuid,
    organization_name text,
    organization_slug text,
    role member_role,
    organization_active boolean,
    joined_at timestamptz
)
-- plpgsql, not sql: a definer function is never inlined, and a sql one
-- would plan its query on every call; plpgsql keeps the plan per
-- connection (as api_key_authenticate learned).
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
    return query
    select s.id, u.id, u.name, u.email, u.is_platform_admin,
           s.current_organization_id, s.last_seen_at,
           o.id, o.name, o.slug, m.role, o.active, m.created_at
    from sessions s
    join users u on u.id = s.user_id
    left join memberships m on m.user_id = u.id
    left join organizations o on o.id = m.organization_id
    where s.token_hash = p_token_hash
      and s.revoked_at is null
      and s.expires_at > now()
    order by lower(o.name), o.slug;
end
$$;

revoke all on function session_caller(bytea) from public;
grant execute on function session_caller(bytea) to codebook_app;
