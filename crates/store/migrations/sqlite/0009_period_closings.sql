-- Monthly and yearly closings (issue #11): the closings table takes the periods 'month'
-- (`day` holds YYYY-MM) and 'year' (`day` holds YYYY, the year the fiscal year starts in).
-- SQLite cannot change a check constraint: the table is rebuilt (nothing references it).
create table closings_v9 (
    shop_id integer not null references shops (id),
    period text not null check (period in ('day', 'month', 'year')),
    number integer not null,
    day text not null,
    value_from integer not null,
    value_to integer not null,
    journal_seq integer not null,
    entry text not null,
    signature text not null,
    public_key text not null,
    closed_at integer not null,
    primary key (shop_id, period, number),
    unique (shop_id, period, day),
    unique (shop_id, journal_seq)
);
insert into closings_v9 (shop_id, period, number, day, value_from, value_to, journal_seq,
    entry, signature, public_key, closed_at)
select shop_id, period, number, day, value_from, value_to, journal_seq,
    entry, signature, public_key, closed_at from closings;
drop table closings;
alter table closings_v9 rename to closings;

-- A shop's fiscal settings, only when changed: the first month of its fiscal year and the
-- local time its days close (minutes after midnight). Defaults: January, 04:00.
create table fiscal_settings (
    shop_id integer primary key references shops (id),
    first_month integer not null default 1 check (first_month between 1 and 12),
    closing_minute integer not null default 240 check (closing_minute between 0 and 1439)
);

-- A closing is also a webhook event (`closing`), so that someone else keeps its head: an
-- outbox row without an order, naming the closing by its journal entry. The outbox is
-- rebuilt for its check constraint and nullable order_id; webhook_attempts, which
-- references it with `on delete cascade`, is set aside first so that dropping the old
-- outbox deletes none of its rows, then rebuilt as it was.
create table outbox_v9 (
    id integer primary key,
    shop_id integer not null references shops (id),
    event_type text not null check (event_type in ('validated', 'terminated', 'closing')),
    order_id integer,
    created_at integer not null,
    state text not null default 'pending'
        check (state in ('pending', 'delivered', 'failed', 'skipped')),
    attempts integer not null default 0,
    failures integer not null default 0,
    next_at integer not null default 0,
    lease_until integer not null default 0,
    body text,
    body_format text,
    verify_token text,
    closing_seq integer,
    unique (shop_id, id),
    foreign key (shop_id, order_id) references orders (shop_id, id),
    check ((event_type = 'closing') = (order_id is null and closing_seq is not null))
);
insert into outbox_v9 (id, shop_id, event_type, order_id, created_at, state, attempts,
    failures, next_at, lease_until, body, body_format, verify_token)
select id, shop_id, event_type, order_id, created_at, state, attempts,
    failures, next_at, lease_until, body, body_format, verify_token from outbox;
create table webhook_attempts_v9_copy as select * from webhook_attempts;
drop table webhook_attempts;
drop table outbox;
alter table outbox_v9 rename to outbox;
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
insert into webhook_attempts (shop_id, event_id, attempt, at, status, latency_micros, error,
    answer)
select shop_id, event_id, attempt, at, status, latency_micros, error, answer
from webhook_attempts_v9_copy;
drop table webhook_attempts_v9_copy;
