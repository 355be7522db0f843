with

products as (

    select * from {{ ref('stg_products') }}

),

inventory as (

    select * from {{ ref('stg_inventory') }}

),

reviews as (

    select * from {{ ref('stg_reviews') }}

),

order_items as (

    select * from {{ ref('fct_order_items') }}

),

stock_summary as (

    select
        product_id,
        count(*) as warehouse_count,
        sum(quantity_on_hand) as quantity_on_hand,
        sum(quantity_reserved) as quantity_reserved,
        sum(greatest(quantity_on_hand - quantity_reserved, 0)) as quantity_available,
        bool_or(quantity_on_hand - quantity_reserved <= reorder_level) as needs_reorder

    from inventory
    group by product_id

),

review_summary as (

    select
        product_id,
        count(*) as review_count,
        round(avg(rating), 2) as average_rating

    from reviews
    group by product_id

),

sales_summary as (

    select
        product_id,
        count(distinct order_id) as order_count,
        sum(quantity) as units_sold

    from order_items
    where is_revenue
    group by product_id

),

product_dimension as (

    select
        products.product_id,
        products.sku,
        products.product_name,
        products.category,
        products.price,
        products.weight_grams,
        products.tags,
        products.has_thumbnail,
        products.is_active,
        products.created_at,
        products.updated_at,
        coalesce(stock_summary.warehouse_count, 0) as warehouse_count,
        coalesce(stock_summary.quantity_on_hand, 0) as quantity_on_hand,
        coalesce(stock_summary.quantity_reserved, 0) as quantity_reserved,
        coalesce(stock_summary.quantity_available, 0) as quantity_available,
        coalesce(stock_summary.needs_reorder, false) as needs_reorder,
        coalesce(review_summary.review_count, 0) as review_count,
        review_summary.average_rating,
        coalesce(sales_summary.order_count, 0) as order_count,
        coalesce(sales_summary.units_sold, 0) as units_sold

    from products
    left join stock_summary
        on products.product_id = stock_summary.product_id
    left join review_summary
        on products.product_id = review_summary.product_id
    left join sales_summary
        on products.product_id = sales_summary.product_id

)

select * from product_dimension
