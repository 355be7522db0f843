with

customers as (

    select * from {{ ref('stg_customers') }}

),

addresses as (

    select * from {{ ref('stg_addresses') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

payments as (

    select * from {{ ref('fct_payments') }}

),

default_shipping_addresses as (

    select
        customer_id,
        city as default_shipping_city,
        country_code as default_shipping_country_code

    from addresses
    where address_kind = 'shipping' and is_default

),

order_summary as (

    select
        customer_id,
        min(placed_at) as first_order_at,
        max(placed_at) as last_order_at,
        count(*) as order_count,
        count(*) filter (where is_revenue) as revenue_order_count,
        count(*) filter (where is_cancelled) as cancelled_order_count

    from orders
    group by customer_id

),

payment_summary as (

    select
        orders.customer_id,
        sum(payments.amount_eur) filter (
            where payments.is_captured
        ) as lifetime_paid_eur,
        sum(payments.amount_eur) filter (
            where payments.is_refunded
        ) as lifetime_refunded_eur

    from payments
    inner join orders
        on payments.order_id = orders.order_id
    group by orders.customer_id

),

customer_dimension as (

    select
        customers.customer_id,
        customers.customer_uuid,
        customers.email,
        customers.first_name,
        customers.last_name,
        customers.first_name || ' ' || customers.last_name as full_name,
        customers.phone,
        customers.birth_date,
        customers.is_marketing_opt_in,
        customers.loyalty_points,
        customers.tags,
        default_shipping_addresses.default_shipping_city,
        default_shipping_addresses.default_shipping_country_code,
        customers.created_at,
        customers.updated_at,
        order_summary.first_order_at,
        order_summary.last_order_at,
        coalesce(order_summary.order_count, 0) as order_count,
        coalesce(order_summary.revenue_order_count, 0) as revenue_order_count,
        coalesce(order_summary.cancelled_order_count, 0) as cancelled_order_count,
        coalesce(payment_summary.lifetime_paid_eur, 0) as lifetime_paid_eur,
        coalesce(payment_summary.lifetime_refunded_eur, 0) as lifetime_refunded_eur,
        case
            when coalesce(order_summary.revenue_order_count, 0) = 0 then 'prospect'
            when order_summary.revenue_order_count = 1 then 'new'
            else 'returning'
        end as customer_type

    from customers
    left join default_shipping_addresses
        on customers.customer_id = default_shipping_addresses.customer_id
    left join order_summary
        on customers.customer_id = order_summary.customer_id
    left join payment_summary
        on customers.customer_id = payment_summary.customer_id

)

select * from customer_dimension
