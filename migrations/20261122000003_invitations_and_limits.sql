-- Invitations and plan limits.

-- Per-organization overrides of the plan's limits (null: the plan decides),
-- set by platform admins.
alter table organizations
    add column max_members integer check (max_members >= 0),
    add column max_codes integer check (max_codes >= 0),
    add column max_webhooks integer check (max_webhooks >= 0),
    add column max_api_keys integer check (max_api_keys >= 0);

create table invitations (
    organization_id uuid not null references organizations (id) on delete cascade,
    id uuid not null,
    email text not null check (email = lower(btrim(email)) and length(email) between 3 and 254),
    role member_role not null,
    -- SHA-256 of the token in the link; the token itself is never stored.
    token_hash bytea not null unique check (length(token_hash) = 32),
    invited_by uuid references users (id) on delete set null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    accepted_at timestamptz,
    accepted_by uuid references users (id) on delete set null,
    revoked_at timestamptz,
    -- The last delivery failure of the invitation mail, shown to admins.
    mail_error text,
    primary key (organization_id, id)
);
-- One open invitation per address and organization.
create unique index invitations_one_open
    on invitations (organization_id, email)
    where accepted_at is null and revoked_at is null;

alter table invitations enable row level security;
alter table invitations force row level security;
create policy invitations_tenant on invitations
    using (organization_id = app_current_org())
    with check (organization_id = app_current_org());

grant select, insert, update on invitations to codebook_app;

-- Accepting starts from a link's token, before any organization is known:
-- this answers which organization the token belongs to, and nothing else.
-- The owner running migrations must bypass RLS (superuser or BYPASSRLS).
create function invitation_organization(p_token_hash bytea) returns uuid
    language sql stable
    security definer
    set search_path = pg_catalog, public
    as $$ select organization_id from invitations where token_hash = p_token_hash $$;

revoke all on function invitation_organization(bytea) from public;
grant execute on function invitation_organization(bytea) to codebook_app;
