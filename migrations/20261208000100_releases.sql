-- Releases: named, immutable snapshots of an organization's catalogue. A
-- release does not copy codes: it maps each code that was live when it was
-- cut to the version it had then (versions are never changed or deleted, so
-- a code deleted later still shows its released version).

create table releases (
    organization_id uuid not null references organizations (id) on delete cascade,
    id uuid not null,
    -- Safe in a URL path as it is: `2026.2`, `fy2024-final`.
    name text not null check (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    description text not null default '' check (length(description) <= 2000),
    code_count integer not null check (code_count >= 0),
    -- The snapshot the release was read in: which transactions it saw.
    snapshot pg_snapshot not null,
    created_at timestamptz not null default now(),
    created_by_kind actor_kind not null,
    created_by uuid,
    primary key (organization_id, id),
    constraint releases_org_name_key unique (organization_id, name)
);
create index releases_org_created_idx on releases (organization_id, created_at desc, id);

alter table releases enable row level security;
alter table releases force row level security;
create policy releases_tenant on releases
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());

-- The versions a release holds, one row per code, keyed by the code's sort
-- key at the time so a release pages and prefix-searches in code order
-- like the live list.
create table release_codes (
    organization_id uuid not null,
    release_id uuid not null,
    code_key text collate "C" not null,
    code_id uuid not null,
    version integer not null,
    primary key (organization_id, release_id, code_key),
    foreign key (organization_id, release_id)
        references releases (organization_id, id) on delete cascade,
    foreign key (organization_id, code_id, version)
        references code_versions (organization_id, code_id, version)
);
create index release_codes_code_idx on release_codes (organization_id, release_id, code_id);

alter table release_codes enable row level security;
alter table release_codes force row level security;
create policy release_codes_tenant on release_codes
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());

-- Never updated: a release is immutable. Deleting one (admins, audited)
-- takes its rows with it.
grant select, insert, delete on releases to codebook_app;
grant select, insert on release_codes to codebook_app;
