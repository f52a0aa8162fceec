-- The last-owner rule under concurrency.
--
-- The trigger of 20261122000001 counted the remaining owners under READ
-- COMMITTED: two transactions each removing or demoting a different owner
-- both saw the other owner still there, and both committed, leaving none.
-- Now the trigger first takes a lock on the organization's row, so changes
-- to one organization's owners queue up; the count runs after the lock is
-- granted, in a fresh snapshot that sees the other transaction's commit.
-- (FOR NO KEY UPDATE: two of them conflict, but it does not block the
-- key-share locks that inserts into child tables take.)
create or replace function memberships_keep_an_owner() returns trigger
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
begin
    if old.role <> 'owner' then
        return null;
    end if;
    -- Gone already: deleting the organization cascades past this rule.
    perform 1 from organizations where id = old.organization_id for no key update;
    if not found then
        return null;
    end if;
    if not exists (
        select 1 from memberships
        where organization_id = old.organization_id and role = 'owner'
    ) then
        raise exception 'an organization must keep at least one owner'
            using errcode = 'check_violation', constraint = 'memberships_last_owner';
    end if;
    return null;
end
$$;
