with

source as (

    select * from {{ source('staging', 'products') }}

),

renamed as (

    select
        product_id,
        sku::text as sku,
        name as product_name,
        description as product_description,
        category::text as category,
        price,
        weight_grams,
        attributes,
        tags,
        thumbnail is not null as has_thumbnail,
        is_active,
        created_at,
        updated_at,
        _synced_at as synced_at

    from source
    where not _deleted

)

select * from renamed
