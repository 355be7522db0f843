/**
 * Deterministic demo data for the shop schema (schema.sql).
 *
 * Every value is a function of its row number: hashes of (tag, row) pick names, amounts
 * and times from fixed lists and the fixed window 2025-01-01 .. 2026-10-31 (UTC); nothing
 * reads random() or now(). The same scale therefore gives byte-identical tables on every
 * run (PostgreSQL's hash functions can differ between CPU byte orders, so compare runs on
 * like machines). Each table is filled by one set-based INSERT … SELECT over
 * generate_series, and foreign keys are checked once at the end rather than row by row,
 * so scale 10 (about a million rows) loads in well under a minute.
 *
 * The values include what a replicator must carry exactly: NULLs, '' beside NULL,
 * unicode (é, 日本, emoji), tabs, newlines, backslashes and quotes in text, numerics with
 * 15 decimals, microsecond timestamps, empty arrays and arrays with NULL elements, nested
 * jsonb, bytea with zero bytes, TOASTed review bodies (about 10% over 4 KB) and payments
 * spread over about 22 monthly partitions.
 *
 * CLI: npx tsx source_db_init/generate.ts --url postgres://… --scale 1
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { ClientBase } from 'pg';
import { z } from 'zod';
import {
  DemoError,
  explainError,
  isMainModule,
  parseFlags,
  runCli,
  scaleSchema,
  sourceUrlFrom,
  sourceUrlSchema,
} from './cli.js';

/** The demo tables in foreign-key order (parents first). */
export const DEMO_TABLES = [
  'customers',
  'addresses',
  'products',
  'inventory',
  'orders',
  'order_items',
  'payments',
  'reviews',
  'events',
] as const;

export type DemoTable = (typeof DEMO_TABLES)[number];
export type DemoRowCounts = Record<DemoTable, number>;

/**
 * Rows of the independently sized tables at scale 1. The others follow from them:
 * addresses ≈ 1.5 per customer, inventory ≈ 2 per product, order_items ≈ 3 per order,
 * payments ≈ 1 per order. Together about 105k rows.
 */
const ROWS_AT_SCALE_1 = { customers: 5_000, products: 1_000, orders: 15_000, reviews: 4_000, events: 10_000 } as const;

type BaseCounts = Record<keyof typeof ROWS_AT_SCALE_1, number>;

/** How many rows each independently sized table gets at `scale` (at least one). */
export function baseCounts(scale: number): BaseCounts {
  const at = (rows: number) => Math.max(1, Math.round(rows * scale));
  return {
    customers: at(ROWS_AT_SCALE_1.customers),
    products: at(ROWS_AT_SCALE_1.products),
    orders: at(ROWS_AT_SCALE_1.orders),
    reviews: at(ROWS_AT_SCALE_1.reviews),
    events: at(ROWS_AT_SCALE_1.events),
  };
}

/**
 * Connect to `url`, fill the (empty) demo tables in one transaction, then ANALYZE them.
 * Returns the rows inserted per table.
 */
export async function generateDemoData(url: string, options: { scale: number }): Promise<DemoRowCounts> {
  const client = new pg.Client({ connectionString: url, application_name: 'elt-demo-generate' });
  await client.connect();
  try {
    await client.query('begin');
    const counts = await loadDemoData(client, options.scale);
    await client.query('commit');
    await analyzeDemoTables(client);
    return counts;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

/**
 * Insert the demo rows through `client`, which must be inside a transaction on a
 * database where schema.sql ran and the demo tables are empty. Afterwards each identity
 * sequence continues after the largest generated id.
 */
export async function loadDemoData(client: ClientBase, scale: number): Promise<DemoRowCounts> {
  const n = baseCounts(scale);
  // Values rendered as text (jsonb timestamps) must not depend on the session.
  await client.query(`set local timezone = 'UTC'`);
  await client.query(`set local datestyle = 'ISO, YMD'`);
  // Room for the per-order aggregate at scale 10 without spilling to disk.
  await client.query(`set local work_mem = '64MB'`);
  await client.query(HELPER_FUNCTIONS_SQL);

  const restoreForeignKeys = await dropForeignKeys(client);
  const inserted = async (sql: string, params: number[]) => (await client.query(sql, params)).rowCount ?? 0;
  const counts: DemoRowCounts = {
    customers: await inserted(CUSTOMERS_SQL, [n.customers]),
    addresses: await inserted(ADDRESSES_SQL, [n.customers]),
    products: await inserted(PRODUCTS_SQL, [n.products]),
    inventory: await inserted(INVENTORY_SQL, [n.products]),
    orders: 0,
    order_items: 0,
    payments: 0,
    reviews: 0,
    events: 0,
  };
  await client.query(ORDER_LINES_SQL, [n.orders, n.products]);
  counts.orders = await inserted(ORDERS_SQL, [n.orders, n.customers]);
  counts.order_items = await inserted(ORDER_ITEMS_SQL, []);
  await client.query('drop table pg_temp.demo_order_lines');
  counts.payments = await inserted(PAYMENTS_SQL, []);
  counts.reviews = await inserted(REVIEWS_SQL, [n.reviews, n.orders, n.products, n.customers]);
  counts.events = await inserted(EVENTS_SQL, [n.events, n.orders, n.customers]);
  await restoreForeignKeys();
  await client.query(ADVANCE_SEQUENCES_SQL);
  return counts;
}

/**
 * Drop the foreign keys between the demo tables and return a function that adds them back.
 * Checking a million rows one by one (a trigger per row) takes longer than everything else;
 * adding the constraint afterwards checks all rows in one join, and still fails if the
 * generator ever produced a dangling reference. Names and definitions come back unchanged.
 */
async function dropForeignKeys(client: ClientBase): Promise<() => Promise<void>> {
  const { rows } = await client.query<{ drop_sql: string; add_sql: string }>(
    `select format('alter table %I drop constraint %I', c.relname, k.conname) as drop_sql,
            format('alter table %I add constraint %I %s', c.relname, k.conname, pg_get_constraintdef(k.oid)) as add_sql
     from pg_constraint as k
     join pg_class as c on c.oid = k.conrelid
     where k.contype = 'f' and k.conparentid = 0 and c.relnamespace = 'public'::regnamespace and c.relname = any($1)
     order by c.relname, k.conname`,
    [DEMO_TABLES],
  );
  for (const { drop_sql } of rows) await client.query(drop_sql);
  return async () => {
    for (const { add_sql } of rows) await client.query(add_sql);
  };
}

/** ANALYZE the demo tables so the planner sees the loaded data (outside a transaction is fine too). */
export async function analyzeDemoTables(client: ClientBase): Promise<void> {
  await client.query(`analyze ${DEMO_TABLES.join(', ')}`);
}

// ---------------------------------------------------------------------------------------
// SQL. Helpers live in pg_temp (gone when the session ends). They are single-expression
// SQL functions, which the planner inlines, so calling them per row costs little; that
// needs their declared volatility to match their body: timestamptz + interval and
// text || bigint are only stable, so the functions using them are declared stable.
//
//   r(tag, i)        a non-negative 63-bit hash of row i under a tag (one tag per column)
//   pick(tag, i, n)  0 .. n-1
//   pct(tag, i)      0 .. 99, for "x% of rows"
//   moment(tag, i)   a microsecond instant in the window 2025-01-01 .. 2026-10-31 UTC
//   spread(tag,i,n)  row i of n placed in order across the window (ids grow with time)
//   uid(tag, i)      a uuid
// ---------------------------------------------------------------------------------------

const HELPER_FUNCTIONS_SQL = String.raw`
create or replace function pg_temp.r(tag text, i bigint) returns bigint
    language sql immutable parallel safe
    as $$ select hashint8extended(i, hashtext(tag)) & 9223372036854775807 $$;

create or replace function pg_temp.pick(tag text, i bigint, n bigint) returns bigint
    language sql immutable parallel safe
    as $$ select pg_temp.r(tag, i) % n $$;

create or replace function pg_temp.pct(tag text, i bigint) returns integer
    language sql immutable parallel safe
    as $$ select (pg_temp.r(tag, i) % 100)::integer $$;

-- 57 715 200 000 000 µs = 668 days = 2025-01-01 .. 2026-10-31.
create or replace function pg_temp.moment(tag text, i bigint) returns timestamptz
    language sql stable parallel safe
    as $$ select timestamptz '2025-01-01 00:00:00+00' + pg_temp.pick(tag, i, 57715200000000) * interval '1 microsecond' $$;

create or replace function pg_temp.spread(tag text, i bigint, n bigint) returns timestamptz
    language sql stable parallel safe
    as $$ select timestamptz '2025-01-01 00:00:00+00'
                 + ((i - 1) * (57715200000000 / n) + pg_temp.pick(tag, i, 57715200000000 / n)) * interval '1 microsecond' $$;

create or replace function pg_temp.uid(tag text, i bigint) returns uuid
    language sql stable parallel safe
    as $$ select md5(tag || ':' || i)::uuid $$;
`;

// $1 customers
const CUSTOMERS_SQL = String.raw`
insert into customers (customer_id, external_id, email, first_name, last_name, phone, birth_date,
                       marketing_opt_in, tags, preferences, loyalty_points, created_at, updated_at)
overriding system value
select
    i,
    pg_temp.uid('customer', i),
    format('%s.%s@%s', (array['anna', 'jose', 'zoe', 'lukasz', 'soren', 'aiko', 'chloe', 'mehmet',
                              'olga', 'ngozi', 'siobhan', 'mateo', 'haruto', 'ana.maria', 'darcy', 'li'])[v.name_no],
           i, (array['example.com', 'example.org', 'mail.example.net', 'shop.example.de'])[1 + pg_temp.pick('customer.domain', i, 4)]),
    (array['Anna', 'José', 'Zoë', 'Łukasz', 'Søren', 'Aiko', 'Chloé', 'Mehmet',
           'Olga', 'Ngozi', 'Siobhán', 'Mateo', '陽翔', 'Ana María', 'D''Arcy', '李'])[v.name_no],
    (array['Müller', 'García', 'O''Brien', 'Nakamura', 'Smith', 'Dubois', 'Kowalski', 'van der Berg',
           'Nguyen', 'Østergaard', '山田', 'Rossi', 'Ivanova', 'Smith-Jones', 'Ó Súilleabháin', 'Şahin'])[1 + pg_temp.pick('customer.last', i, 16)],
    case when pg_temp.pct('customer.phone', i) < 30 then null
         else format('+49 %s %s', 30 + pg_temp.pick('customer.area', i, 60), lpad(pg_temp.pick('customer.phone', i, 10000000)::text, 7, '0')) end,
    case when pg_temp.pct('customer.birth', i) < 40 then null
         else date '1950-01-01' + pg_temp.pick('customer.birth', i, 20000)::integer end,
    pg_temp.pct('customer.opt_in', i) < 35,
    case pg_temp.pick('customer.tags', i, 5)
        when 0 then array['vip']
        when 1 then array['newsletter', null]
        when 2 then array['wholesale', 'früh-bucher', '常連']
        else '{}'::text[] end,
    case when pg_temp.pct('customer.prefs', i) < 10 then '{}'::jsonb
         else jsonb_build_object(
             'locale', (array['de-DE', 'fr-FR', 'en-GB', 'ja-JP', 'es-ES'])[1 + pg_temp.pick('customer.locale', i, 5)],
             'newsletter', jsonb_build_object(
                 'weekly', pg_temp.pct('customer.weekly', i) < 50,
                 'topics', case when pg_temp.pct('customer.topics', i) < 30 then '[]'::jsonb
                                else jsonb_build_array('deals', 'new-arrivals', jsonb_build_object('category', 'Küche & Haushalt')) end),
             'consent', jsonb_build_object('version', 3, 'given_at', v.created_at, 'channels', jsonb_build_array('email', null)),
             'nickname', case when pg_temp.pct('customer.nick', i) < 20 then 'Zoë 🌸 "the boss"' end) end,
    pg_temp.pick('customer.points', i, 5000)::integer,
    v.created_at,
    v.created_at + pg_temp.pick('customer.updated', i, 86400000000 * 60) * interval '1 microsecond'
from generate_series(1, $1::integer) as i
cross join lateral (
    select 1 + pg_temp.pick('customer.first', i, 16)::integer as name_no,
           pg_temp.moment('customer.created', i) as created_at
) as v`;

// $1 customers. A billing address for everyone, a separate shipping address for half.
const ADDRESSES_SQL = String.raw`
insert into addresses (address_id, customer_id, kind, line1, line2, city, region, postal_code,
                       country_code, is_default, created_at)
overriding system value
select
    row_number() over (order by c, k.n),
    c,
    k.kind,
    format('%s %s', 1 + pg_temp.pick('address.number', v.key, 200),
           (array['Königstraße', 'Rue de l''Église', '日本橋', '5th Avenue', 'O''Connell Street', 'Calle Mayor'])[v.country]),
    case pg_temp.pick('address.line2', v.key, 10)
        when 0 then 'Apt 4B'
        when 1 then 'c/o "Müller"'
        when 2 then 'Hinterhaus' || chr(10) || '3. OG'
        when 3 then ''
        else null end,
    (array['Berlin', 'Paris', '東京', 'New York', 'Dublin', 'Sevilla'])[v.country],
    case when pg_temp.pct('address.region', v.key) < 40 then null
         else (array['Berlin', 'Île-de-France', '東京都', 'NY', 'Leinster', 'Andalucía'])[v.country] end,
    lpad(pg_temp.pick('address.postal', v.key, 100000)::text, 5, '0'),
    (array['DE', 'FR', 'JP', 'US', 'IE', 'ES'])[v.country],
    true,
    pg_temp.moment('customer.created', c) + pg_temp.pick('address.created', v.key, 3600000000) * interval '1 microsecond'
from generate_series(1, $1::integer) as c
cross join (values (1, 'billing'), (2, 'shipping')) as k (n, kind)
cross join lateral (
    select c::bigint * 2 + k.n as key,
           1 + pg_temp.pick('address.country', c, 6)::integer as country
) as v
where k.n = 1 or pg_temp.pct('address.has_shipping', c) < 50`;

// $1 products
const PRODUCTS_SQL = String.raw`
insert into products (product_id, sku, name, description, category, price, weight_grams, attributes,
                      tags, thumbnail, is_active, created_at, updated_at)
overriding system value
select
    i,
    'SKU-' || lpad(i::text, 6, '0'),
    format('%s %s%s',
           (array['Classic', 'Organic', 'Ergonomic', 'Vintage', 'Café', 'Nordic', 'Handmade', 'Smart', 'Über', 'Mini'])[1 + pg_temp.pick('product.adjective', i, 10)],
           (array['Mug', 'T-Shirt', 'Tea Set 日本', 'Notebook', 'Lamp', 'Backpack', 'Headphones', 'Chair',
                  'Sneakers', 'Poster "Paris"', '12" Vinyl', 'Crème Brûlée Torch'])[1 + pg_temp.pick('product.noun', i, 12)],
           case when pg_temp.pct('product.gift', i) < 5 then ' 🎁' else '' end),
    case pg_temp.pick('product.description', i, 5)
        when 0 then null
        when 1 then 'Material:' || chr(9) || '100% cotton' || chr(10) || 'Care:' || chr(9) || 'wash at 30 °C'
        when 2 then 'Size guide: C:\shop\sizes\guide.pdf — fits "true to size", doesn''t shrink'
        when 3 then '職人の手作り。Handmade in Kyōto ✨'
        else 'A plain description.' end,
    (array['kitchen', 'apparel', 'home', 'electronics', 'outdoor', 'books', 'toys'])[1 + pg_temp.pick('product.category', i, 7)],
    case when pg_temp.pct('product.price_tier', i) < 60 then round((100 + pg_temp.pick('product.price', i, 4900)) / 100.0, 2)
         when pg_temp.pct('product.price_tier', i) < 90 then round((5000 + pg_temp.pick('product.price', i, 15000)) / 100.0, 2)
         else round((20000 + pg_temp.pick('product.price', i, 80000)) / 100.0, 2) end,
    case when pg_temp.pct('product.weight', i) < 15 then null else 50 + pg_temp.pick('product.weight', i, 20000)::integer end,
    jsonb_build_object(
        'dimensions', jsonb_build_object('width_cm', round(pg_temp.pick('product.width', i, 1000) / 10.0, 1),
                                         'height_cm', round(pg_temp.pick('product.height', i, 1000) / 10.0, 1),
                                         'unit', 'cm'),
        'colors', case pg_temp.pick('product.colors', i, 3)
                      when 0 then '[]'::jsonb
                      when 1 then jsonb_build_array('black', 'weiß', '藍色')
                      else jsonb_build_array('red', null) end,
        'care', null,
        'origin', jsonb_build_object('country', 'JP', 'note', 'tab' || chr(9) || 'and "quotes"')),
    case pg_temp.pick('product.tags', i, 4)
        when 0 then '{}'::text[]
        when 1 then array['sale', null]
        when 2 then array['bestseller', 'nouveauté']
        else array['eco'] end,
    case when pg_temp.pct('product.thumbnail', i) < 30 then null
         else decode('89504e470d0a1a0a0000000d49484452' || md5('thumbnail:' || i) || '0000000049454e44ae426082', 'hex') end,
    pg_temp.pct('product.active', i) < 93,
    pg_temp.moment('product.created', i),
    pg_temp.moment('product.created', i) + pg_temp.pick('product.updated', i, 86400000000 * 90) * interval '1 microsecond'
from generate_series(1, $1::integer) as i`;

// $1 products. BER1 stocks everything, AMS2 70% and NYC3 30% of the range.
const INVENTORY_SQL = String.raw`
insert into inventory (product_id, warehouse_code, quantity_on_hand, quantity_reserved, reorder_level,
                       bin_locations, updated_at)
select
    p,
    w.code,
    pg_temp.pick('inventory.on_hand', v.key, 500)::integer,
    pg_temp.pick('inventory.reserved', v.key, 20)::integer,
    10 + pg_temp.pick('inventory.reorder', v.key, 41)::integer,
    case pg_temp.pick('inventory.bins', v.key, 10)
        when 0 then null
        when 1 then '{}'::integer[]
        when 2 then array[1 + pg_temp.pick('inventory.bin_a', v.key, 999)::integer, null, 7]
        else array[1 + pg_temp.pick('inventory.bin_a', v.key, 999)::integer, 1 + pg_temp.pick('inventory.bin_b', v.key, 999)::integer] end,
    pg_temp.moment('inventory.updated', v.key)
from generate_series(1, $1::integer) as p
cross join (values (1, 'BER1'), (2, 'AMS2'), (3, 'NYC3')) as w (n, code)
cross join lateral (select p::bigint * 4 + w.n as key) as v
where w.n = 1
   or (w.n = 2 and pg_temp.pct('inventory.ams', p) < 70)
   or (w.n = 3 and pg_temp.pct('inventory.nyc', p) < 30)`;

// $1 orders, $2 products. Lines first (1-5 per order), so orders can carry their subtotal.
const ORDER_LINES_SQL = String.raw`
create temp table demo_order_lines as
select
    l.order_id,
    l.line_no,
    l.product_id,
    l.quantity,
    p.price as unit_price,
    l.discount_pct,
    l.gift_message,
    round(l.quantity * p.price * (100 - l.discount_pct) / 100, 2) as amount
from (
    select
        o as order_id,
        n::smallint as line_no,
        1 + pg_temp.pick('item.product', v.key, $2)::integer as product_id,
        case when pg_temp.pct('item.bulk', v.key) < 3 then 10 + pg_temp.pick('item.quantity', v.key, 40)
             else 1 + pg_temp.pick('item.quantity', v.key, 3) end::integer as quantity,
        case pg_temp.pick('item.discount', v.key, 10) when 0 then 10.00 when 1 then 33.33 else 0 end::numeric(5,2) as discount_pct,
        case pg_temp.pick('item.gift', v.key, 40)
            when 0 then 'Happy birthday! 🎂' || chr(10) || '— Anna'
            when 1 then 'Für dich: "Alles Gute" \o/'
            when 2 then 'お誕生日おめでとう'
            else null end as gift_message
    from generate_series(1, $1::integer) as o
    cross join lateral generate_series(1, 1 + pg_temp.pick('order.lines', o, 5)::integer) as n
    cross join lateral (select o::bigint * 8 + n as key) as v
) as l
join products as p using (product_id)`;

// $1 orders, $2 customers. Orders placed in id order across the window; the last two
// weeks are still open (pending / paid / shipped), older ones delivered; 4% cancelled,
// 2% refunded.
const ORDERS_SQL = String.raw`
insert into orders (order_id, order_number, customer_id, shipping_address_id, status, currency, subtotal,
                    shipping_fee, tax, total, notes, placed_at, paid_at, shipped_at, delivered_at,
                    cancelled_at, updated_at)
overriding system value
select
    o.order_id,
    pg_temp.uid('order', o.order_id),
    o.customer_id,
    case when pg_temp.pct('order.digital', o.order_id) < 10 then null
         else (select a.address_id from addresses as a where a.customer_id = o.customer_id order by a.kind desc limit 1) end,
    o.status,
    o.currency,
    o.subtotal,
    o.shipping_fee,
    o.tax,
    o.subtotal + o.shipping_fee + o.tax,
    case pg_temp.pick('order.notes', o.order_id, 20)
        when 0 then 'Please leave at the door' || chr(9) || 'thanks'
        when 1 then 'Line one' || chr(10) || 'Line two' || chr(13) || chr(10) || 'Line three'
        when 2 then 'Invoice to C:\Users\shop\invoice.pdf'
        when 3 then 'He said "fragile" — it''s a gift, don''t include the receipt'
        when 4 then '日本への配送 🚚 after 6pm'
        when 5 then ''
        else null end,
    o.placed_at,
    t.paid_at,
    t.shipped_at,
    t.delivered_at,
    t.cancelled_at,
    greatest(o.placed_at, t.paid_at, t.shipped_at, t.delivered_at, t.cancelled_at)
        + case when o.status = 'refunded' then interval '7 days 3.000042 seconds' else interval '0' end
from (
    select
        s.order_id,
        s.subtotal,
        case when s.subtotal >= 50 then 0 else 4.99 end as shipping_fee,
        round(s.subtotal * 0.19, 2) as tax,
        1 + pg_temp.pick('order.customer', s.order_id, $2) as customer_id,
        pg_temp.spread('order.placed', s.order_id, $1) as placed_at,
        case pg_temp.pick('order.currency', s.order_id, 20) when 0 then 'USD' when 1 then 'USD' when 2 then 'GBP' when 3 then 'CHF' else 'EUR' end as currency,
        case when pg_temp.pct('order.status', s.order_id) < 4 then 'cancelled'
             when pg_temp.pct('order.status', s.order_id) < 6 then 'refunded'
             when pg_temp.spread('order.placed', s.order_id, $1) < timestamptz '2026-10-17 00:00:00+00' then 'delivered'
             when pg_temp.pct('order.status', s.order_id) < 40 then 'pending'
             when pg_temp.pct('order.status', s.order_id) < 70 then 'paid'
             else 'shipped' end::order_status as status
    from (select order_id, sum(amount) as subtotal from pg_temp.demo_order_lines group by order_id) as s
) as o
cross join lateral (
    select o.placed_at + (30000000 + pg_temp.pick('order.paid', o.order_id, 3600000000)) * interval '1 microsecond' as paid_at
) as paid
cross join lateral (
    select
        case when o.status in ('paid', 'shipped', 'delivered', 'refunded') then paid.paid_at end as paid_at,
        case when o.status in ('shipped', 'delivered', 'refunded')
             then paid.paid_at + (86400000000 + pg_temp.pick('order.shipped', o.order_id, 172800000000)) * interval '1 microsecond' end as shipped_at,
        case when o.status in ('delivered', 'refunded')
             then paid.paid_at + (259200000000 + pg_temp.pick('order.delivered', o.order_id, 432000000000)) * interval '1 microsecond' end as delivered_at,
        case when o.status = 'cancelled'
             then o.placed_at + (60000000 + pg_temp.pick('order.cancelled', o.order_id, 7200000000)) * interval '1 microsecond' end as cancelled_at
) as t`;

const ORDER_ITEMS_SQL = String.raw`
insert into order_items (order_id, line_no, product_id, quantity, unit_price, discount_pct, gift_message)
select order_id, line_no, product_id, quantity, unit_price, discount_pct, gift_message
from pg_temp.demo_order_lines`;

// One payment per order (pending: half authorized, cancelled: half voided), plus a failed
// first attempt for 5% of orders. created_at follows the order, so rows land in the
// partition of the month the order was paid.
const PAYMENTS_SQL = String.raw`
insert into payments (payment_id, order_id, created_at, amount, currency, fx_rate, method, status,
                      provider_reference, card_last4, raw_response, metadata)
overriding system value
select
    row_number() over (order by p.order_id, p.attempt),
    p.order_id,
    p.created_at,
    p.amount,
    p.currency,
    case p.currency
        when 'EUR' then 1
        when 'USD' then 0.85 + pg_temp.pick('payment.fx', p.key, 100000000000000)::numeric / 1000000000000000
        when 'GBP' then 1.12 + pg_temp.pick('payment.fx', p.key, 100000000000000)::numeric / 1000000000000000
        else 1.04 + pg_temp.pick('payment.fx', p.key, 100000000000000)::numeric / 1000000000000000 end,
    v.method,
    p.status,
    case when v.method = 'voucher' then null else 'pi_' || substr(md5('payment:' || p.key), 1, 24) end,
    case when v.method = 'card' then lpad(pg_temp.pick('payment.card', p.key, 10000)::text, 4, '0') end,
    case when pg_temp.pct('payment.raw', p.key) < 50 then null
         else decode('7b22' || md5('raw:' || p.key) || '00ff000a0d095c22' || '7d', 'hex') end,
    case when pg_temp.pct('payment.metadata', p.key) < 40 then null
         else jsonb_build_object(
             'attempt', p.attempt,
             '3ds', jsonb_build_object('version', '2.2.0', 'eci', '05', 'challenged', pg_temp.pct('payment.3ds', p.key) < 30),
             'risk', jsonb_build_object('score', round(pg_temp.pick('payment.risk', p.key, 10000) / 100.0, 2), 'rules', jsonb_build_array('velocity', null)),
             'note', 'Zahlung über „Kreditkarte“ ✓') end
from (
    select
        o.order_id,
        2 as attempt,
        o.order_id * 2 + 2 as key,
        coalesce(o.paid_at, o.placed_at + (10000000 + pg_temp.pick('payment.created', o.order_id, 50000000)) * interval '1 microsecond') as created_at,
        o.total as amount,
        o.currency,
        case o.status when 'pending' then 'authorized' when 'cancelled' then 'voided' when 'refunded' then 'refunded' else 'captured' end as status
    from orders as o
    where o.status not in ('pending', 'cancelled') or pg_temp.pct('payment.exists', o.order_id) < 50
    union all
    select
        o.order_id,
        1,
        o.order_id * 2 + 1,
        o.placed_at + (1000000 + pg_temp.pick('payment.failed', o.order_id, 9000000)) * interval '1 microsecond',
        o.total,
        o.currency,
        'failed'
    from orders as o
    where pg_temp.pct('payment.failed', o.order_id) < 5
) as p
cross join lateral (
    select case pg_temp.pick('payment.method', p.key, 20)
               when 0 then 'voucher'
               when 1 then 'bank_transfer' when 2 then 'bank_transfer' when 3 then 'bank_transfer'
               when 4 then 'paypal' when 5 then 'paypal' when 6 then 'paypal' when 7 then 'paypal'
               else 'card' end as method
) as v`;

// $1 reviews, $2 orders, $3 products, $4 customers. 60% are verified (tied to an order
// and its first line); 10% have a body over 4 KB, which is stored out of line (TOAST).
const REVIEWS_SQL = String.raw`
insert into reviews (review_id, product_id, customer_id, order_id, rating, title, body, helpful_votes,
                     is_verified, language, created_at, updated_at)
overriding system value
select
    r,
    coalesce(li.product_id, 1 + pg_temp.pick('review.product', r, $3)::integer),
    coalesce(o.customer_id, 1 + pg_temp.pick('review.customer', r, $4)),
    o.order_id,
    case when pg_temp.pct('review.rating', r) < 40 then 5
         when pg_temp.pct('review.rating', r) < 65 then 4
         when pg_temp.pct('review.rating', r) < 80 then 3
         when pg_temp.pct('review.rating', r) < 88 then 2
         else 1 end,
    case pg_temp.pick('review.title', r, 8)
        when 0 then null
        when 1 then 'Great value 👍'
        when 2 then 'Très bien, mais…'
        when 3 then '最高です！'
        when 4 then 'Not what I expected: "XL" is really an M'
        when 5 then ''
        else 'Solid product' end,
    case when pg_temp.pct('review.long', r) < 10 then (
             select string_agg(format('%s [ref %s/%s]', (array[
                        'Arrived quickly and well packed.',
                        'The colour is a little darker than in the photos — still très chic.',
                        'Quality feels premium; the stitching is even and the zip runs smoothly.',
                        'After three weeks of daily use: no scratches, no wobble, no complaints.',
                        'Customer service answered within an hour (merci !).',
                        'Tab-separated specs:' || chr(9) || 'width' || chr(9) || 'height',
                        'Path on the manual: C:\Manuals\setup.pdf — worth reading.',
                        '日本語の説明書が付いていて助かりました。',
                        'It''s "fine", I guess 🤷',
                        'Would buy again 🎉🎉'])[1 + pg_temp.pick('review.sentence', r * 1000 + g, 10)],
                        md5(r || ':' || g), g), chr(10) order by g)
             from generate_series(1, 60 + pg_temp.pick('review.length', r, 40)::integer) as g)
         else concat_ws(chr(10),
             (array['Love it.', 'Does the job.', 'Meh.', 'Works as described — 5/5', 'Sehr gut 👌', 'Parfait !'])[1 + pg_temp.pick('review.short_a', r, 6)],
             case when pg_temp.pct('review.short_b', r) < 50 then 'Shipping took a while; the box said "fragile" \ handle with care.' end) end,
    case when pg_temp.pct('review.popular', r) < 5 then pg_temp.pick('review.votes', r, 500) else pg_temp.pick('review.votes', r, 20) end::integer,
    o.order_id is not null,
    case pg_temp.pick('review.language', r, 10) when 0 then null when 1 then 'de' when 2 then 'fr' when 3 then 'ja' else 'en' end,
    v.created_at,
    case when pg_temp.pct('review.edited', r) < 20 then v.created_at + pg_temp.pick('review.edited', r, 86400000000 * 30) * interval '1 microsecond' end
from generate_series(1, $1::integer) as r
left join orders as o on pg_temp.pct('review.verified', r) < 60 and o.order_id = 1 + pg_temp.pick('review.order', r, $2)
left join order_items as li on li.order_id = o.order_id and li.line_no = 1
cross join lateral (
    select coalesce(o.placed_at, pg_temp.moment('review.created', r))
           + pg_temp.pick('review.delay', r, 86400000000 * 30) * interval '1 microsecond' as created_at
) as v`;

// $1 events, $2 orders, $3 customers. A clickstream in time order; about one in five
// anonymous; events before October 2026 are already processed.
const EVENTS_SQL = String.raw`
insert into events (occurred_at, event_type, customer_id, order_id, session_id, source, ip_address, payload, processed)
select
    v.occurred_at,
    v.event_type,
    case when pg_temp.pct('event.anonymous', e) < 20 then null else 1 + pg_temp.pick('event.customer', e, $3) end,
    case when v.event_type = 'order_placed' then 1 + pg_temp.pick('event.order', e, $2) end,
    case when pg_temp.pct('event.session', e) < 5 then null else pg_temp.uid('session', e / 5) end,
    case pg_temp.pick('event.source', e, 20) when 0 then 'backoffice' when 1 then 'android' when 2 then 'android' when 3 then 'android'
        when 4 then 'ios' when 5 then 'ios' when 6 then 'ios' when 7 then 'ios' else 'web' end,
    case pg_temp.pick('event.ip', e, 10)
        when 0 then null
        when 1 then null
        when 2 then ('2001:db8::' || to_hex(pg_temp.pick('event.ip6', e, 65536)::integer))::inet
        else format('10.%s.%s.%s', pg_temp.pick('event.ip_b', e, 256), pg_temp.pick('event.ip_c', e, 256), pg_temp.pick('event.ip_d', e, 256))::inet end,
    case v.event_type
        when 'search' then jsonb_build_object(
            'query', (array['café', '日本 tea', 'mug 🎉', 'tab' || chr(9) || 'inside', 'back\slash', '"quoted"', ''])[1 + pg_temp.pick('event.query', e, 7)],
            'filters', jsonb_build_object('category', (array['kitchen', 'home', null])[1 + pg_temp.pick('event.filter', e, 3)],
                                          'price', jsonb_build_object('min', 10, 'max', null)),
            'results', pg_temp.pick('event.results', e, 200))
        when 'add_to_cart' then jsonb_build_object(
            'product_id', 1 + pg_temp.pick('event.product', e, 1000),
            'quantity', 1 + pg_temp.pick('event.quantity', e, 3),
            'price', round((100 + pg_temp.pick('event.price', e, 99900)) / 100.0, 2))
        when 'page_view' then jsonb_build_object(
            'path', '/products/' || (1 + pg_temp.pick('event.product', e, 1000)),
            'referrer', case when pg_temp.pct('event.referrer', e) < 50 then null else 'https://www.example.com/search?q=caf%C3%A9&x=1' end,
            'utm', jsonb_build_object('source', 'newsletter', 'campaign', 'été-2026', 'tags', jsonb_build_array()))
        else jsonb_build_object('v', 1) end,
    v.occurred_at < timestamptz '2026-10-01 00:00:00+00'
from generate_series(1, $1::integer) as e
cross join lateral (
    select
        pg_temp.spread('event.at', e, $1) as occurred_at,
        case pg_temp.pick('event.type', e, 20)
            when 0 then 'login'
            when 1 then 'order_placed'
            when 2 then 'checkout_started' when 3 then 'checkout_started'
            when 4 then 'add_to_cart' when 5 then 'add_to_cart' when 6 then 'add_to_cart'
            when 7 then 'search' when 8 then 'search' when 9 then 'search'
            else 'page_view' end as event_type
) as v`;

const ADVANCE_SEQUENCES_SQL = String.raw`
select setval(pg_get_serial_sequence('customers', 'customer_id'), (select max(customer_id) from customers));
select setval(pg_get_serial_sequence('addresses', 'address_id'), (select max(address_id) from addresses));
select setval(pg_get_serial_sequence('products', 'product_id'), (select max(product_id) from products));
select setval(pg_get_serial_sequence('orders', 'order_id'), (select max(order_id) from orders));
select setval(pg_get_serial_sequence('payments', 'payment_id'), (select max(payment_id) from payments));
select setval(pg_get_serial_sequence('reviews', 'review_id'), (select max(review_id) from reviews));
`;

// ---------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------

const USAGE = `Usage: npx tsx source_db_init/generate.ts --url postgres://… [--scale 1]

Fills the demo tables (schema.sql must have run; the tables must be empty) with
deterministic data: scale 1 is about 100k rows, scale 10 about 1M. Prints rows per table
as JSON. --url defaults to ELT_SOURCE_URL, then DATABASE_URL.`;

const flagsSchema = z.object({ url: sourceUrlSchema, scale: scaleSchema });

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      scale: { type: 'string', default: '1' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const flags = parseFlags(flagsSchema, { url: sourceUrlFrom(values.url), scale: values.scale });
  const started = performance.now();
  try {
    const counts = await generateDemoData(flags.url, { scale: flags.scale });
    const seconds = Math.round(performance.now() - started) / 1000;
    process.stdout.write(JSON.stringify({ scale: flags.scale, seconds, rows: counts }) + '\n');
  } catch (error) {
    const e = error as { code?: string };
    if (e.code === '42P01') {
      throw new DemoError(
        'The demo tables do not exist on that database.',
        'Run init.ts (or psql -f source_db_init/schema.sql) first.',
        { cause: error },
      );
    }
    if (e.code === '23505') {
      throw new DemoError(
        'The demo tables already hold rows.',
        'Generate into a fresh database (or truncate the demo tables first).',
        { cause: error },
      );
    }
    throw explainError(flags.url, error);
  }
}

if (isMainModule(import.meta.url)) runCli(main);
