-- An order's subtotal is the sum of its lines after discounts (the shop computes it so).
-- Fails for every order where fct_orders and fct_order_items disagree, which also
-- catches an incremental run that updated one fact and not the other.
-- Only orders settled since the facts were built (macros/reconciliation.sql): a replica
-- that streams during the run must not make fct_orders and fct_order_items disagree here.
with

orders as (

    select * from {{ ref('fct_orders') }}

),

order_items as (

    select * from {{ ref('fct_order_items') }}

),

line_totals as (

    select
        order_id,
        sum(net_amount) as sum_of_lines,
        count(*) as line_count

    from order_items
    group by order_id

)

select
    orders.order_id,
    orders.subtotal,
    line_totals.sum_of_lines,
    line_totals.line_count

from orders
left join line_totals
    on orders.order_id = line_totals.order_id
where
    orders.subtotal <> coalesce(line_totals.sum_of_lines, 0)
    and orders.order_id in {{ settled_order_ids() }}
