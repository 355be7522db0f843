"""
### elt_maintenance_dag: prune soft-deleted rows, weekly full refresh, dbt docs

Daily by default (ELT_MAINTENANCE_SCHEDULE):

1. `request_prune` -> `wait_for_prune` (sensor, reschedule mode): ask the API
   (POST /v1/prune) for a prune job that removes the rows the replicator kept with
   ELT_DELETE_MODE=soft and marked deleted more than ELT_PRUNE_AFTER_DAYS days ago (default
   7; `off` asks for nothing), and wait for it. The replicator runs the job itself, in small
   chunks between its apply transactions: it is the only writer of `staging`, this DAG never
   writes there. Tables being resynced are left for the next pass. The staging views already
   hide these rows and the incremental marts drop keys missing upstream, so pruning changes
   no model's result.
2. `is_full_refresh_day` (short-circuit) -> `dbt_full_refresh`: once a week
   (ELT_FULL_REFRESH_WEEKDAY, default sunday) rebuild everything from scratch with
   `dbt build --full-refresh`, which also updates the `elt_marts` Asset.
3. `dbt_docs_generate`: the docs site's manifest and catalog (custom_postgres/target unless
   ELT_DBT_DOCS_TARGET_PATH says otherwise), after the refresh when there was one.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import PokeReturnValue, TriggerRule, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

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
    def request_prune() -> int | None:
        """Queue a prune job (POST /v1/prune) for rows deleted more than ELT_PRUNE_AFTER_DAYS days ago; its id."""
        from elt_common.connections import ApiError, EltApi

        if SETTINGS.prune_after_days is None:
            print(
                "ELT_PRUNE_AFTER_DAYS=off: no prune job requested (the replicator's ELT_SOFT_DELETE_RETENTION may prune)"
            )
            return None
        ctx = get_current_context()
        body = {"older_than": f"{SETTINGS.prune_after_days}d", "requested_by": f"airflow {DAG_ID} {ctx['run_id']}"}
        try:
            job = EltApi.resolve(SETTINGS.api_conn_id).request_prune(body)
        except ApiError as error:
            if error.transient:
                raise
            raise AirflowFailException(str(error)) from error
        print(f"prune job {job['id']} queued: rows soft-deleted more than {job['older_than']} ago")
        return int(job["id"])

    @task.sensor(mode="reschedule", poke_interval=SETTINGS.resync_poke_seconds, timeout=SETTINGS.resync_timeout_seconds)
    def wait_for_prune(job_id: int | None) -> PokeReturnValue:
        """Done when the replicator has finished the job; a failed job fails the task (no retry)."""
        from elt_common.connections import ApiError, EltApi
        from elt_common.decisions import prune_verdict

        if job_id is None:
            return PokeReturnValue(is_done=True)
        try:
            verdict = prune_verdict(EltApi.resolve(SETTINGS.api_conn_id).prune_job(job_id))
        except ApiError as error:
            if error.transient:
                print(f"not yet: {error}")
                return PokeReturnValue(is_done=False)
            raise AirflowFailException(str(error)) from error
        print(verdict.message)
        if verdict.finished and not verdict.succeeded:
            raise AirflowFailException(verdict.message)
        return PokeReturnValue(is_done=verdict.finished, xcom_value=job_id)

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def is_full_refresh_day() -> bool:
        from elt_common.decisions import is_full_refresh_day as decide
        from elt_common.decisions import parse_weekday

        ctx = get_current_context()
        day = ctx.get("data_interval_end") or ctx.get("logical_date") or pendulum.now("UTC")
        weekday = parse_weekday(SETTINGS.full_refresh_weekday)
        refresh = decide(day, weekday)
        print(
            f"{day:%A %Y-%m-%d}: {'full refresh' if refresh else 'no full refresh'} (weekly on {SETTINGS.full_refresh_weekday})"
        )
        return refresh

    @task.bash(pool=SETTINGS.dbt_pool, outlets=[MARTS_ASSET])
    def dbt_full_refresh() -> str:
        return _dbt_command("dbt_full_refresh", ("build", "--full-refresh"))

    @task.bash(pool=SETTINGS.dbt_pool, trigger_rule=TriggerRule.NONE_FAILED)
    def dbt_docs_generate() -> str:
        return _dbt_command(
            "dbt_docs_generate",
            ("docs", "generate"),
            target_path=os.environ.get("ELT_DBT_DOCS_TARGET_PATH") or os.path.join(SETTINGS.dbt_project_dir, "target"),
        )

    pruned = wait_for_prune(request_prune())
    refresh = dbt_full_refresh()
    pruned >> is_full_refresh_day() >> refresh >> dbt_docs_generate()


elt_maintenance_dag()
