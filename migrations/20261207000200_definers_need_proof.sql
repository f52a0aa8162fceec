-- Defence in depth for what the application role can do by itself.
--
-- `app.user_id` and `app.org_id` are settings the application role sets
-- freely: they scope row-level security to the request's caller so that a
-- bug in one query cannot leak another tenant's rows, but they prove
-- nothing. A definer function that acts *as* someone (sets their password,
-- deletes their account, acts as a platform admin) now takes proof the
-- caller holds instead: the SHA-256 of their session token. The
-- application role can no longer read those hashes, so SQL run as that role
-- cannot act as another person without that person's token.

-- The user of the live session whose token has this hash; refused when
-- there is none. Only ever called by the definer functions below.
create function proven_user(p_token_hash bytea) returns uuid
    language plpgsql stable
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
declare
    v_user uuid;
begin
    select s.user_id into v_user
      from sessions s
     where s.token_hash = p_token_hash
       and s.revoked_at is null
       and s.expires_at > now();
    if v_user is null then
        raise exception 'no live session holds this token'
            using errcode = 'insufficient_privilege';
    end if;
    return v_user;
end
$$;
revoke all on function proven_user(bytea) from public;

-- The proven user, who must be a platform admin.
create function proven_platform_admin(p_token_hash bytea) returns uuid
    language plpgsql stable
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
declare
    v_user uuid := proven_user(p_token_hash);
begin
    if not exists (select 1 from users u where u.id = v_user and u.is_platform_admin) then
        raise exception 'only platform administrators may do this'
            using errcode = 'insufficient_privilege';
    end if;
    return v_user;
end
$$;
revoke all on function proven_platform_admin(bytea) from public;

-- Session tokens' hashes are for the definer functions to match, not for
-- the application role to read: it finds a session by its token through
-- `session_caller`.
revoke select on sessions from codebook_app;
grant select (id, user_id, current_organization_id, remember, ip, user_agent, created_at,
              last_seen_at, expires_at, revoked_at)
    on sessions to codebook_app;

drop function set_own_password(text);
create function set_own_password(p_token_hash bytea, p_hash text) returns void
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
begin
    update users set password_hash = p_hash where id = proven_user(p_token_hash);
    if not found then
        raise exception 'no such user' using errcode = 'no_data_found';
    end if;
end
$$;
revoke all on function set_own_password(bytea, text) from public;
grant execute on function set_own_password(bytea, text) to codebook_app;

-- As before, with the user proven: refused while they are the last owner
-- of an organization (those are returned and nothing is deleted).
drop function delete_own_account();
create function delete_own_account(p_token_hash bytea) returns setof text
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
declare
    v_user uuid := proven_user(p_token_hash);
begin
    -- The organizations it owns, locked in one order (as the last-owner
    -- trigger locks them), so two co-owners deleting their accounts at once
    -- queue up instead of deadlocking, and the check below sees the first
    -- one's commit.
    perform 1 from organizations
     where id in (select organization_id from memberships
                   where user_id = v_user and role = 'owner')
     order by id
       for no key update;
    return query
        select o.name from memberships m
        join organizations o on o.id = m.organization_id
        where m.user_id = v_user and m.role = 'owner'
          and not exists (
              select 1 from memberships other
              where other.organization_id = m.organization_id
                and other.role = 'owner' and other.user_id <> v_user)
        order by o.name;
    if found then
        return;
    end if;
    -- A co-owner leaving at this very moment is caught by the
    -- memberships_last_owner trigger as the memberships are deleted.
    delete from users where id = v_user;
end
$$;
revoke all on function delete_own_account(bytea) from public;
grant execute on function delete_own_account(bytea) to codebook_app;

drop function platform_organizations(text, integer, integer);
create function platform_organizations(
    p_token_hash bytea, p_search text, p_limit integer, p_offset integer
)
    returns table (
        id uuid, name text, slug text, plan plan_tier, active boolean, created_at timestamptz,
        members bigint, pending_invitations bigint,
        max_members integer, max_codes integer, max_webhooks integer, max_api_keys integer,
        total bigint
    )
    language plpgsql stable
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
begin
    perform proven_platform_admin(p_token_hash);
    return query
        select o.id, o.name, o.slug, o.plan, o.active, o.created_at,
               (select count(*) from memberships m where m.organization_id = o.id),
               (select count(*) from invitations i
                 where i.organization_id = o.id and i.accepted_at is null
                   and i.revoked_at is null and i.expires_at > now()),
               o.max_members, o.max_codes, o.max_webhooks, o.max_api_keys,
               count(*) over ()
        from organizations o
        where p_search = '' or o.name ilike '%' || p_search || '%' or o.slug ilike '%' || p_search || '%'
        order by o.created_at desc, o.id
        limit p_limit offset p_offset;
end
$$;
revoke all on function platform_organizations(bytea, text, integer, integer) from public;
grant execute on function platform_organizations(bytea, text, integer, integer) to codebook_app;

-- Organizations: each caller sees the organization it works in and those
-- it is a member of; it changes only the one it works in, and never its
-- plan, limits or active flag (the platform functions below do that, for
-- a proven platform admin). Not forced on the owner: the definer
-- functions, which run as the owner, read across organizations on purpose.
alter table organizations enable row level security;
create policy organizations_select on organizations for select
    using (id = app_current_org()
           or id in (select m.organization_id from memberships m
                      where m.user_id = app_current_user()));
create policy organizations_insert on organizations for insert
    with check (id = app_current_org());
create policy organizations_update on organizations for update
    using (id = app_current_org())
    with check (id = app_current_org());
create policy organizations_delete on organizations for delete
    using (id = app_current_org());

revoke update on organizations from codebook_app;
grant update (name, slug, code_count) on organizations to codebook_app;

-- The command line and benchmarks name an organization by its slug
-- before they work in it.
create function organization_by_slug(p_slug text) returns table (id uuid, name text)
    language sql stable
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$ select o.id, o.name from organizations o where o.slug = p_slug $$;
revoke all on function organization_by_slug(text) from public;
grant execute on function organization_by_slug(text) to codebook_app;

-- A platform admin's changes to an organization; false when there is no
-- such organization.
create function platform_set_organization_active(
    p_token_hash bytea, p_org uuid, p_active boolean
) returns boolean
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
begin
    perform proven_platform_admin(p_token_hash);
    update organizations set active = p_active where id = p_org;
    return found;
end
$$;

create function platform_set_organization_plan(
    p_token_hash bytea, p_org uuid, p_plan plan_tier
) returns boolean
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
begin
    perform proven_platform_admin(p_token_hash);
    update organizations set plan = p_plan where id = p_org;
    return found;
end
$$;

create function platform_set_organization_limits(
    p_token_hash bytea, p_org uuid,
    p_max_members integer, p_max_codes integer, p_max_webhooks integer, p_max_api_keys integer
) returns boolean
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
begin
    perform proven_platform_admin(p_token_hash);
    update organizations
       set max_members = p_max_members, max_codes = p_max_codes,
           max_webhooks = p_max_webhooks, max_api_keys = p_max_api_keys
     where id = p_org;
    return found;
end
$$;

revoke all on function platform_set_organization_active(bytea, uuid, boolean) from public;
revoke all on function platform_set_organization_plan(bytea, uuid, plan_tier) from public;
revoke all on function platform_set_organization_limits(bytea, uuid, integer, integer, integer, integer)
    from public;
grant execute on function platform_set_organization_active(bytea, uuid, boolean) to codebook_app;
grant execute on function platform_set_organization_plan(bytea, uuid, plan_tier) to codebook_app;
grant execute on function platform_set_organization_limits(bytea, uuid, integer, integer, integer, integer)
    to codebook_app;
