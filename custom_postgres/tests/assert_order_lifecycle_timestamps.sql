-- Each status has the timestamps of the steps before it, in order:
-- placed <= paid <= shipped <= delivered.
select
    order_id,
    order_status,
    placed_at,
    paid_at,
    shipped_at,
    delivered_at

from {{ ref('fct_orders') }}
where
    (order_status in ('paid', 'shipped', 'delivered') and paid_at is null)
    or (order_status in ('shipped', 'delivered') and shipped_at is null)
    or (order_status = 'delivered' and delivered_at is null)
    or paid_at < placed_at
    or shipped_at < paid_at
    or delivered_at < shipped_at
