{#-
    The two halves of keeping an incremental fact equal to a full rebuild while CDC
    changes arrive in `staging` (inserts, updates, hard or soft deletes).

    1. incremental_watermark(): which rows to (re)compute. Every replicated row carries
       `_synced_at` (exposed by the staging views as `synced_at`): the destination's now()
       of the replicator transaction that last wrote it. The facts keep the newest
       `synced_at` of their inputs, so "changed since the last run" is
       `synced_at > max(synced_at) in the fact - lookback`. The replicator is a single
       writer applying source transactions one after the other, and a transaction's rows
       become visible together, so a row committed after a run read `staging` has a later
       now() than anything that run saw, and rows at exactly the newest time were all
       seen (strict `>`: otherwise the first run after a snapshot would re-read every row
       of it, since they share one timestamp). The lookback (var
       `elt_incremental_lookback`) is a safety margin for writers that break that
       ordering (a resync running beside the stream, a clock step on the destination);
       rows read again are merged on their key again, which is harmless.

    2. delete_rows_missing_from(): hard deletes leave nothing behind in `staging` for a
       timestamp filter to find, so a post-hook removes the fact rows whose key no longer
       exists upstream (an anti-join on the key; soft-deleted rows are already gone from
       the staging views, so the same step handles ELT_DELETE_MODE=soft).
-#}

{% macro incremental_watermark(column='synced_at', relation=none) -%}
    {%- set relation = relation if relation is not none else this -%}
    (
        select
            coalesce(max({{ column }}), '-infinity'::timestamptz)
            - interval '{{ var("elt_incremental_lookback") }}'
        from {{ relation }}
    )
{%- endmacro %}

{% macro delete_rows_missing_from(upstream, key_columns) -%}
    delete from {{ this }} as fact
    where not exists (
        select 1
        from {{ upstream }} as upstream
        where
    {%- for key in key_columns %}
        {% if not loop.first %}and {% endif %}upstream.{{ key }} = fact.{{ key }}
    {%- endfor %}
    )
{%- endmacro %}
