-- A reset link's hash is, like a session token's, proof for a definer
-- function (`reset_password_with_token` sets the password of the link's
-- user). The application role writes these rows and marks them used; it
-- has no reason to read the hashes back, so it no longer can.
revoke select on password_resets from codebook_app;
grant select (id, user_id, created_at, expires_at, used_at) on password_resets to codebook_app;
