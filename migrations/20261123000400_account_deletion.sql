-- A user deletes their own account (the caller has checked their
-- password). Refused while they are the last owner of an organization:
-- the names of those organizations are returned and nothing is deleted.
-- Their memberships and sessions go with them; what they wrote (versions,
-- comments, audit entries) stays, no longer linked to an account.
create function delete_own_account() returns setof text
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
declare
    v_user uuid := app_current_user();
begin
    if v_user is null then
        raise exception 'no user is signed in' using errcode = 'insufficient_privilege';
    end if;
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
revoke all on function delete_own_account() from public;
grant execute on function delete_own_account() to codebook_app;
