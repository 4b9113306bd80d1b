-- getAuthToken.php hands a user back the same key while it is valid. The key's 128-bit
-- secret is kept sealed: XORed with 16 bytes derived from the user's password by argon2id
-- with seal_salt, so only a sign-in with that password can reopen it, and a database
-- leak costs an attacker one argon2id run per password guess, as the password hash does.
-- Keys also say who made them and when they were last used (to the minute).
alter table api_keys add column user_id bigint;
alter table api_keys add column created_by text;
alter table api_keys add column last_used_at bigint;
alter table api_keys add column sealed_secret bytea;
alter table api_keys add column seal_salt bytea;
create index api_keys_user_idx on api_keys (shop_id, user_id) where user_id is not null;
