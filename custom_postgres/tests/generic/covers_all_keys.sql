{#-
    Every key of `to` (`field`, default: the same column name) is present in this model's
    `column_name`: the counterpart of `relationships`. On an incremental model fed by CDC,
    `relationships` to its staging model proves no deleted row was left behind and this
    test proves no new or changed row was missed: together, the key sets are equal.

    `fence_column` (e.g. synced_at) makes it safe on a replica that keeps streaming while
    dbt runs: only upstream rows written at or before the newest `fence_column` value in
    this model must be present, so rows that arrived after the model was built are not
    counted as missed. `to_condition` narrows the keys further.
-#}
{% test covers_all_keys(model, column_name, to, field=none, fence_column=none, to_condition='true') %}

with

expected as (

    select upstream.{{ field or column_name }} as key_value
    from {{ to }} as upstream
    where ({{ to_condition }})
    {% if fence_column %}
        and upstream.{{ fence_column }} <= (
            select max({{ fence_column }}) from {{ model }}
        )
    {% endif %}

),

present as (

    select {{ column_name }} as key_value
    from {{ model }}

),

missing as (

    select expected.key_value
    from expected
    left join present
        on expected.key_value = present.key_value
    where present.key_value is null

)

select * from missing

{% endtest %}
