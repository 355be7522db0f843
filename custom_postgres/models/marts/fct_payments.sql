{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='payment_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['payment_id'], 'unique': true},
            {'columns': ['order_id']},
            {'columns': ['synced_at']},
        ],
        post_hook="{{ delete_rows_missing_from(ref('stg_payments'), ['payment_id']) }}",
    )
}}

with

payments as (

    select * from {{ ref('stg_payments') }}

    {% if is_incremental() %}
        where synced_at > {{ incremental_watermark() }}
    {% endif %}

),

payment_facts as (

    select
        payment_id,
        order_id,
        created_at,
        {{ utc_date('created_at') }} as payment_date,
        payment_method,
        payment_status,
        currency,
        amount,
        fx_rate,
        {{ to_eur('amount', 'fx_rate') }} as amount_eur,
        payment_status = 'captured' as is_captured,
        payment_status = 'refunded' as is_refunded,
        card_last4,
        synced_at

    from payments

)

select * from payment_facts
