{#-
    Every key of `to` (`field`, default: the same column name) is present in this model's
    `column_name`: the counterpart of `relationships`. On an incremental model fed by CDC,
    `relationships` to its staging model proves no deleted row was left behind and this
    test proves no new or changed row was missed: together, the key sets are equal.
    `to_condition` narrows the keys that must be covered (e.g. rows the model filters out).
-#}
{% test covers_all_keys(model, column_name, to, field=none, to_condition='true') %}

with

expected as (

    select {{ field or column_name }} as key_value
    from {{ to }}
    where {{ to_condition }}

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
