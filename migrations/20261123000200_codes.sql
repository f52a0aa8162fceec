-- Diagnostic codes under version control: the codes themselves, every
-- version of each, and comments on versions. All three are tenant tables
-- keyed by (organization_id, …) and closed by row-level security.

create type code_severity as enum ('low', 'medium', 'high', 'critical');
create type code_change as enum ('create', 'update', 'delete', 'restore');

-- The number of live (not deleted) codes of each organization, kept in step
-- by the same transaction that creates, deletes or restores a code, so the
-- plan's limit is checked against one row instead of a count of 100,000.
alter table organizations
    add column code_count integer not null default 0 check (code_count >= 0);

create table codes (
    organization_id uuid not null references organizations (id) on delete cascade,
    id uuid not null,
    -- As typed (trimmed); unique per organization whatever its case.
    code text not null check (code = btrim(code) and length(code) between 1 and 32),
    -- The sort and prefix-search key: upper case, byte order (ICD order).
    code_key text collate "C" generated always as (upper(code)) stored,
    description text not null check (length(description) between 1 and 1000),
    category text not null default '' check (length(category) <= 200),
    severity code_severity not null,
    active boolean not null default true,
    -- The number of the newest version; every change adds exactly one.
    version integer not null check (version > 0),
    created_at timestamptz not null default now(),
    created_by_kind actor_kind not null,
    created_by uuid,
    updated_at timestamptz not null default now(),
    updated_by_kind actor_kind not null,
    updated_by uuid,
    -- Soft delete: the code and its history stay, and can be restored.
    deleted_at timestamptz,
    -- Words of the description for search; 'simple' keeps every word as
    -- written (lower-cased), so a prefix of any word matches.
    search tsvector generated always as (to_tsvector('simple', description)) stored,
    primary key (organization_id, id),
    constraint codes_org_code_key unique (organization_id, code_key)
);
-- The list, in code order or by last change, with or without deleted codes.
create index codes_org_updated_idx on codes (organization_id, updated_at desc, id);
create index codes_org_category_idx on codes (organization_id, category, code_key);
create index codes_search_idx on codes using gin (search);

alter table codes enable row level security;
alter table codes force row level security;
create policy codes_tenant on codes
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());

-- Every version of every code, written in the transaction of the change.
-- Never updated or deleted by the application: history is not rewritten.
create table code_versions (
    organization_id uuid not null,
    code_id uuid not null,
    version integer not null check (version > 0),
    change code_change not null,
    -- The code as it was after this change.
    snapshot jsonb not null,
    -- For updates and restores: {field: {old, new}} of what changed.
    diff jsonb,
    comment text check (length(comment) <= 1000),
    actor_kind actor_kind not null,
    actor_id uuid,
    created_at timestamptz not null default now(),
    primary key (organization_id, code_id, version),
    foreign key (organization_id, code_id) references codes (organization_id, id) on delete cascade
);
create index code_versions_recent_idx on code_versions (organization_id, created_at desc);

alter table code_versions enable row level security;
alter table code_versions force row level security;
create policy code_versions_tenant on code_versions
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());

-- Comments on a version of a code.
create table code_comments (
    organization_id uuid not null,
    id uuid not null,
    code_id uuid not null,
    version integer not null,
    author_id uuid references users (id) on delete set null,
    body text not null check (length(btrim(body)) between 1 and 5000),
    created_at timestamptz not null default now(),
    edited_at timestamptz,
    primary key (organization_id, id),
    foreign key (organization_id, code_id, version)
        references code_versions (organization_id, code_id, version) on delete cascade
);
create index code_comments_code_idx on code_comments (organization_id, code_id, version, created_at);

alter table code_comments enable row level security;
alter table code_comments force row level security;
create policy code_comments_tenant on code_comments
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());

grant select, insert, update on codes to codebook_app;
grant select, insert on code_versions to codebook_app;
grant select, insert, update, delete on code_comments to codebook_app;
grant update (code_count) on organizations to codebook_app;
