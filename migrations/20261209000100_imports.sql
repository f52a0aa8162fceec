-- Imports as operations: each import that wrote records who ran it, when,
-- and its counts, and tags every version it wrote, so it can be listed and
-- undone as one step. An undo writes new versions (history is never
-- rewritten) and marks the import undone.

create table imports (
    organization_id uuid not null references organizations (id) on delete cascade,
    id uuid not null,
    file_name text not null check (length(file_name) between 1 and 200),
    delete_missing boolean not null,
    rows integer not null check (rows >= 0),
    created integer not null check (created >= 0),
    updated integer not null check (updated >= 0),
    restored integer not null check (restored >= 0),
    deleted integer not null check (deleted >= 0),
    unchanged integer not null check (unchanged >= 0),
    created_at timestamptz not null default now(),
    created_by_kind actor_kind not null,
    created_by uuid,
    undone_at timestamptz,
    undone_by_kind actor_kind,
    undone_by uuid,
    primary key (organization_id, id),
    check ((undone_at is null) = (undone_by_kind is null))
);
create index imports_org_created_idx on imports (organization_id, created_at desc, id desc);

alter table imports enable row level security;
alter table imports force row level security;
create policy imports_tenant on imports
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());

-- The import that wrote a version, if one did.
alter table code_versions
    add column import_id uuid,
    add constraint code_versions_import_fkey
        foreign key (organization_id, import_id) references imports (organization_id, id);
create index code_versions_import_idx on code_versions (organization_id, import_id)
    where import_id is not null;

-- An import is never changed but to mark it undone, and never deleted.
grant select, insert on imports to codebook_app;
grant update (undone_at, undone_by_kind, undone_by) on imports to codebook_app;
