-- Brute-force protection: failed log-ins counted per account and per IP.
-- Each attempt takes a slot (one atomic upsert) before the password is
-- checked, so parallel attempts cannot get past the limit; a success frees
-- the account's slots.
create table login_throttles (
    -- 'account:<user id>' or 'ip:<address>'
    key text primary key,
    attempts integer not null check (attempts >= 0),
    window_started timestamptz not null,
    locked_until timestamptz
);

grant select, insert, update, delete on login_throttles to codebook_app;
