with

source as (

    select * from {{ source('staging', 'addresses') }}

),

renamed as (

    select
        address_id,
        customer_id,
        kind::text as address_kind,
        line1 as address_line_1,
        line2 as address_line_2,
        city::text as city,
        region::text as region,
        postal_code::text as postal_code,
        country_code::text as country_code,
        is_default,
        created_at,
        _synced_at as synced_at

    from source
    where not _deleted

)

select * from renamed
