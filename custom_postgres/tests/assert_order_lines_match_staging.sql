-- fct_order_items holds exactly the lines in staging (whose order exists): no line
-- missed by an incremental run, none left behind after a delete. The composite-key
-- counterpart of the relationships + covers_all_keys pair on the other facts.
with

staged as (

    select order_items.order_id, order_items.line_no
    from {{ ref('stg_order_items') }} as order_items
    inner join {{ ref('stg_orders') }} as orders
        on order_items.order_id = orders.order_id

),

built as (

    select order_id, line_no
    from {{ ref('fct_order_items') }}

),

missing as (

    select 'missing from fct_order_items' as problem, * from staged
    except
    select 'missing from fct_order_items', * from built

),

left_behind as (

    select 'left behind in fct_order_items' as problem, * from built
    except
    select 'left behind in fct_order_items', * from staged

)

select * from missing
union all
select * from left_behind
