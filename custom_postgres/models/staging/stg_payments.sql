with

source as (

    select * from {{ source('staging', 'payments') }}

),

renamed as (

    select
        payment_id,
        order_id,
        created_at,
        amount,
        currency::text as currency,
        fx_rate,
        method::text as payment_method,
        status::text as payment_status,
        provider_reference,
        card_last4::text as card_last4,
        metadata,
        _synced_at as synced_at

    from source
    where not _deleted

)

select * from renamed
