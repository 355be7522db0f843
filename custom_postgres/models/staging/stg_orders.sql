with

source as (

    select * from {{ source('staging', 'orders') }}

),

renamed as (

    select
        order_id,
        order_number,
        customer_id,
        shipping_address_id,
        status::text as order_status,
        currency::text as currency,
        subtotal,
        shipping_fee,
        tax,
        total,
        notes,
        placed_at,
        paid_at,
        shipped_at,
        delivered_at,
        cancelled_at,
        updated_at,
        _synced_at as synced_at

    from source
    where not _deleted

)

select * from renamed
