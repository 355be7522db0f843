-- fct_order_items holds exactly the lines in staging (whose order exists): no line
-- missed by an incremental run, none left behind after a delete. The composite-key
-- counterpart of the relationships + covers_all_keys pair on the other facts.
-- Missed lines are checked only up to what the build could have seen; a line left behind
-- cannot be told from one hard-deleted after the build, so its severity comes from var
-- elt_reconciliation_severity (README, "Known limits").
{{ config(severity=var('elt_reconciliation_severity', 'warn')) }}
with

staged as (

    select
        order_items.order_id,
        order_items.line_no,
        greatest(order_items.synced_at, orders.synced_at) as synced_at

    from {{ ref('stg_order_items') }} as order_items
    inner join {{ ref('stg_orders') }} as orders
        on order_items.order_id = orders.order_id

),

built as (

    select
        order_id,
        line_no
    from {{ ref('fct_order_items') }}

),

missing as (

    -- only lines the build could have seen (see covers_all_keys' fence_column)
    select
        'missing from fct_order_items' as problem,
        order_id,
        line_no
    from staged
    where
        synced_at <= (
            select max(built_lines.synced_at) as built_until from {{ ref('fct_order_items') }} as built_lines
        )
    except
    select
        'missing from fct_order_items' as problem,
        order_id,
        line_no
    from built

),

left_behind as (

    select
        'left behind in fct_order_items' as problem,
        order_id,
        line_no
    from built
    except
    select
        'left behind in fct_order_items' as problem,
        order_id,
        line_no
    from staged

)

select * from missing
union all
select * from left_behind
