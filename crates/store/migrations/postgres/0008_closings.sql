-- Fiscal closings (issue #11): a closing is an entry of the shop's sealed journal, of kind
-- 'closing' (order_id 0, payment_id null), whose canonical bytes are kept in `closings`.
alter table journal drop constraint journal_kind_check;
alter table journal add constraint journal_kind_check
    check (kind in ('order', 'payment', 'closing'));

-- One row per closing: the entry's canonical bytes (sealed in the journal at journal_seq,
-- and signed), the signature and the public key that made it.
create table closings (
    shop_id bigint not null references shops (id),
    period text not null check (period in ('day')),
    number bigint not null,
    day text not null,
    value_from bigint not null,
    value_to bigint not null,
    journal_seq bigint not null,
    entry text not null,
    signature text not null,
    public_key text not null,
    closed_at bigint not null,
    primary key (shop_id, period, number),
    unique (shop_id, period, day),
    unique (shop_id, journal_seq)
);
