-- The platform admins' view across organizations. Tenant tables hide other
-- organizations from the application role, so the counts come from this
-- function, which runs as the owner. It returns only per-organization
-- aggregates; the server calls it for platform admins only.
create function platform_organizations(p_search text, p_limit integer, p_offset integer)
    returns table (
        id uuid, name text, slug text, plan plan_tier, active boolean, created_at timestamptz,
        members bigint, pending_invitations bigint,
        max_members integer, max_codes integer, max_webhooks integer, max_api_keys integer,
        total bigint
    )
    language sql stable
    security definer
    set search_path = pg_catalog, public
    as $$
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
        limit p_limit offset p_offset
    $$;

revoke all on function platform_organizations(text, integer, integer) from public;
grant execute on function platform_organizations(text, integer, integer) to codebook_app;
