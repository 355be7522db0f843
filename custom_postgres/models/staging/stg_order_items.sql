with

source as (

    select * from {{ source('staging', 'order_items') }}

),

renamed as (

    select
        order_id,
        line_no::integer as line_no,
        product_id,
        quantity,
        unit_price,
        discount_pct,
        gift_message,
        _synced_at as synced_at

    from source
    where not _deleted

)

select * from renamed
