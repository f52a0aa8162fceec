-- Tenancy core: organizations, users, memberships, sessions, and the
-- restricted role the application runs as.
--
-- Migrations run as the owner of the schema. The application connects as
-- `codebook_app`: not a superuser, not the owner of any table, no BYPASSRLS,
-- so the row-level security policies below always apply to it.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'codebook_app') then
        create role codebook_app login nosuperuser nocreatedb nocreaterole nobypassrls;
    end if;
exception
    -- Two databases migrating at once in one cluster (parallel tests) may race.
    when duplicate_object or unique_violation then null;
end
$$;

-- The id of the organization the current transaction works on; null when
-- none is set, so tenant policies then match no row at all.
create function app_current_org() returns uuid
    language sql stable
    as $$ select nullif(current_setting('app.org_id', true), '')::uuid $$;

create function app_current_user() returns uuid
    language sql stable
    as $$ select nullif(current_setting('app.user_id', true), '')::uuid $$;

create type plan_tier as enum ('free', 'starter', 'professional', 'enterprise');
create type member_role as enum ('owner', 'admin', 'manager', 'member', 'viewer');

-- Organizations are looked up across tenants (log-in, the switcher, the
-- platform page), so they are not a tenant table; every query on them is
-- scoped by the caller's memberships in the service that makes it.
create table organizations (
    id uuid primary key,
    name text not null check (length(name) between 1 and 100),
    slug text not null unique check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 48),
    plan plan_tier not null default 'free',
    active boolean not null default true,
    settings jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now()
);

create table users (
    id uuid primary key,
    email text not null check (email = lower(btrim(email)) and length(email) between 3 and 254),
    name text not null check (length(name) between 1 and 100),
    password_hash text not null,
    is_platform_admin boolean not null default false,
    created_at timestamptz not null default now(),
    constraint users_email_key unique (email)
);

create table memberships (
    organization_id uuid not null references organizations (id) on delete cascade,
    user_id uuid not null references users (id) on delete cascade,
    role member_role not null,
    created_at timestamptz not null default now(),
    primary key (organization_id, user_id)
);
create index memberships_user_idx on memberships (user_id);

alter table memberships enable row level security;
alter table memberships force row level security;
-- A member sees the memberships of the current organization, and a user
-- sees their own memberships in every organization (for the switcher).
create policy memberships_tenant on memberships
    using (organization_id = app_current_org() or user_id = app_current_user())
    with check (organization_id = app_current_org());

-- Sessions belong to a user, not to an organization; the token itself is
-- never stored, only its SHA-256.
create table sessions (
    id uuid primary key,
    user_id uuid not null references users (id) on delete cascade,
    token_hash bytea not null unique check (length(token_hash) = 32),
    current_organization_id uuid references organizations (id) on delete set null,
    remember boolean not null default false,
    ip inet,
    user_agent text,
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    expires_at timestamptz not null,
    revoked_at timestamptz
);
create index sessions_user_idx on sessions (user_id);

-- An organization never loses its last owner: checked when the statement
-- that demotes or removes one has finished, so a swap of owners in one
-- statement is fine. Deleting the organization itself cascades past it.
create function memberships_keep_an_owner() returns trigger
    language plpgsql
    security definer
    set search_path = pg_catalog, public
    as $$
begin
    if old.role = 'owner'
       and exists (select 1 from organizations where id = old.organization_id)
       and not exists (
           select 1 from memberships
           where organization_id = old.organization_id and role = 'owner'
       )
    then
        raise exception 'an organization must keep at least one owner'
            using errcode = 'check_violation', constraint = 'memberships_last_owner';
    end if;
    return null;
end
$$;

create constraint trigger memberships_keep_an_owner
    after update of role or delete on memberships
    deferrable initially immediate
    for each row execute function memberships_keep_an_owner();

grant usage on schema public to codebook_app;
grant select, insert, update, delete on organizations, users, memberships, sessions to codebook_app;
