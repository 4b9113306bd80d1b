-- Back-office sessions (the pages, not the web services). The cookie holds
-- SHOPID-SECRET; only the SHA-256 of the whole cookie value is stored, so a copy of the
-- database does not sign anyone in. The CSRF token of the session is kept as is: it is
-- printed in every form of the session's pages.
create table sessions (
    id integer primary key,
    shop_id integer not null references shops (id),
    user_id integer not null,
    token_hash text not null,
    csrf_token text not null,
    user_agent text,
    created_at integer not null,
    last_seen_at integer not null,
    revoked_at integer,
    unique (shop_id, id),
    foreign key (shop_id, user_id) references users (shop_id, id)
);
create unique index sessions_token_key on sessions (shop_id, token_hash);
create index sessions_user_idx on sessions (shop_id, user_id);
