{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['order_id', 'line_no'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['order_id', 'line_no'], 'unique': true},
            {'columns': ['product_id']},
            {'columns': ['synced_at']},
        ],
        post_hook="{{ delete_rows_missing_from(ref('stg_order_items'), ['order_id', 'line_no']) }}",
    )
}}

with

order_items as (

    select * from {{ ref('stg_order_items') }}

),

orders as (

    select * from {{ ref('stg_orders') }}

),

{% if is_incremental() %}
-- A line is recomputed when it changed or when its order did (status, dates and
-- currency are copied onto every line).
    changed_orders as (

        select order_id from order_items
        where synced_at > {{ incremental_watermark() }}

        union

        select order_id from orders
        where synced_at > {{ incremental_watermark() }}

    ),
{% endif %}

order_item_facts as (

    select
        order_items.order_id,
        order_items.line_no,
        order_items.product_id,
        orders.customer_id,
        orders.order_status,
        orders.placed_at,
        {{ utc_date('orders.placed_at') }} as order_date,
        orders.currency,
        order_items.quantity,
        order_items.unit_price,
        order_items.discount_pct,
        order_items.quantity * order_items.unit_price as gross_amount,
        {{ line_net_amount(
            'order_items.quantity',
            'order_items.unit_price',
            'order_items.discount_pct'
        ) }} as net_amount,
        order_items.quantity * order_items.unit_price
        - {{ line_net_amount(
            'order_items.quantity',
            'order_items.unit_price',
            'order_items.discount_pct',
        ) }} as discount_amount,
        order_items.gift_message is not null as is_gift,
        orders.order_status not in ('cancelled', 'refunded') as is_revenue,
        greatest(order_items.synced_at, orders.synced_at) as synced_at

    from order_items
    inner join orders
        on order_items.order_id = orders.order_id

    {% if is_incremental() %}
        where order_items.order_id in (select changed_orders.order_id from changed_orders)
    {% endif %}

)

select * from order_item_facts
