-- Shops and their catalog. Every table but shops carries shop_id, and every logical key
-- and index leads with it. SQLite's integer primary key (the rowid) is its physical key;
-- (shop_id, id) is unique and is what foreign keys point at.

create table shops (
    id integer primary key,
    name text not null,
    address text,
    phone text,
    rc_number text,
    vat_number text,
    currency text not null,
    timezone text not null,
    country text not null,
    prices_include_vat integer not null,
    default_vat_rate integer not null,
    licence text not null check (licence in ('standard', 'extended')),
    created_at integer not null
);

create table users (
    id integer primary key,
    shop_id integer not null references shops (id),
    login text not null,
    display_name text not null,
    role text not null check (role in ('admin', 'manager', 'cashier', 'accountant', 'preparer', 'delivery')),
    password_hash text not null,
    created_at integer not null,
    unique (shop_id, id)
);
-- Logins are unique across the whole server (getAuthToken takes a login alone).
create unique index users_login_key on users (login);

create table api_keys (
    id integer primary key,
    shop_id integer not null references shops (id),
    prefix text not null,
    key_hash text not null,
    label text,
    created_at integer not null,
    revoked_at integer,
    unique (shop_id, id)
);
create unique index api_keys_prefix_key on api_keys (shop_id, prefix);

create table vat_rates (
    id integer primary key,
    shop_id integer not null references shops (id),
    rate integer not null,
    name text,
    unique (shop_id, id),
    unique (shop_id, rate)
);

create table department_groups (
    id integer primary key,
    shop_id integer not null references shops (id),
    name text not null,
    unique (shop_id, id)
);

create table departments (
    id integer primary key,
    shop_id integer not null references shops (id),
    group_id integer,
    name text not null,
    vat_rate integer not null,
    default_discount integer not null default 0,
    unique (shop_id, id),
    foreign key (shop_id, group_id) references department_groups (shop_id, id),
    foreign key (shop_id, vat_rate) references vat_rates (shop_id, rate)
);

create table items (
    id integer primary key,
    shop_id integer not null references shops (id),
    department_id integer not null,
    name text not null,
    price integer not null,
    vat_rate integer,
    barcode text,
    reference text,
    position integer not null default 0,
    active integer not null default 1,
    stock integer,
    unique (shop_id, id),
    foreign key (shop_id, department_id) references departments (shop_id, id),
    foreign key (shop_id, vat_rate) references vat_rates (shop_id, rate)
);
create index items_barcode_idx on items (shop_id, barcode);

create table variations (
    id integer primary key,
    shop_id integer not null references shops (id),
    item_id integer not null,
    name text not null,
    price_change integer not null default 0,
    unique (shop_id, id),
    foreign key (shop_id, item_id) references items (shop_id, id)
);
create index variations_item_idx on variations (shop_id, item_id);

create table cash_boxes (
    id integer primary key,
    shop_id integer not null references shops (id),
    name text not null,
    is_virtual integer not null,
    is_open integer not null,
    fund integer not null default 0,
    unique (shop_id, id)
);

create table payment_methods (
    id integer primary key,
    shop_id integer not null references shops (id),
    name text not null,
    kind text not null check (kind in ('cash', 'card', 'cheque', 'voucher', 'credit_note', 'transfer', 'other', 'refund')),
    min_amount integer,
    max_amount integer,
    cash_box_id integer,
    unique (shop_id, id),
    foreign key (shop_id, cash_box_id) references cash_boxes (shop_id, id)
);

create table clients (
    id integer primary key,
    shop_id integer not null references shops (id),
    last_name text,
    first_name text,
    email text,
    phone text,
    phone2 text,
    address1 text,
    address2 text,
    address_comment text,
    postcode text,
    city text,
    country text,
    vat_number text,
    company_number text,
    barcode text,
    lat integer,
    lng integer,
    created_at integer not null,
    unique (shop_id, id)
);
create index clients_email_idx on clients (shop_id, email);

create table delivery_zones (
    id integer primary key,
    shop_id integer not null references shops (id),
    name text not null,
    fee integer not null default 0,
    min_amount integer,
    address text,
    radius_m integer,
    unique (shop_id, id)
);

create table relay_points (
    id integer primary key,
    shop_id integer not null references shops (id),
    name text not null,
    address text,
    opening_hours text,
    unique (shop_id, id)
);

create table delivery_people (
    id integer primary key,
    shop_id integer not null references shops (id),
    name text not null,
    phone text,
    unique (shop_id, id)
);

create table discounts (
    id integer primary key,
    shop_id integer not null references shops (id),
    name text not null,
    kind text not null check (kind in ('percent', 'amount', 'fixed_price')),
    value integer not null,
    unique (shop_id, id)
);

create table dining_tables (
    id integer primary key,
    shop_id integer not null references shops (id),
    name text not null,
    seats integer,
    unique (shop_id, id)
);
