-- Live changes for open pages: every statement that writes outbox events
-- tells the listening app processes (NOTIFY, delivered at commit, never
-- for a rolled-back change) which organization changed and how. One
-- notification per organization per statement, so an import of 74k codes
-- is one notification, not 74k.

-- The order a reconnecting page replays events in (`Last-Event-ID`).
alter table outbox add column live_seq bigint generated always as identity;
create index outbox_live_seq_idx on outbox (organization_id, live_seq);

-- A definer, as it names the person who made the change (from users,
-- which the app role may not read freely); it runs only as the trigger.
create function outbox_notify_live() returns trigger
language plpgsql security definer set search_path = pg_catalog, public, pg_temp as $$
declare
    batch record;
    author text;
begin
    select u.name into author
    from users u
    where u.id = nullif(current_setting('app.user_id', true), '')::uuid;
    for batch in
        select organization_id,
               count(*) as events,
               max(live_seq) as seq,
               min(event_type) as event_type,
               min(payload -> 'data' ->> 'id') as resource_id,
               min(payload -> 'data' ->> 'version') as version
        from inserted
        group by organization_id
    loop
        perform pg_notify('codebook_live', json_build_object(
            'org', batch.organization_id,
            'seq', batch.seq,
            'count', batch.events,
            'event_type', case when batch.events = 1 then batch.event_type end,
            'code_id', case when batch.events = 1 and batch.event_type like 'code.%'
                            then batch.resource_id end,
            'version', case when batch.events = 1 and batch.version ~ '^[0-9]{1,9}$'
                            then batch.version::int end,
            'by', author
        )::text);
    end loop;
    return null;
end $$;
revoke execute on function outbox_notify_live() from public;

create trigger outbox_live after insert on outbox
    referencing new table as inserted
    for each statement execute function outbox_notify_live();
