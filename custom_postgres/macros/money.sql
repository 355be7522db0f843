{#- Amount arithmetic shared by the marts, rounded the way the shop rounds (2 places). -#}

{#- A payment amount in EUR: `fx_rate` is EUR per unit of the payment's currency. -#}
{% macro to_eur(amount, fx_rate) -%}
    round({{ amount }} * {{ fx_rate }}, 2)
{%- endmacro %}

{#- What a line costs after its discount; the sum over an order's lines is its subtotal. -#}
{% macro line_net_amount(quantity, unit_price, discount_pct) -%}
    round({{ quantity }} * {{ unit_price }} * (1 - {{ discount_pct }} / 100.0), 2)
{%- endmacro %}
