-- daily_revenue adds up to the facts it summarises, per currency: no day lost or doubled.
with

daily as (

    select
        currency,
        sum(orders_placed) as orders_placed,
        sum(net_revenue) as net_revenue,
        sum(captured_amount) as captured_amount

    from {{ ref('daily_revenue') }}
    group by currency

),

orders as (

    select
        currency,
        count(*) as orders_placed,
        sum(net_revenue) as net_revenue

    from {{ ref('fct_orders') }}
    group by currency

),

payments as (

    select
        currency,
        sum(amount) filter (where is_captured) as captured_amount

    from {{ ref('fct_payments') }}
    group by currency

),

facts as (

    select
        coalesce(orders.currency, payments.currency) as currency,
        coalesce(orders.orders_placed, 0) as orders_placed,
        coalesce(orders.net_revenue, 0) as net_revenue,
        coalesce(payments.captured_amount, 0) as captured_amount

    from orders
    full outer join payments
        on orders.currency = payments.currency

)

select
    coalesce(daily.currency, facts.currency) as currency,
    daily.orders_placed as daily_orders_placed,
    facts.orders_placed as fact_orders_placed,
    daily.net_revenue as daily_net_revenue,
    facts.net_revenue as fact_net_revenue,
    daily.captured_amount as daily_captured_amount,
    facts.captured_amount as fact_captured_amount

from daily
full outer join facts
    on daily.currency = facts.currency
where
    daily.currency is null
    or facts.currency is null
    or daily.orders_placed <> facts.orders_placed
    or daily.net_revenue <> facts.net_revenue
    or daily.captured_amount <> facts.captured_amount
