-- The shop never keeps more money for an order than the order's total.
-- Only orders settled since the facts were built (macros/reconciliation.sql): a replica
-- that streams during the run must not make fct_orders and fct_order_items disagree here.
with

orders as (

    select * from {{ ref('fct_orders') }}

),

payments as (

    select * from {{ ref('fct_payments') }}

),

captured_per_order as (

    select
        order_id,
        sum(amount) as captured_amount

    from payments
    where is_captured
    group by order_id

)

select
    orders.order_id,
    orders.total,
    captured_per_order.captured_amount

from orders
inner join captured_per_order
    on orders.order_id = captured_per_order.order_id
where
    captured_per_order.captured_amount > orders.total
    and orders.order_id in {{ settled_order_ids() }}
