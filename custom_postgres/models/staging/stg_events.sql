with

source as (

    select * from {{ source('staging', 'events') }}

),

renamed as (

    select
        occurred_at,
        event_type::text as event_type,
        customer_id,
        order_id,
        session_id,
        source::text as event_source,
        ip_address,
        payload,
        processed as is_processed,
        _synced_at as synced_at

    from source
    where not _deleted

)

select * from renamed
