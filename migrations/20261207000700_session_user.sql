-- The user of a live session, found by its token's hash: what every
-- request that carries a session cookie asks first. The application role
-- cannot read the hashes (`definers_need_proof`); `session_caller` answers
-- this too, but also reads every membership, which a page needs and a
-- server function's request does not.
create function session_user_by_token(p_token_hash bytea)
returns table (
    session_id uuid,
    user_id uuid,
    name text,
    email text,
    is_platform_admin boolean,
    current_organization_id uuid,
    last_seen_at timestamptz
)
-- plpgsql, as `session_caller`: its plan is kept per connection.
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
    return query
    select s.id, u.id, u.name, u.email, u.is_platform_admin,
           s.current_organization_id, s.last_seen_at
    from sessions s
    join users u on u.id = s.user_id
    where s.token_hash = p_token_hash
      and s.revoked_at is null
      and s.expires_at > now();
end
$$;

revoke all on function session_user_by_token(bytea) from public;
grant execute on function session_user_by_token(bytea) to codebook_app;
