-- The demo source database: a small online shop (OLTP), all in schema public.
--
-- Run once on an empty database (init.ts does it in one transaction together with the
-- data generator). Every table is what the replicator copies; between them the columns
-- cover the types a CDC pipeline must carry exactly: int/smallint/bigint identities,
-- numeric(12,2) and numeric(30,15), text/varchar/char, boolean, date, timestamptz, uuid,
-- jsonb, text[]/int[], bytea, inet, an enum and a domain. payments is range-partitioned by
-- month, reviews holds TOASTed bodies, events has no primary key.

create type order_status as enum ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded');

create domain email_address as text
    check (length(value) <= 254 and value ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$');

-- customers -----------------------------------------------------------------------------

create table customers (
    customer_id      bigint generated always as identity primary key,
    external_id      uuid not null unique,
    email            email_address not null,
    first_name       varchar(100) not null,
    last_name        varchar(100) not null,
    phone            varchar(32),
    birth_date       date check (birth_date > date '1900-01-01'),
    marketing_opt_in boolean not null default false,
    tags             text[] not null default '{}',
    preferences      jsonb not null default '{}',
    loyalty_points   integer not null default 0 check (loyalty_points >= 0),
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    check (updated_at >= created_at)
);

create unique index customers_email_lower_key on customers (lower(email));
create index customers_last_name_idx on customers (last_name, first_name);

-- addresses -----------------------------------------------------------------------------

create table addresses (
    address_id   bigint generated always as identity primary key,
    customer_id  bigint not null references customers on delete cascade,
    kind         varchar(16) not null check (kind in ('billing', 'shipping')),
    line1        text not null,
    line2        text,
    city         varchar(100) not null,
    region       varchar(100),
    postal_code  varchar(16) not null,
    country_code char(2) not null check (country_code ~ '^[A-Z]{2}$'),
    is_default   boolean not null default false,
    created_at   timestamptz not null default now()
);

create index addresses_customer_id_idx on addresses (customer_id);
create unique index addresses_one_default_per_kind on addresses (customer_id, kind) where is_default;

-- products and inventory ----------------------------------------------------------------

create table products (
    product_id   integer generated always as identity primary key,
    sku          varchar(32) not null unique,
    name         text not null check (name <> ''),
    description  text,
    category     varchar(64) not null,
    price        numeric(12,2) not null check (price >= 0),
    weight_grams integer check (weight_grams > 0),
    attributes   jsonb not null default '{}',
    tags         text[] not null default '{}',
    thumbnail    bytea,
    is_active    boolean not null default true,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);

create index products_category_idx on products (category) where is_active;
create index products_attributes_idx on products using gin (attributes jsonb_path_ops);

create table inventory (
    product_id        integer not null references products on delete cascade,
    warehouse_code    varchar(8) not null check (warehouse_code ~ '^[A-Z]{3}[0-9]$'),
    quantity_on_hand  integer not null check (quantity_on_hand >= 0),
    quantity_reserved integer not null default 0 check (quantity_reserved >= 0),
    reorder_level     integer not null default 10 check (reorder_level >= 0),
    bin_locations     integer[],
    updated_at        timestamptz not null default now(),
    primary key (product_id, warehouse_code)
);

-- orders and their lines ----------------------------------------------------------------

create table orders (
    order_id            bigint generated always as identity primary key,
    order_number        uuid not null unique,
    customer_id         bigint not null references customers,
    shipping_address_id bigint references addresses on delete set null,
    status              order_status not null default 'pending',
    currency            char(3) not null default 'EUR' check (currency ~ '^[A-Z]{3}$'),
    subtotal            numeric(12,2) not null check (subtotal >= 0),
    shipping_fee        numeric(12,2) not null default 0 check (shipping_fee >= 0),
    tax                 numeric(12,2) not null default 0 check (tax >= 0),
    total               numeric(12,2) not null,
    notes               text,
    placed_at           timestamptz not null default now(),
    paid_at             timestamptz,
    shipped_at          timestamptz,
    delivered_at        timestamptz,
    cancelled_at        timestamptz,
    updated_at          timestamptz not null default now(),
    check (total = subtotal + shipping_fee + tax),
    check ((status = 'cancelled') = (cancelled_at is not null))
);

create index orders_customer_id_idx on orders (customer_id);
create index orders_placed_at_idx on orders (placed_at);
create index orders_open_status_idx on orders (status, order_id)
    where status in ('pending', 'paid', 'shipped', 'cancelled');

create table order_items (
    order_id     bigint not null references orders on delete cascade,
    line_no      smallint not null check (line_no > 0),
    product_id   integer not null references products,
    quantity     integer not null check (quantity > 0),
    unit_price   numeric(12,2) not null check (unit_price >= 0),
    discount_pct numeric(5,2) not null default 0 check (discount_pct between 0 and 100),
    gift_message text,
    primary key (order_id, line_no)
);

create index order_items_product_id_idx on order_items (product_id);

-- payments: one partition per month -----------------------------------------------------

create table payments (
    payment_id         bigint generated always as identity,
    order_id           bigint not null references orders,
    created_at         timestamptz not null,
    amount             numeric(12,2) not null check (amount >= 0),
    currency           char(3) not null check (currency ~ '^[A-Z]{3}$'),
    fx_rate            numeric(30,15) not null default 1 check (fx_rate > 0),
    method             varchar(16) not null check (method in ('card', 'paypal', 'bank_transfer', 'voucher')),
    status             varchar(16) not null check (status in ('authorized', 'captured', 'failed', 'refunded', 'voided')),
    provider_reference text,
    card_last4         char(4) check (card_last4 ~ '^[0-9]{4}$'),
    raw_response       bytea,
    metadata           jsonb,
    primary key (payment_id, created_at)
) partition by range (created_at);

create index payments_order_id_idx on payments (order_id);

do $$
declare
    month date;
begin
    for month in select generate_series(date '2025-01-01', date '2027-12-01', interval '1 month')::date loop
        execute format(
            'create table %I partition of payments for values from (%L) to (%L)',
            'payments_' || to_char(month, 'YYYY_MM'),
            to_char(month, 'YYYY-MM-DD') || ' 00:00:00+00',
            to_char(month + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00'
        );
    end loop;
end
$$;

create table payments_default partition of payments default;

-- reviews: long bodies are TOASTed ------------------------------------------------------

create table reviews (
    review_id     bigint generated always as identity primary key,
    product_id    integer not null references products on delete cascade,
    customer_id   bigint not null references customers on delete cascade,
    order_id      bigint references orders on delete set null,
    rating        smallint not null check (rating between 1 and 5),
    title         varchar(200),
    body          text not null,
    helpful_votes integer not null default 0 check (helpful_votes >= 0),
    is_verified   boolean not null default false,
    language      varchar(8),
    created_at    timestamptz not null default now(),
    updated_at    timestamptz
);

create index reviews_product_id_idx on reviews (product_id, created_at);
create index reviews_customer_id_idx on reviews (customer_id);
create index reviews_order_id_idx on reviews (order_id) where order_id is not null;

-- events: an append-only log without a primary key ---------------------------------------

create table events (
    occurred_at timestamptz not null default now(),
    event_type  varchar(32) not null,
    customer_id bigint,
    order_id    bigint,
    session_id  uuid,
    source      varchar(16) not null default 'web' check (source in ('web', 'ios', 'android', 'backoffice')),
    ip_address  inet,
    payload     jsonb not null default '{}',
    processed   boolean not null default false
);

create index events_occurred_at_idx on events (occurred_at);
create index events_customer_id_idx on events (customer_id) where customer_id is not null;

comment on table events is 'Append-only clickstream and domain events; no primary key (replica identity full).';
comment on table payments is 'Payment attempts, range-partitioned by created_at, one partition per month.';
