-- The delivery worker's own role.
--
-- `webhook_claim`, `webhook_record` and `webhook_prune` work across every
-- organization and check no caller: whoever may call them can lease,
-- record or delete any organization's deliveries. They were the
-- application role's, so SQL run through a request could call them. Now
-- only `codebook_worker` may: the role the delivery workers log in as (in
-- `server worker`, and in `serve` on a pool of its own that no request
-- uses). It holds the application role's rights too, as its jobs write
-- what requests write (audit entries, mail jobs).

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'codebook_worker') then
        create role codebook_worker login nosuperuser nocreatedb nocreaterole nobypassrls;
    end if;
exception
    -- Two databases migrating at once in one cluster (parallel tests) may race.
    when duplicate_object or unique_violation then null;
end
$$;

grant codebook_app to codebook_worker;

revoke execute on function webhook_claim(timestamptz, integer, uuid[], integer[], double precision)
    from codebook_app;
revoke execute on function webhook_record(jsonb) from codebook_app;
revoke execute on function webhook_prune(timestamptz, integer) from codebook_app;
grant execute on function webhook_claim(timestamptz, integer, uuid[], integer[], double precision)
    to codebook_worker;
grant execute on function webhook_record(jsonb) to codebook_worker;
grant execute on function webhook_prune(timestamptz, integer) to codebook_worker;

-- A test send is made by a request, not a worker: it records its one
-- attempt here, for a test delivery of the organization the transaction
-- works in only.
create function webhook_record_test_send(p_attempt jsonb) returns void
    language plpgsql
    security definer
    set search_path = pg_catalog, public, pg_temp
    as $$
begin
    if not exists (
        select 1 from webhook_deliveries d
         where d.organization_id = app_current_org()
           and d.organization_id = (p_attempt ->> 'organization_id')::uuid
           and d.id = (p_attempt ->> 'delivery_id')::uuid
           and d.event_type = 'webhook.test'
    ) then
        raise exception 'not a test delivery of this organization'
            using errcode = 'insufficient_privilege';
    end if;
    perform webhook_record(jsonb_build_array(p_attempt));
end
$$;
revoke all on function webhook_record_test_send(jsonb) from public;
grant execute on function webhook_record_test_send(jsonb) to codebook_app;
