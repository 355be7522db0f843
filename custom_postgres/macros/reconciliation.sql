{#-
    Orders whose rows in staging (the order, its lines, its payments) have not changed
    since every fact was built: the newest `synced_at` any fact saw is a lower bound of
    when it read staging, so an order whose staging rows are all at or before the oldest
    of those looked the same to every fact. Tests that compare facts with each other use
    it to skip orders a streaming replica changed in the middle of a run (those are
    checked by the next run). Orders deleted since then are not in staging and drop out
    too.
-#}
{% macro settled_order_ids() -%}
    (
        with

        fence as (

            select least(
                (select max(synced_at) from {{ ref('fct_orders') }}),
                (select max(synced_at) from {{ ref('fct_order_items') }}),
                (select max(synced_at) from {{ ref('fct_payments') }})
            ) as synced_at

        ),

        changed_since as (

            select order_id from {{ ref('stg_order_items') }}
            where synced_at > (select synced_at from fence)
            union
            select order_id from {{ ref('stg_payments') }}
            where synced_at > (select synced_at from fence)

        )

        select settled_orders.order_id
        from {{ ref('stg_orders') }} as settled_orders
        where settled_orders.synced_at <= (select synced_at from fence)
            and settled_orders.order_id not in (select order_id from changed_since)
    )
{%- endmacro %}
