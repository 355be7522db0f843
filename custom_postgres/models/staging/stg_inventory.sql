with

source as (

    select * from {{ source('staging', 'inventory') }}

),

renamed as (

    select
        product_id,
        warehouse_code::text as warehouse_code,
        quantity_on_hand,
        quantity_reserved,
        reorder_level,
        bin_locations,
        updated_at,
        _synced_at as synced_at

    from source
    where not _deleted

)

select * from renamed
