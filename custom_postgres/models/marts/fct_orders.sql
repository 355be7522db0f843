{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['order_id'], 'unique': true},
            {'columns': ['synced_at']},
        ],
        post_hook="{{ delete_rows_missing_from(ref('stg_orders'), ['order_id']) }}",
    )
}}

with

orders as (

    select * from {{ ref('stg_orders') }}

    {% if is_incremental() %}
        where synced_at > {{ incremental_watermark() }}
    {% endif %}

),

order_facts as (

    select
        order_id,
        order_number,
        customer_id,
        shipping_address_id,
        order_status,
        currency,
        subtotal,
        shipping_fee,
        tax,
        total,
        placed_at,
        {{ utc_date('placed_at') }} as order_date,
        paid_at,
        shipped_at,
        delivered_at,
        cancelled_at,
        order_status = 'cancelled' as is_cancelled,
        order_status = 'refunded' as is_refunded,
        order_status not in ('cancelled', 'refunded') as is_revenue,
        case
            when order_status in ('cancelled', 'refunded') then 0
            else total
        end as net_revenue,
        {{ hours_between('placed_at', 'paid_at') }} as hours_to_payment,
        {{ hours_between('placed_at', 'shipped_at') }} as hours_to_ship,
        {{ hours_between('shipped_at', 'delivered_at') }} as hours_in_transit,
        updated_at,
        synced_at

    from orders

)

select * from order_facts
