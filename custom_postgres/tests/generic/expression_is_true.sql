{#- Every row (optionally only those matching `where_condition`) satisfies `expression`. -#}
{% test expression_is_true(model, expression, column_name=none, where_condition='true') %}

select *
from {{ model }}
where ({{ where_condition }})
    and not coalesce(({{ expression }}), false)

{% endtest %}
