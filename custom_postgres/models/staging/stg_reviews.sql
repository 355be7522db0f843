with

source as (

    select * from {{ source('staging', 'reviews') }}

),

renamed as (

    select
        review_id,
        product_id,
        customer_id,
        order_id,
        rating::integer as rating,
        title::text as review_title,
        body as review_body,
        helpful_votes,
        is_verified,
        language::text as language_code,
        created_at,
        updated_at,
        _synced_at as synced_at

    from source
    where not _deleted

)

select * from renamed
