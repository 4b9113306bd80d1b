-- The events journal (issue #11): per shop, and for the server (shop_id 0, so no
-- reference to shops), each event's canonical bytes and seal, chained like the sales
-- journal. The head of each chain is kept in event_heads; its row is the lock an append
-- takes, apart from shop_counters, so recording an event never waits for a sale.
create table events (
    shop_id integer not null,
    seq integer not null,
    kind text not null,
    at integer not null,
    entry text not null,
    seal text not null,
    primary key (shop_id, seq)
);
create index events_at on events (shop_id, at);

create table event_heads (
    shop_id integer not null primary key,
    seq integer not null,
    head text not null
);

-- Invoice issues: every delivery of an order's document (copy 0 is the original, copy n
-- is duplicate n). invoice_copies holds the count per document, taken by an upsert so
-- that concurrent fetches get distinct copy numbers.
create table invoice_copies (
    shop_id integer not null references shops (id),
    order_id integer not null,
    document text not null check (document in ('invoice', 'credit_note', 'quote')),
    issued integer not null,
    primary key (shop_id, order_id, document),
    foreign key (shop_id, order_id) references orders (shop_id, id)
);

create table invoice_issues (
    shop_id integer not null references shops (id),
    order_id integer not null,
    document text not null check (document in ('invoice', 'credit_note', 'quote')),
    copy integer not null,
    at integer not null,
    address text,
    primary key (shop_id, order_id, document, copy),
    foreign key (shop_id, order_id) references orders (shop_id, id)
);
