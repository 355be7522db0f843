with

orders as (

    select * from {{ ref('fct_orders') }}

),

order_items as (

    select * from {{ ref('fct_order_items') }}

),

payments as (

    select * from {{ ref('fct_payments') }}

),

bookings_per_day as (

    select
        order_date as revenue_date,
        currency,
        count(*) as orders_placed,
        count(*) filter (where is_cancelled) as orders_cancelled,
        count(*) filter (where is_refunded) as orders_refunded,
        count(*) filter (where is_revenue) as revenue_orders,
        coalesce(sum(total) filter (where not is_cancelled), 0) as gross_revenue,
        sum(net_revenue) as net_revenue

    from orders
    group by order_date, currency

),

units_per_day as (

    select
        order_date as revenue_date,
        currency,
        sum(quantity) as units_sold

    from order_items
    where is_revenue
    group by order_date, currency

),

collections_per_day as (

    select
        payment_date as revenue_date,
        currency,
        coalesce(sum(amount) filter (where is_captured), 0) as captured_amount,
        coalesce(sum(amount_eur) filter (where is_captured), 0) as captured_amount_eur,
        coalesce(sum(amount_eur) filter (where is_refunded), 0) as refunded_amount_eur

    from payments
    group by payment_date, currency

),

days as (

    select
        revenue_date,
        currency
    from bookings_per_day
    union
    select
        revenue_date,
        currency
    from collections_per_day

),

daily as (

    select
        days.revenue_date,
        days.currency,
        coalesce(bookings_per_day.orders_placed, 0) as orders_placed,
        coalesce(bookings_per_day.orders_cancelled, 0) as orders_cancelled,
        coalesce(bookings_per_day.orders_refunded, 0) as orders_refunded,
        coalesce(units_per_day.units_sold, 0) as units_sold,
        coalesce(bookings_per_day.gross_revenue, 0) as gross_revenue,
        coalesce(bookings_per_day.net_revenue, 0) as net_revenue,
        round(
            bookings_per_day.net_revenue
            / nullif(bookings_per_day.revenue_orders, 0),
            2
        ) as average_order_value,
        coalesce(collections_per_day.captured_amount, 0) as captured_amount,
        coalesce(collections_per_day.captured_amount_eur, 0) as captured_amount_eur,
        coalesce(collections_per_day.refunded_amount_eur, 0) as refunded_amount_eur

    from days
    left join bookings_per_day
        on
            days.revenue_date = bookings_per_day.revenue_date
            and days.currency = bookings_per_day.currency
    left join units_per_day
        on
            days.revenue_date = units_per_day.revenue_date
            and days.currency = units_per_day.currency
    left join collections_per_day
        on
            days.revenue_date = collections_per_day.revenue_date
            and days.currency = collections_per_day.currency

)

select * from daily
