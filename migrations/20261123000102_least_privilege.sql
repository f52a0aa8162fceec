-- Least privilege for the application role.
--
-- The application connects as `codebook_app`. Up to here it held every
-- verb on most tables. Now it holds the verbs and columns it uses and no
-- more: it cannot delete users, cannot set a password or the platform-admin
-- flag by a plain UPDATE (passwords go through the definer functions
-- below, the admin flag only through the operator's `server admin grant`,
-- which connects as the owner), cannot move an audit chain's head, cannot
-- create objects in `public` nor temporary tables.

-- A member's own memberships in other organizations are for reading (the
-- switcher); writing is only ever in the current organization.
drop policy memberships_tenant on memberships;
create policy memberships_select on memberships for select
    using (organization_id = app_current_org() or user_id = app_current_user());
create policy memberships_insert on memberships for insert
    with check (organization_id = app_current_org());
create policy memberships_update on memberships for update
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());
create policy memberships_delete on memberships for delete
    using (organization_id = app_current_org());

revoke create on schema public from public;
revoke create on schema public from codebook_app;
do $$
begin
    -- Identifiers cannot be bound; the name comes from the server itself.
    execute format('revoke temporary on database %I from public', current_database());
    execute format('revoke temporary on database %I from codebook_app', current_database());
end
$$;

revoke all on organizations, users, memberships, sessions, audit_log, outbox, invitations,
    login_throttles, password_resets from codebook_app;

grant select, delete on organizations to codebook_app;
grant insert (id, name, slug) on organizations to codebook_app;
grant update (name, slug, plan, active, max_members, max_codes, max_webhooks, max_api_keys)
    on organizations to codebook_app;

-- Sign-up sets is_platform_admin for the first user of a development
-- instance; nothing updates a user's row directly.
grant select on users to codebook_app;
grant insert (id, email, name, password_hash, is_platform_admin) on users to codebook_app;

grant select, delete on memberships to codebook_app;
grant insert (organization_id, user_id, role) on memberships to codebook_app;
grant update (role) on memberships to codebook_app;

grant select on sessions to codebook_app;
grant insert (id, user_id, token_hash, current_organization_id, remember, ip, user_agent, expires_at)
    on sessions to codebook_app;
grant update (last_seen_at, current_organization_id, revoked_at) on sessions to codebook_app;

grant select, insert on audit_log to codebook_app;

grant select on outbox to codebook_app;
grant insert (organization_id, id, event_type, payload) on outbox to codebook_app;
grant update (processed_at) on outbox to codebook_app;

grant select on invitations to codebook_app;
grant insert (organization_id, id, email, role, token_hash, invited_by, expires_at)
    on invitations to codebook_app;
grant update (token_hash, expires_at, revoked_at, accepted_at, accepted_by, mail_error)
    on invitations to codebook_app;

grant select, insert, update, delete on login_throttles to codebook_app;

grant select on password_resets to codebook_app;
grant insert (id, user_id, token_hash, expires_at) on password_resets to codebook_app;
grant update (used_at) on password_resets to codebook_app;

-- Every definer function: a search path that a caller cannot shadow
-- (pg_temp last), and a check of the caller's right inside.
alter function memberships_keep_an_owner() set search_path = pg_catalog, public, pg_temp;
-- Knowing the token (its hash) is the right.
alter function invitation_organization(bytea) set search_path = pg_catalog, public, pg_temp;

-- Only for a platform admin, as named by app.user_id.
create or replace function platform_organizations(p_search text, p_limit integer, p_offset integer)
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
    if not exists (select 1 from users u where u.id = app_current_user() and u.is_platform_admin) then
        raise exception 'only platform administrators may list every organization'
            using errcode = 'insufficient_privilege';
    end if;
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

-- The signed-in user (app.user_id) sets their own password; the caller
-- has checked the current one.
create function set_own_password(p_hash text) returns void
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
begin
    if app_current_user() is null then
        raise exception 'no user is signed in' using errcode = 'insufficient_privilege';
    end if;
    update users set password_hash = p_hash where id = app_current_user();
    if not found then
        raise exception 'no such user' using errcode = 'no_data_found';
    end if;
end
$$;
revoke all on function set_own_password(text) from public;
grant execute on function set_own_password(text) to codebook_app;

-- A live reset link sets its user's password, once: the link is used up
-- in the same statement. Returns the user, or null for a dead link.
create function reset_password_with_token(p_token_hash bytea, p_hash text) returns uuid
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
declare
    v_user uuid;
begin
    update password_resets set used_at = now()
     where token_hash = p_token_hash and used_at is null and expires_at > now()
    returning user_id into v_user;
    if v_user is not null then
        update users set password_hash = p_hash where id = v_user;
    end if;
    return v_user;
end
$$;
revoke all on function reset_password_with_token(bytea, text) from public;
grant execute on function reset_password_with_token(bytea, text) to codebook_app;
