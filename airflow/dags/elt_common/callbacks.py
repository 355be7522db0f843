"""Failure callbacks: one clear block in the task log (and the DAG processor log for runs)."""

from __future__ import annotations

import logging
from typing import Any

from elt_common.dbt import read_run_results
from elt_common.decisions import dbt_counts, dbt_failures, failure_summary
from elt_common.settings import load_settings

log = logging.getLogger("elt")

#: What to look at next, by task id.
HINTS = {
    "wait_for_replication": "the replicator is behind, not streaming or not running: `make status`, GET /v1/status, .elt/logs/replicator.log",
    "check_replica": "the elt API could not be read: is it running (`make api`) and is the elt_api connection right?",
    "request_resync": "the API refused the resync: see the message above (401/403: token; 404: unknown table)",
    "wait_for_resync": "the resync could not repair the table: GET /v1/resync/<id> and the replicator log; dbt did not run, the marts are unchanged",
    "dbt_source_freshness": "staging is stale: is the replicator streaming? see target/sources.json",
    "dbt_build_staging": "a staging model or test failed: the marts were not rebuilt",
    "dbt_build_marts": "a mart or its tests failed: the marts Asset was not updated",
    "dbt_test_reconciliation": "a reconciliation test failed: the marts disagree with staging; the marts Asset was not updated",
}


def _details(context: dict[str, Any]) -> list[str]:
    ti = context["ti"]
    details: list[str] = []
    if ti.task_id.startswith("dbt_"):
        settings = load_settings()
        results = read_run_results(settings, ti.dag_id, ti.task_id)
        if results is not None:
            details.append(f"dbt results: {dbt_counts(results)}")
            details += dbt_failures(results)[:20]
    hint = HINTS.get(ti.task_id)
    if hint:
        details.append(f"next: {hint}")
    return details


def on_task_failure(context: dict[str, Any]) -> None:
    """Task failure callback: what failed, which try, why, and what to check."""
    ti = context["ti"]
    task = context.get("task")
    retries = getattr(task, "retries", None)
    try:
        details = _details(context)
    except Exception as error:  # a callback must never hide the original failure
        details = [f"(could not collect details: {error})"]
    log.error(
        "%s",
        failure_summary(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            try_number=getattr(ti, "try_number", None),
            max_tries=None if retries is None else retries + 1,
            error=context.get("exception"),
            details=details,
        ),
    )


def on_dag_failure(context: dict[str, Any]) -> None:
    """DAG run failure callback: one line per failed run (each failed task logged its own summary)."""
    dag_run = context.get("dag_run")
    log.error(
        "ELT RUN FAILED dag=%s run=%s reason=%s: see the ELT FAILURE block of the failed task",
        getattr(dag_run, "dag_id", "?"),
        getattr(dag_run, "run_id", "?"),
        context.get("reason", "?"),
    )


def default_task_args(settings: Any) -> dict[str, Any]:
    """Retries with exponential backoff and the failure summary: every elt task's defaults."""
    import datetime as dt

    return {
        "retries": settings.retries,
        "retry_delay": dt.timedelta(seconds=settings.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(seconds=settings.max_retry_delay_seconds),
        "on_failure_callback": on_task_failure,
    }
