-- Webhooks: each shop's endpoint and signing secrets, the delivery state of the outbox
-- events (new columns with defaults: sales insert their events as before), and the log
-- of every attempt. Times are microseconds since the epoch.

create table webhook_endpoints (
    shop_id integer primary key references shops (id),
    -- null while webhooks are off; the secret is kept.
    url text,
    format text not null check (format in ('form', 'json')),
    secret text not null,
    -- the secret before the last rotation, still signing until previous_until.
    previous_secret text,
    previous_until integer,
    -- events created before this (webhooks off, or not yet set) are not delivered.
    since integer not null,
    updated_at integer not null
);

-- skipped: pending when its shop turned webhooks on, so never sent (and out of the index
-- of due events, which would otherwise start with every old event at each look).
alter table outbox add column state text not null default 'pending'
    check (state in ('pending', 'delivered', 'failed', 'skipped'));
-- attempts made so far (numbers the log); failures since the last (re)send (the schedule).
alter table outbox add column attempts integer not null default 0;
alter table outbox add column failures integer not null default 0;
alter table outbox add column next_at integer not null default 0;
-- a worker holds the event until then; a killed worker's event is free again after it.
alter table outbox add column lease_until integer not null default 0;
-- the body as first sent, kept so retries and the verification URL agree on it.
alter table outbox add column body text;
alter table outbox add column body_format text;
alter table outbox add column verify_token text;

create index outbox_due_idx on outbox (shop_id, next_at, id) where state = 'pending';
create index outbox_order_idx on outbox (shop_id, order_id);
create index outbox_created_idx on outbox (shop_id, created_at);

create table webhook_attempts (
    shop_id integer not null,
    event_id integer not null,
    attempt integer not null,
    at integer not null,
    -- the HTTP status, null when there was no answer (refused address, timeout, ...).
    status integer,
    latency_micros integer not null,
    error text,
    -- the first KiB of the answer.
    answer text not null,
    primary key (shop_id, event_id, attempt),
    foreign key (shop_id, event_id) references outbox (shop_id, id) on delete cascade
);
