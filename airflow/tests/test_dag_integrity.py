"""Every DAG file imports with no errors, cheaply, and has the expected shape."""

from __future__ import annotations

import pytest
from airflow.dag_processing.dagbag import DagBag

from conftest import DAGS_DIR


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(str(DAGS_DIR))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"elt_dag", "elt_maintenance_dag"}


def test_elt_dag_shape(dagbag):
    dag = dagbag.dags["elt_dag"]
    assert set(dag.task_ids) == {
        "wait_for_replication",
        "check_replica",
        "request_resync",
        "wait_for_resync",
        "dbt_source_freshness",
        "dbt_build_staging",
        "dbt_build_marts",
        "dbt_test_reconciliation",
    }
    down = {t.task_id: set(t.downstream_task_ids) for t in dag.tasks}
    assert down["wait_for_replication"] == {"check_replica"}
    assert down["check_replica"] == {"request_resync", "dbt_source_freshness"}
    assert down["request_resync"] == {"wait_for_resync"}
    assert down["wait_for_resync"] == {"dbt_source_freshness"}
    assert down["dbt_source_freshness"] == {"dbt_build_staging"}
    assert down["dbt_build_staging"] == {"dbt_build_marts"}
    assert down["dbt_build_marts"] == {"dbt_test_reconciliation"}
    assert dag.get_task("dbt_source_freshness").trigger_rule == "none_failed_min_one_success"
    # Sensors give their worker slot back while they wait.
    for sensor in ("wait_for_replication", "wait_for_resync"):
        assert dag.get_task(sensor).mode == "reschedule"
    # The marts Asset is updated only once everything is built and tested.
    outlets = {t.task_id: [a.uri for a in t.outlets] for t in dag.tasks if t.outlets}
    assert outlets == {"dbt_test_reconciliation": ["elt://destination/marts"]}
    for t in dag.tasks:
        assert t.retry_exponential_backoff == 2.0 and t.on_failure_callback


def test_elt_dag_schedule_default_hourly(dagbag):
    dag = dagbag.dags["elt_dag"]
    assert dag.schedule == "@hourly" and dag.timetable.expression == "0 * * * *"
    assert dag.catchup is False and dag.max_active_runs == 1


def test_maintenance_dag_shape(dagbag):
    dag = dagbag.dags["elt_maintenance_dag"]
    assert set(dag.task_ids) == {
        "request_prune",
        "wait_for_prune",
        "is_full_refresh_day",
        "dbt_full_refresh",
        "dbt_docs_generate",
    }
    down = {t.task_id: set(t.downstream_task_ids) for t in dag.tasks}
    assert down == {
        "request_prune": {"wait_for_prune"},
        "wait_for_prune": {"is_full_refresh_day"},
        "is_full_refresh_day": {"dbt_full_refresh"},
        "dbt_full_refresh": {"dbt_docs_generate"},
        "dbt_docs_generate": set(),
    }
    assert dag.get_task("dbt_docs_generate").trigger_rule == "none_failed"
    # Pruning is the replicator's job: the DAG only asks the API and waits, without holding a worker slot.
    assert dag.get_task("wait_for_prune").mode == "reschedule"
