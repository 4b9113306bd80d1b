-- Fiscal closings (issue #11): a closing is an entry of the shop's sealed journal, of kind
-- 'closing' (order_id 0, payment_id null), whose canonical bytes are kept in `closings`.
-- SQLite cannot change a check constraint: the journal is rebuilt with the new kind.
create table journal_v8 (
    shop_id integer not null references shops (id),
    seq integer not null,
    kind text not null check (kind in ('order', 'payment', 'closing')),
    order_id integer not null,
    payment_id integer,
    at integer not null,
    seal text not null,
    primary key (shop_id, seq)
);
insert into journal_v8 (shop_id, seq, kind, order_id, payment_id, at, seal)
select shop_id, seq, kind, order_id, payment_id, at, seal from journal;
drop table journal;
alter table journal_v8 rename to journal;

-- One row per closing: the entry's canonical bytes (sealed in the journal at journal_seq,
-- and signed), the signature and the public key that made it.
create table closings (
    shop_id integer not null references shops (id),
    period text not null check (period in ('day')),
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
