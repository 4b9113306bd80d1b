-- Sales: orders with their lines and payments, the per-shop sealed journal, the outbox
-- of webhook events and the idempotency records. Written together, in one transaction.

-- Per-shop counters: the next accounting number (gapless) and the journal's head.
create table shop_counters (
    shop_id integer primary key references shops (id),
    next_order_number integer not null default 1,
    journal_seq integer not null default 0,
    journal_head text not null
);

create table orders (
    id integer primary key,
    shop_id integer not null references shops (id),
    number integer,
    status text not null check (status in ('pending', 'validated', 'terminated')),
    is_refund integer not null,
    refund_of integer,
    created_at integer not null,
    validated_at integer,
    terminated_at integer,
    value_date integer not null,
    user_id integer not null,
    cash_box_id integer not null,
    client_id integer,
    delivery_method integer not null,
    table_id integer,
    covers integer,
    pager_num text,
    public_comment text not null default '',
    private_comment text not null default '',
    total integer not null,
    vat integer not null,
    paid integer not null default 0,
    change_given integer not null default 0,
    invoice_token text not null,
    seal text,
    unique (shop_id, id),
    foreign key (shop_id, user_id) references users (shop_id, id),
    foreign key (shop_id, cash_box_id) references cash_boxes (shop_id, id),
    foreign key (shop_id, client_id) references clients (shop_id, id),
    foreign key (shop_id, table_id) references dining_tables (shop_id, id),
    foreign key (shop_id, refund_of) references orders (shop_id, id)
);
create unique index orders_number_key on orders (shop_id, number);
create index orders_value_date_idx on orders (shop_id, value_date);
create index orders_status_idx on orders (shop_id, status, created_at);
-- Invoice links are /invoices/SHOPID-TOKEN.pdf, so this lookup leads with shop_id too.
create unique index orders_invoice_token_key on orders (shop_id, invoice_token);

create table order_lines (
    shop_id integer not null,
    order_id integer not null,
    line_no integer not null,
    item_id integer,
    department_id integer,
    title text not null,
    quantity integer not null,
    unit_price integer not null,
    total integer not null,
    vat_rate integer not null,
    variations text not null default '',
    primary key (shop_id, order_id, line_no),
    foreign key (shop_id, order_id) references orders (shop_id, id)
);

create table payments (
    id integer primary key,
    shop_id integer not null,
    order_id integer not null,
    payment_method_id integer not null,
    name text not null,
    amount integer not null,
    at integer not null,
    unique (shop_id, id),
    foreign key (shop_id, order_id) references orders (shop_id, id),
    foreign key (shop_id, payment_method_id) references payment_methods (shop_id, id)
);
create index payments_order_idx on payments (shop_id, order_id);

-- The append-only, sealed journal: one entry per validated order and per payment.
create table journal (
    shop_id integer not null references shops (id),
    seq integer not null,
    kind text not null check (kind in ('order', 'payment')),
    order_id integer not null,
    payment_id integer,
    at integer not null,
    seal text not null,
    primary key (shop_id, seq)
);

-- Webhook events, written in the transaction of the change that causes them.
create table outbox (
    id integer primary key,
    shop_id integer not null references shops (id),
    event_type text not null check (event_type in ('validated', 'terminated')),
    order_id integer not null,
    created_at integer not null,
    unique (shop_id, id),
    foreign key (shop_id, order_id) references orders (shop_id, id)
);

create table idempotency_keys (
    shop_id integer not null references shops (id),
    idem_key text not null,
    request_hash text not null,
    response text not null,
    created_at integer not null,
    primary key (shop_id, idem_key)
);

-- Which lines of which order a refund took back, so refunds never exceed the sale.
create table refund_lines (
    shop_id integer not null,
    original_order integer not null,
    original_line integer not null,
    refund_order integer not null,
    refund_line integer not null,
    quantity integer not null,
    primary key (shop_id, refund_order, refund_line),
    foreign key (shop_id, original_order) references orders (shop_id, id),
    foreign key (shop_id, refund_order) references orders (shop_id, id)
);
create index refund_lines_original_idx on refund_lines (shop_id, original_order);

insert into shop_counters (shop_id, journal_head)
select id, '0000000000000000000000000000000000000000000000000000000000000000' from shops;
