{#- The calendar day of a timestamptz in UTC, whatever the session's time zone. -#}
{% macro utc_date(column) -%}
    ({{ column }} at time zone 'UTC')::date
{%- endmacro %}

{#- Hours between two timestamptz values, null when either is missing. -#}
{% macro hours_between(start_column, end_column) -%}
    round((extract(epoch from ({{ end_column }} - {{ start_column }})) / 3600.0)::numeric, 2)
{%- endmacro %}
