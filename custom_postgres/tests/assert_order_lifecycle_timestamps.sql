-- Each status has the timestamps of the steps before it, in order:
-- placed <= paid <= shipped <= delivered.
-- The shop takes these timestamps with now(), the start of the writing transaction, and
-- steps of one order can be written by overlapping transactions; the demo workload
-- shows steps up to a fraction of a second "out of order" that way. Order is therefore
-- checked with a tolerance of one minute; a missing timestamp is always an error.
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
    or paid_at < placed_at - interval '1 minute'
    or shipped_at < paid_at - interval '1 minute'
    or delivered_at < shipped_at - interval '1 minute'
