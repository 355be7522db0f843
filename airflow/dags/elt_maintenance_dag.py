"""
### elt_maintenance_dag: prune soft-deleted rows, weekly full refresh, dbt docs

Daily by default (ELT_MAINTENANCE_SCHEDULE):

1. `prune_soft_deleted`: in every `staging` table that has `_deleted` (rows the replicator
   kept with ELT_DELETE_MODE=soft), delete the rows marked deleted more than
   ELT_PRUNE_AFTER_DAYS days ago (default 7), in batches. Tables being resynced are left for
   the next day. The staging views already hide these rows and the incremental marts drop
   keys missing upstream, so pruning changes no model's result.
2. `is_full_refresh_day` (short-circuit) -> `dbt_full_refresh`: once a week
   (ELT_FULL_REFRESH_WEEKDAY, default sunday) rebuild everything from scratch with
   `dbt build --full-refresh`, which also updates the `elt_marts` Asset.
3. `dbt_docs_generate`: the docs site's manifest and catalog (custom_postgres/target unless
   ELT_DBT_DOCS_TARGET_PATH says otherwise), after the refresh when there was one.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import TriggerRule, dag, get_current_context, task

from elt_common.assets import MARTS_ASSET
from elt_common.callbacks import default_task_args, on_dag_failure
from elt_common.settings import load_settings

SETTINGS = load_settings()
DAG_ID = "elt_maintenance_dag"


def _dbt_command(task_id: str, args: tuple[str, ...], target_path: str | None = None) -> str:
    from elt_common.connections import resolve_destination
    from elt_common.dbt import check_dbt_available, dbt_command

    check_dbt_available(SETTINGS)
    os.environ.update(resolve_destination(SETTINGS.destination_conn_id).dbt_env())
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return dbt_command(SETTINGS, DAG_ID, task_id, args, target_path=target_path)


@dag(
    dag_id=DAG_ID,
    schedule=SETTINGS.maintenance_schedule,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["elt", "dbt", "maintenance"],
    doc_md=__doc__,
    on_failure_callback=on_dag_failure,
    default_args=default_task_args(SETTINGS),
)
def elt_maintenance_dag():
    @task
    def prune_soft_deleted() -> dict[str, int]:
        """Delete soft-deleted rows older than ELT_PRUNE_AFTER_DAYS from staging; rows removed per table."""
        import psycopg2

        from elt_common.connections import resolve_destination
        from elt_common.decisions import prunable_tables, prune_sql

        removed: dict[str, int] = {}
        conn = psycopg2.connect(application_name="elt-airflow-prune", **resolve_destination(SETTINGS.destination_conn_id).psycopg2_kwargs())
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = 'staging' AND column_name IN ('_deleted', '_synced_at')"
                )
                columns = cur.fetchall()
                cur.execute("SELECT to_regclass('elt.tables') IS NOT NULL")
                skip: dict[str, str] = {}
                if cur.fetchone()[0]:
                    cur.execute("SELECT target_schema || '.' || target_table, state FROM elt.tables WHERE state <> 'streaming'")
                    skip = dict(cur.fetchall())
                for schema, table in prunable_tables(columns, skip):
                    total = 0
                    while True:
                        cur.execute(prune_sql(schema, table, SETTINGS.prune_batch_rows), {"days": SETTINGS.prune_after_days})
                        total += cur.rowcount
                        if cur.rowcount < SETTINGS.prune_batch_rows:
                            break
                    removed[f"{schema}.{table}"] = total
                    print(f"{schema}.{table}: removed {total} rows soft-deleted more than {SETTINGS.prune_after_days} days ago")
                for name, state in skip.items():
                    print(f"{name}: skipped (state {state})")
        finally:
            conn.close()
        return removed

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def is_full_refresh_day() -> bool:
        from elt_common.decisions import is_full_refresh_day as decide
        from elt_common.decisions import parse_weekday

        ctx = get_current_context()
        day = ctx.get("data_interval_end") or ctx.get("logical_date") or pendulum.now("UTC")
        weekday = parse_weekday(SETTINGS.full_refresh_weekday)
        refresh = decide(day, weekday)
        print(f"{day:%A %Y-%m-%d}: {'full refresh' if refresh else 'no full refresh'} (weekly on {SETTINGS.full_refresh_weekday})")
        return refresh

    @task.bash(pool=SETTINGS.dbt_pool, outlets=[MARTS_ASSET])
    def dbt_full_refresh() -> str:
        return _dbt_command("dbt_full_refresh", ("build", "--full-refresh"))

    @task.bash(pool=SETTINGS.dbt_pool, trigger_rule=TriggerRule.NONE_FAILED)
    def dbt_docs_generate() -> str:
        return _dbt_command("dbt_docs_generate", ("docs", "generate"), target_path=os.environ.get("ELT_DBT_DOCS_TARGET_PATH") or os.path.join(SETTINGS.dbt_project_dir, "target"))

    pruned = prune_soft_deleted()
    refresh = dbt_full_refresh()
    pruned >> is_full_refresh_day() >> refresh >> dbt_docs_generate()


elt_maintenance_dag()
