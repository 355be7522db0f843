{#-
    No two rows share the same values in `combination` (a composite key). Nulls count as
    values, as in a unique index created with NULLS NOT DISTINCT.
-#}
{% test unique_combination_of_columns(model, combination) %}

select
    {{ combination | join(', ') }},
    count(*) as duplicate_rows

from {{ model }}
group by {{ combination | join(', ') }}
having count(*) > 1

{% endtest %}
