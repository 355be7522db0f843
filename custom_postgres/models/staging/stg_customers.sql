with

source as (

    select * from {{ source('staging', 'customers') }}

),

renamed as (

    select
        customer_id,
        external_id as customer_uuid,
        email::text as email,
        first_name::text as first_name,
        last_name::text as last_name,
        phone::text as phone,
        birth_date,
        marketing_opt_in as is_marketing_opt_in,
        tags,
        preferences,
        loyalty_points,
        created_at,
        updated_at,
        _synced_at as synced_at

    from source
    where not _deleted

)

select * from renamed
