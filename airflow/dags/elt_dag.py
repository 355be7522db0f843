"""
### elt_dag: replica caught up -> repaired if broken -> fresh -> dbt staging -> marts -> tested

1. `wait_for_replication` (sensor, reschedule mode: no worker slot while it waits) polls
   GET /v1/status until the replicator streams with a fresh heartbeat and its lag is
   under `max_lag_seconds` (or the slot is lost, which waiting cannot fix).
2. `check_replica` (branch) reads GET /v1/tables and GET /v1/verify: tables in `error`, tables
   whose last verification (`elt verify`) found differing rows, or a lost slot go to
   `request_resync` (POST /v1/resync) and `wait_for_resync` (sensor on the job); a healthy
   replica goes straight on. A resync that fails or leaves a table in error fails
   `wait_for_resync`, and dbt does not run: marts are never built from a broken replica.
3. `dbt_source_freshness`, then one task per dbt layer (`dbt build`): staging, marts, and
   the cross-layer reconciliation tests. The last one updates the `elt_marts` Asset
   (elt_common.assets.MARTS_ASSET) that downstream DAGs can be scheduled on.

Every task retries with exponential backoff (except failures retrying cannot fix) and logs a
one-block summary when it fails. Settings: environment (ELT_DAG_SCHEDULE, ELT_MAX_LAG_SECONDS,
...; see airflow/README.md). Connections: `elt_api` and `elt_destination`, or ELT_API_URL /
ELT_API_TOKEN and ELT_DESTINATION_URL.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, PokeReturnValue, TriggerRule, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from elt_common.assets import MARTS_ASSET
from elt_common.callbacks import default_task_args, on_dag_failure
from elt_common.dbt import LAYERS
from elt_common.settings import load_settings

SETTINGS = load_settings()


@dag(
    schedule=SETTINGS.schedule,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["elt", "dbt"],
    doc_md=__doc__,
    on_failure_callback=on_dag_failure,
    params={
        "max_lag_seconds": Param(
            SETTINGS.max_lag_seconds,
            type="number",
            minimum=0,
            description="dbt waits until the replica is at most this far behind",
        ),
    },
    default_args=default_task_args(SETTINGS),
)
def elt_dag():
    @task.sensor(
        mode="reschedule",
        poke_interval=SETTINGS.lag_poke_seconds,
        timeout=SETTINGS.lag_timeout_seconds,
    )
    def wait_for_replication(params: dict | None = None) -> PokeReturnValue:
        """Done when the replica is caught up (or its slot is lost); the status goes to XCom."""
        from elt_common.connections import ApiError, EltApi
        from elt_common.decisions import lag_verdict

        api = EltApi.resolve(SETTINGS.api_conn_id)
        try:
            status = api.status()
        except ApiError as error:
            if not error.transient and error.status in (400, 401, 403):
                raise AirflowFailException(str(error)) from error
            print(f"not yet: {error}")
            return PokeReturnValue(is_done=False)
        verdict = lag_verdict(
            status, float((params or {}).get("max_lag_seconds", SETTINGS.max_lag_seconds)), SETTINGS.max_lag_bytes
        )
        print(("done: " if verdict.done else "not yet: ") + verdict.reason)
        return PokeReturnValue(is_done=verdict.done, xcom_value=status)

    @task.branch
    def check_replica(status: dict) -> str:
        """Tables in error or differing from the source, or a lost slot -> request_resync; otherwise dbt_source_freshness."""
        from elt_common.connections import EltApi
        from elt_common.decisions import plan_repair

        api = EltApi.resolve(SETTINGS.api_conn_id)
        plan = plan_repair(status, api.tables(), api.verify_results())
        if not plan.needed:
            print("replica healthy: every table streaming, slot not lost")
            return "dbt_source_freshness"
        for reason in plan.reasons:
            print(f"repair needed: {reason}")
        return "request_resync"

    @task
    def request_resync() -> list[int]:
        """Queue the resync the current state asks for (read again: it may have changed); returns job ids."""
        from elt_common.connections import ApiError, EltApi
        from elt_common.decisions import plan_repair

        api = EltApi.resolve(SETTINGS.api_conn_id)
        ctx = get_current_context()
        for attempt in (1, 2):
            plan = plan_repair(api.status(), api.tables(), api.verify_results())
            body = plan.request_body(requested_by=f"airflow {ctx['dag'].dag_id} {ctx['run_id']}")
            if body is None:
                print(
                    f"waiting for resync jobs already queued: {list(plan.existing_jobs)}"
                    if plan.existing_jobs
                    else "nothing to repair any more"
                )
                return list(plan.existing_jobs)
            try:
                job = api.request_resync(body)
            except ApiError as error:
                if error.status == 409 and attempt == 1:  # queued by someone else meanwhile: wait for theirs
                    continue
                if error.transient:
                    raise
                raise AirflowFailException(str(error)) from error
            print(f"resync job {job['id']} queued for {[t['table'] for t in job.get('tables', [])]}")
            return sorted({int(job["id"]), *plan.existing_jobs})
        raise AirflowFailException("the resync request kept conflicting with other jobs (409): see GET /v1/resync")

    @task.sensor(
        mode="reschedule",
        poke_interval=SETTINGS.resync_poke_seconds,
        timeout=SETTINGS.resync_timeout_seconds,
    )
    def wait_for_resync(job_ids: list[int]) -> PokeReturnValue:
        """Done when every job succeeded and no table is left in error; a failed job fails the task (no retry)."""
        from elt_common.connections import ApiError, EltApi
        from elt_common.decisions import job_verdict, tables_still_broken

        api = EltApi.resolve(SETTINGS.api_conn_id)
        try:
            verdicts = [job_verdict(api.job(job_id)) for job_id in job_ids]
        except ApiError as error:
            if error.transient:
                print(f"not yet: {error}")
                return PokeReturnValue(is_done=False)
            raise AirflowFailException(str(error)) from error
        for verdict in verdicts:
            print(verdict.message)
        failed = [v.message for v in verdicts if v.finished and not v.succeeded]
        if failed:
            raise AirflowFailException("; ".join(failed))
        if not all(v.finished for v in verdicts):
            return PokeReturnValue(is_done=False)
        broken = tables_still_broken(api.tables(), verify_results=api.verify_results())
        if broken:
            raise AirflowFailException(
                f"resync job(s) {job_ids} succeeded but tables are still in error: {', '.join(broken)}"
            )
        return PokeReturnValue(is_done=True, xcom_value=job_ids)

    def dbt_task(task_id: str, args: tuple[str, ...], **kwargs):
        """A @task.bash running dbt with the destination's settings in its environment."""

        @task.bash(task_id=task_id, pool=SETTINGS.dbt_pool, **kwargs)
        def run_dbt() -> str:
            import os

            from elt_common.connections import resolve_destination
            from elt_common.dbt import check_dbt_available, dbt_command

            check_dbt_available(SETTINGS)
            # The task process is our own: its environment reaches bash, and no secret is in the command.
            os.environ.update(resolve_destination(SETTINGS.destination_conn_id).dbt_env())
            os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
            return dbt_command(SETTINGS, "elt_dag", task_id, args)

        return run_dbt()

    status = wait_for_replication()
    branch = check_replica(status)
    jobs = request_resync()
    repaired = wait_for_resync(jobs)
    freshness = dbt_task(
        "dbt_source_freshness", ("source", "freshness"), trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
    )

    branch >> [jobs, freshness]
    repaired >> freshness

    previous = freshness
    for index, (task_id, args) in enumerate(LAYERS):
        last = index == len(LAYERS) - 1
        layer = dbt_task(task_id, args, **({"outlets": [MARTS_ASSET]} if last else {}))
        previous >> layer
        previous = layer


elt_dag()
