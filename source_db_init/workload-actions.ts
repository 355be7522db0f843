/**
 * The transactions of the demo workload: what a shop's application does all day.
 *
 * Each action runs inside a transaction the caller opened, draws every choice from the
 * Rng it is given (so a retry repeats the same choices), reports each row it writes
 * through `ctx.write`, and returns false when there was nothing to act on (no open order
 * to advance, say) — that still commits, as an empty transaction.
 *
 * Money is computed in SQL, never in JS floats; ids travel as the strings pg returns.
 */
import type { QueryResult, QueryResultRow } from 'pg';
import type { DemoTable } from './generate.js';
import type { Rng } from './prng.js';

export type WriteKind = 'inserts' | 'updates' | 'deletes';

/** The largest ids seen, to pick rows near a random pivot; actions raise them as they insert. */
export interface IdBounds {
  customers: number;
  products: number;
  orders: number;
  reviews: number;
}

export interface ActionContext {
  readonly rng: Rng;
  readonly bounds: IdBounds;
  /** Read (or lock) inside the transaction. */
  query<R extends QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
  /** Write inside the transaction and count the rows it touched as `kind` on `table`. */
  write<R extends QueryResultRow>(
    table: DemoTable,
    kind: WriteKind,
    sql: string,
    params?: unknown[],
  ): Promise<QueryResult<R>>;
}

export type Action = (ctx: ActionContext) => Promise<boolean>;

export const ACTION_NAMES = [
  'place_order',
  'advance_order',
  'cancel_order',
  'delete_cancelled_order',
  'new_customer',
  'update_customer',
  'change_price',
  'post_review',
  'delete_review',
  'append_events',
  'update_event',
] as const;

export type ActionName = (typeof ACTION_NAMES)[number];

/** How often each action runs, relative to the others. */
export const ACTION_WEIGHTS: Readonly<Record<ActionName, number>> = {
  place_order: 26,
  advance_order: 20,
  cancel_order: 5,
  delete_cancelled_order: 4,
  new_customer: 7,
  update_customer: 8,
  change_price: 5,
  post_review: 9,
  delete_review: 3,
  append_events: 10,
  update_event: 3,
};

export const ACTIONS: Readonly<Record<ActionName, Action>> = {
  place_order: placeOrder,
  advance_order: advanceOrder,
  cancel_order: cancelOrder,
  delete_cancelled_order: deleteCancelledOrder,
  new_customer: newCustomer,
  update_customer: updateCustomer,
  change_price: changePrice,
  post_review: postReview,
  delete_review: deleteReview,
  append_events: appendEvents,
  update_event: updateEvent,
};

const FIRST_NAMES = [
  'Anna',
  'José',
  'Zoë',
  'Łukasz',
  'Søren',
  'Aiko',
  'Chloé',
  'Mehmet',
  'Ngozi',
  'Siobhán',
  '陽翔',
  "D'Arcy",
];
const LAST_NAMES = ['Müller', 'García', "O'Brien", 'Nakamura', 'Smith', 'Dubois', 'van der Berg', '山田', 'Şahin'];
const ORDER_NOTES = [
  null,
  null,
  null,
  null,
  'Leave at the door\tplease',
  'Ring twice\nthen wait',
  'Invoice: C:\\shop\\inv.pdf',
  'Say "hi" 👋',
  '',
];
const REVIEW_SENTENCES = [
  'Arrived quickly and well packed.',
  'The colour is a little darker than in the photos — still très chic.',
  'After a month of daily use: no scratches, no wobble.',
  '日本語の説明書が付いていて助かりました。',
  'It\'s "fine", I guess 🤷',
  'Specs:\twidth\theight',
  'Manual at C:\\Manuals\\setup.pdf',
];

// ---------------------------------------------------------------------------------------
// orders
// ---------------------------------------------------------------------------------------

/** A new order: the order, 1-5 lines, an authorized payment, stock taken, an event. */
async function placeOrder(ctx: ActionContext): Promise<boolean> {
  const { rng } = ctx;
  const customerId = await nearestCustomer(ctx);
  if (!customerId) return false;
  const wanted = Array.from({ length: rng.int(1, 5) }, () => rng.int(1, Math.max(1, ctx.bounds.products)));
  const { rows: products } = await ctx.query<{ product_id: number; price: string }>(
    `select product_id, price from products where product_id = any($1::integer[]) and is_active order by product_id`,
    [wanted],
  );
  if (products.length === 0) return false;
  const lines = products.map((product, index) => ({
    lineNo: index + 1,
    productId: product.product_id,
    price: product.price,
    quantity: rng.chance(0.05) ? rng.int(5, 12) : rng.int(1, 3),
  }));
  const currency = rng.pick(['EUR', 'EUR', 'EUR', 'EUR', 'USD', 'GBP', 'CHF']);
  const { rows: addresses } = await ctx.query<{ address_id: string }>(
    `select address_id from addresses where customer_id = $1 order by kind desc, address_id limit 1`,
    [customerId],
  );

  const { rows: orders } = await ctx.write<{ order_id: string; total: string }>(
    'orders',
    'inserts',
    `with amounts as (
         select sum(round(quantity * price, 2)) as subtotal
         from unnest($1::integer[], $2::numeric[]) as l (quantity, price)
     ), priced as (
         select subtotal,
                case when subtotal >= 50 then 0 else 4.99 end as shipping_fee,
                round(subtotal * 0.19, 2) as tax
         from amounts
     )
     insert into orders (order_number, customer_id, shipping_address_id, status, currency,
                         subtotal, shipping_fee, tax, total, notes)
     select gen_random_uuid(), $3::bigint, $4::bigint, 'pending'::order_status, $5::text, subtotal, shipping_fee, tax,
            subtotal + shipping_fee + tax, $6::text
     from priced
     returning order_id, total`,
    [
      lines.map((l) => l.quantity),
      lines.map((l) => l.price),
      customerId,
      addresses[0]?.address_id ?? null,
      currency,
      rng.pick(ORDER_NOTES),
    ],
  );
  const order = orders[0];
  if (!order) throw new Error('insert into orders returned no row');
  ctx.bounds.orders = Math.max(ctx.bounds.orders, Number(order.order_id));

  await ctx.write(
    'order_items',
    'inserts',
    `insert into order_items (order_id, line_no, product_id, quantity, unit_price, gift_message)
     select $1::bigint, line_no, product_id, quantity, price, $6::text
     from unnest($2::smallint[], $3::integer[], $4::integer[], $5::numeric[]) as l (line_no, product_id, quantity, price)`,
    [
      order.order_id,
      lines.map((l) => l.lineNo),
      lines.map((l) => l.productId),
      lines.map((l) => l.quantity),
      lines.map((l) => l.price),
      rng.chance(0.1) ? 'Alles Gute! 🎂\n— A.' : null,
    ],
  );

  const method = rng.pick(['card', 'card', 'card', 'paypal', 'bank_transfer', 'voucher']);
  await ctx.write(
    'payments',
    'inserts',
    `insert into payments (order_id, created_at, amount, currency, fx_rate, method, status, provider_reference, card_last4, metadata)
     values ($1, now(), $2, $3, $4, $5, 'authorized', $6, $7, $8)`,
    [
      order.order_id,
      order.total,
      currency,
      currency === 'EUR' ? '1' : (0.85 + rng.next() * 0.3).toFixed(15),
      method,
      method === 'voucher' ? null : `pi_${rng.hex(24)}`,
      method === 'card' ? String(rng.int(0, 9999)).padStart(4, '0') : null,
      rng.chance(0.5)
        ? JSON.stringify({
            attempt: 1,
            '3ds': { version: '2.2.0', challenged: rng.chance(0.3) },
            risk: { score: rng.int(0, 9999) / 100 },
          })
        : null,
    ],
  );

  // Lock inventory rows in product order, so concurrent orders do not deadlock.
  for (const line of [...lines].sort((a, b) => a.productId - b.productId)) {
    await ctx.write(
      'inventory',
      'updates',
      `update inventory
       set quantity_on_hand = case when quantity_on_hand >= $2 then quantity_on_hand - $2 else quantity_on_hand + 100 - $2 end,
           updated_at = now()
       where product_id = $1 and warehouse_code = 'BER1'`,
      [line.productId, line.quantity],
    );
  }
  await insertEvent(ctx, 'order_placed', customerId, order.order_id, {
    total: order.total,
    currency,
    lines: lines.length,
  });
  return true;
}

/** Move an open order one step: pending → paid → shipped → delivered; sometimes delivered → refunded. */
async function advanceOrder(ctx: ActionContext): Promise<boolean> {
  const refund = ctx.rng.chance(0.05);
  const order = await lockNearestOrder(ctx, refund ? ['delivered'] : ['pending', 'paid', 'shipped']);
  if (!order) return false;
  switch (order.status) {
    case 'pending': {
      await ctx.write(
        'orders',
        'updates',
        `update orders set status = 'paid', paid_at = now(), updated_at = now() where order_id = $1`,
        [order.order_id],
      );
      const captured = await ctx.write(
        'payments',
        'updates',
        `update payments set status = 'captured' where order_id = $1 and status = 'authorized'`,
        [order.order_id],
      );
      if (captured.rowCount === 0) {
        await ctx.write(
          'payments',
          'inserts',
          `insert into payments (order_id, created_at, amount, currency, method, status, provider_reference)
           select order_id, now(), total, currency, 'bank_transfer', 'captured', $2::text from orders where order_id = $1`,
          [order.order_id, `bt_${ctx.rng.hex(16)}`],
        );
      }
      break;
    }
    case 'paid':
      await ctx.write(
        'orders',
        'updates',
        `update orders set status = 'shipped', shipped_at = now(), updated_at = now() where order_id = $1`,
        [order.order_id],
      );
      break;
    case 'shipped':
      await ctx.write(
        'orders',
        'updates',
        `update orders set status = 'delivered', delivered_at = now(), updated_at = now() where order_id = $1`,
        [order.order_id],
      );
      break;
    case 'delivered':
      await ctx.write(
        'orders',
        'updates',
        `update orders set status = 'refunded', updated_at = now() where order_id = $1`,
        [order.order_id],
      );
      await ctx.write(
        'payments',
        'updates',
        `update payments set status = 'refunded' where order_id = $1 and status = 'captured'`,
        [order.order_id],
      );
      break;
    default:
      return false;
  }
  await insertEvent(ctx, 'order_status_changed', order.customer_id, order.order_id, { from: order.status });
  return true;
}

/** Cancel a pending or paid order: void or refund its payments and put the stock back. */
async function cancelOrder(ctx: ActionContext): Promise<boolean> {
  const order = await lockNearestOrder(ctx, ['pending', 'paid']);
  if (!order) return false;
  await ctx.write(
    'orders',
    'updates',
    `update orders set status = 'cancelled', cancelled_at = now(), updated_at = now() where order_id = $1`,
    [order.order_id],
  );
  await ctx.write(
    'payments',
    'updates',
    `update payments set status = case status when 'authorized' then 'voided' else 'refunded' end
     where order_id = $1 and status in ('authorized', 'captured')`,
    [order.order_id],
  );
  const { rows: items } = await ctx.query<{ product_id: number; quantity: number }>(
    `select product_id, sum(quantity)::integer as quantity from order_items where order_id = $1 group by product_id order by product_id`,
    [order.order_id],
  );
  for (const item of items) {
    await ctx.write(
      'inventory',
      'updates',
      `update inventory set quantity_on_hand = quantity_on_hand + $2, updated_at = now() where product_id = $1 and warehouse_code = 'BER1'`,
      [item.product_id, item.quantity],
    );
  }
  await insertEvent(ctx, 'order_cancelled', order.customer_id, order.order_id, {
    reason: ctx.rng.pick(['customer request', 'payment failed', 'out of stock']),
  });
  return true;
}

/** Hard-delete a cancelled order: its payments, its lines, the order; reviews lose the link. */
async function deleteCancelledOrder(ctx: ActionContext): Promise<boolean> {
  const order = await lockNearestOrder(ctx, ['cancelled']);
  if (!order) return false;
  await ctx.write('reviews', 'updates', `update reviews set order_id = null, updated_at = now() where order_id = $1`, [
    order.order_id,
  ]);
  await ctx.write('payments', 'deletes', `delete from payments where order_id = $1`, [order.order_id]);
  await ctx.write('order_items', 'deletes', `delete from order_items where order_id = $1`, [order.order_id]);
  await ctx.write('orders', 'deletes', `delete from orders where order_id = $1`, [order.order_id]);
  return true;
}

// ---------------------------------------------------------------------------------------
// customers and products
// ---------------------------------------------------------------------------------------

/** Sign-up: a customer, a billing address, sometimes a shipping address, an event. */
async function newCustomer(ctx: ActionContext): Promise<boolean> {
  const { rng } = ctx;
  const first = rng.pick(FIRST_NAMES);
  const last = rng.pick(LAST_NAMES);
  const { rows } = await ctx.write<{ customer_id: string }>(
    'customers',
    'inserts',
    `insert into customers (external_id, email, first_name, last_name, phone, marketing_opt_in, tags, preferences)
     values (gen_random_uuid(), 'new.' || substr(md5(gen_random_uuid()::text), 1, 12) || '@example.com', $1, $2, $3, $4, $5, $6)
     returning customer_id`,
    [
      first,
      last,
      rng.chance(0.5) ? `+33 6 ${rng.int(10000000, 99999999)}` : null,
      rng.chance(0.4),
      rng.chance(0.3) ? ['new', null] : [],
      JSON.stringify({ locale: rng.pick(['fr-FR', 'ja-JP', 'de-DE']), signup: { source: 'workload' } }),
    ],
  );
  const customerId = rows[0]?.customer_id;
  if (!customerId) throw new Error('insert into customers returned no row');
  ctx.bounds.customers = Math.max(ctx.bounds.customers, Number(customerId));
  const kinds = rng.chance(0.5) ? ['billing', 'shipping'] : ['billing'];
  for (const kind of kinds) {
    await ctx.write(
      'addresses',
      'inserts',
      `insert into addresses (customer_id, kind, line1, line2, city, postal_code, country_code, is_default)
       values ($1, $2, $3, $4, $5, $6, $7, true)`,
      [
        customerId,
        kind,
        `${rng.int(1, 200)} ${rng.pick(['Rue de Rivoli', 'Königsallee', '銀座'])}`,
        rng.chance(0.3) ? 'Bâtiment "B"' : null,
        rng.pick(['Paris', 'Düsseldorf', '東京']),
        String(rng.int(10000, 99999)),
        rng.pick(['FR', 'DE', 'JP']),
      ],
    );
  }
  await insertEvent(ctx, 'signup', customerId, null, {
    referrer: rng.chance(0.5) ? 'https://example.com/?q=café' : null,
  });
  return true;
}

/** A customer changes their email or name (updated_at follows). */
async function updateCustomer(ctx: ActionContext): Promise<boolean> {
  const customerId = await nearestCustomer(ctx);
  if (!customerId) return false;
  if (ctx.rng.chance(0.5)) {
    await ctx.write(
      'customers',
      'updates',
      `update customers set email = 'c' || customer_id || '.' || $2 || '@example.net', updated_at = greatest(now(), created_at) where customer_id = $1`,
      [customerId, ctx.rng.hex(6)],
    );
  } else {
    await ctx.write(
      'customers',
      'updates',
      `update customers set first_name = $2, last_name = $3, updated_at = greatest(now(), created_at) where customer_id = $1`,
      [customerId, ctx.rng.pick(FIRST_NAMES), ctx.rng.pick(LAST_NAMES)],
    );
  }
  return true;
}

/** A price change of -20% .. +25%. */
async function changePrice(ctx: ActionContext): Promise<boolean> {
  const productId = await nearestProduct(ctx);
  if (!productId) return false;
  const factor = (0.8 + ctx.rng.next() * 0.45).toFixed(4);
  await ctx.write(
    'products',
    'updates',
    `update products set price = greatest(round(price * $2::numeric, 2), 0.01), updated_at = now() where product_id = $1`,
    [productId, factor],
  );
  return true;
}

// ---------------------------------------------------------------------------------------
// reviews and events
// ---------------------------------------------------------------------------------------

/** A review; one in six has a body over 4 KB, stored out of line (TOAST). */
async function postReview(ctx: ActionContext): Promise<boolean> {
  const { rng } = ctx;
  const customerId = await nearestCustomer(ctx);
  const productId = await nearestProduct(ctx);
  if (!customerId || !productId) return false;
  const { rows } = await ctx.write<{ review_id: string }>(
    'reviews',
    'inserts',
    `insert into reviews (product_id, customer_id, rating, title, body, language)
     values ($1, $2, $3, $4, $5, $6)
     returning review_id`,
    [
      productId,
      customerId,
      rng.int(1, 5),
      rng.chance(0.2) ? null : rng.pick(['Love it ❤️', 'Bof…', 'As "advertised"']),
      reviewBody(rng, rng.chance(1 / 6)),
      rng.pick(['en', 'fr', 'ja', null]),
    ],
  );
  ctx.bounds.reviews = Math.max(ctx.bounds.reviews, Number(rows[0]?.review_id ?? 0));
  return true;
}

/** A moderator removes a review. */
async function deleteReview(ctx: ActionContext): Promise<boolean> {
  const pivot = ctx.rng.int(1, Math.max(1, ctx.bounds.reviews));
  const { rows } = await ctx.query<{ review_id: string }>(
    `select review_id from reviews where review_id >= $1 order by review_id limit 1 for update skip locked`,
    [pivot],
  );
  const reviewId = rows[0]?.review_id;
  if (!reviewId) return false;
  await ctx.write('reviews', 'deletes', `delete from reviews where review_id = $1`, [reviewId]);
  return true;
}

/** 1-5 clickstream events in one insert. */
async function appendEvents(ctx: ActionContext): Promise<boolean> {
  const { rng } = ctx;
  const count = rng.int(1, 5);
  const customerId = rng.chance(0.3) ? null : await nearestCustomer(ctx);
  const types = Array.from({ length: count }, () => rng.pick(['page_view', 'page_view', 'search', 'add_to_cart']));
  const payloads = types.map((type) =>
    JSON.stringify(
      type === 'search'
        ? { query: rng.pick(['café', '日本', 'tab\there', 'back\\slash', '🎉']), results: rng.int(0, 99) }
        : { path: `/products/${rng.int(1, 1000)}`, utm: { source: null } },
    ),
  );
  await ctx.write(
    'events',
    'inserts',
    `insert into events (occurred_at, event_type, customer_id, session_id, source, payload)
     select clock_timestamp(), event_type, $2::bigint, $3::uuid, $4::text, payload
     from unnest($1::text[], $5::jsonb[]) as e (event_type, payload)`,
    [types, customerId, uuidFrom(rng), rng.pick(['web', 'ios', 'android']), payloads],
  );
  return true;
}

/** Mark the newest unprocessed event as processed (events has replica identity full). */
async function updateEvent(ctx: ActionContext): Promise<boolean> {
  const { rowCount } = await ctx.write(
    'events',
    'updates',
    `update events set processed = true, payload = payload || jsonb_build_object('processed_by', $1::text)
     where ctid = any (array(select ctid from events where not processed order by occurred_at desc limit 1 for update skip locked))`,
    [`worker-${ctx.rng.int(1, 4)}`],
  );
  return (rowCount ?? 0) > 0;
}

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

async function insertEvent(
  ctx: ActionContext,
  type: string,
  customerId: string | null,
  orderId: string | null,
  payload: object,
): Promise<void> {
  await ctx.write(
    'events',
    'inserts',
    `insert into events (occurred_at, event_type, customer_id, order_id, source, payload) values (clock_timestamp(), $1, $2, $3, 'backoffice', $4)`,
    [type, customerId, orderId, JSON.stringify(payload)],
  );
}

/** The customer whose id is nearest a random pivot (ids may have gaps). */
async function nearestCustomer(ctx: ActionContext): Promise<string | undefined> {
  const pivot = ctx.rng.int(1, Math.max(1, ctx.bounds.customers));
  const { rows } = await ctx.query<{ customer_id: string }>(
    `(select customer_id from customers where customer_id >= $1 order by customer_id limit 1)
     union all
     (select customer_id from customers where customer_id < $1 order by customer_id desc limit 1)
     limit 1`,
    [pivot],
  );
  return rows[0]?.customer_id;
}

/** The active product whose id is nearest a random pivot. */
async function nearestProduct(ctx: ActionContext): Promise<number | undefined> {
  const pivot = ctx.rng.int(1, Math.max(1, ctx.bounds.products));
  const { rows } = await ctx.query<{ product_id: number }>(
    `(select product_id from products where product_id >= $1 and is_active order by product_id limit 1)
     union all
     (select product_id from products where product_id < $1 and is_active order by product_id desc limit 1)
     limit 1`,
    [pivot],
  );
  return rows[0]?.product_id;
}

interface LockedOrder {
  order_id: string;
  customer_id: string;
  status: string;
}

/** Lock the order in one of `statuses` nearest a random pivot, skipping rows others hold. */
async function lockNearestOrder(ctx: ActionContext, statuses: string[]): Promise<LockedOrder | undefined> {
  const pivot = ctx.rng.int(1, Math.max(1, ctx.bounds.orders));
  const above = await ctx.query<LockedOrder>(
    `select order_id, customer_id, status from orders
     where order_id >= $1 and status = any($2::order_status[])
     order by order_id limit 1 for update skip locked`,
    [pivot, statuses],
  );
  if (above.rows[0]) return above.rows[0];
  const below = await ctx.query<LockedOrder>(
    `select order_id, customer_id, status from orders
     where order_id < $1 and status = any($2::order_status[])
     order by order_id desc limit 1 for update skip locked`,
    [pivot, statuses],
  );
  return below.rows[0];
}

/** A review body; `long` ones are over 4 KB and mostly incompressible (hex references). */
function reviewBody(rng: Rng, long: boolean): string {
  if (!long) return `${rng.pick(REVIEW_SENTENCES)}\n${rng.pick(REVIEW_SENTENCES)}`;
  const parts: string[] = [];
  const target = 4500 + rng.int(0, 3000);
  let length = 0;
  while (length < target) {
    const part = `${rng.pick(REVIEW_SENTENCES)} [ref ${rng.hex(32)}]`;
    parts.push(part);
    length += part.length + 1;
  }
  return parts.join('\n');
}

function uuidFrom(rng: Rng): string {
  const hex = rng.hex(32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
