{#-
    Where a model lands. Target `prod` uses the folder's schema as it is (`stg`, `marts`),
    so the warehouse has stable names for dashboards and the API; any other target puts
    its own schema in front (`dev_marts`), so a developer's or a test's build never
    touches prod. dbt's default would always prefix (`marts_marts`).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- elif target.name == 'prod' -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ target.schema | trim }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
