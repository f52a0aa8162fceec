-- Password reset links: single use, one hour, stored only as a hash.
-- They belong to a user, not to an organization.
create table password_resets (
    id uuid primary key,
    user_id uuid not null references users (id) on delete cascade,
    token_hash bytea not null unique check (length(token_hash) = 32),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz
);
create index password_resets_user_idx on password_resets (user_id);

grant select, insert, update on password_resets to codebook_app;
