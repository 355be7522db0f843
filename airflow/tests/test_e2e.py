"""`airflow dags test elt_dag` end to end on the real local stack: PostgreSQL source and
destination, the replicator (as elt_replicator), the API and dbt (from $ELT_DBT_VENV).

1. healthy replica: the run succeeds, the resync branch is skipped, the marts are built
   and the elt_marts Asset gets an event;
2. a table the API reports in error, and a resync that repairs it: the run resyncs through
   the API, waits for the job and then builds;
3. a table in error whose resync fails (the replication role lost SELECT on it): the run
   fails in `wait_for_resync`, with the job's error in the log, no retry, and no dbt task
   runs, so the marts are not rebuilt from a broken replica and the Asset is not updated;
4. `elt_maintenance_dag`: the prune job it asks the API for is run by the replicator and
   removes only the row soft-deleted long ago; the dbt docs are generated.

The stack comes from airflow/tests/stack.ts (npx tsx); skipped when dbt is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import psycopg2
import pytest

from conftest import REPO_ROOT, run_dag_test

DBT = ("dbt_source_freshness", "dbt_build_staging", "dbt_build_marts", "dbt_test_reconciliation")


def dbt_venv() -> Path | None:
    venv = os.environ.get("ELT_DBT_VENV")
    return Path(venv) if venv and (Path(venv) / "bin" / "dbt").exists() else None


@pytest.fixture(scope="module")
def stack():
    # Not a skip: without dbt this test cannot prove anything, so it fails and says why.
    assert dbt_venv() is not None, (
        "ELT_DBT_VENV with bin/dbt is not set: run through `make test-airflow` (it installs dbt)"
    )
    proc = subprocess.Popen(
        [
            "npx",
            "tsx",
            str(REPO_ROOT / "airflow" / "tests" / "stack.ts"),
            "--scale",
            os.environ.get("ELT_AIRFLOW_E2E_SCALE", "0.05"),
        ],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=60)
        pytest.fail(f"stack.ts did not start:\n{proc.stderr.read()[-5000:]}")
    info = json.loads(line)
    yield info
    proc.stdin.close()  # stack.ts stops API, replicator and clusters
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()


def sql(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else []


@pytest.fixture()
def env(stack, tmp_path) -> dict[str, str]:
    return {
        # Connections as a deployment would give them: the API as an Airflow connection
        # (token = password), the destination as an environment URL.
        "AIRFLOW_CONN_ELT_API": json.dumps(
            {"conn_type": "http", "host": stack["apiUrl"], "password": stack["apiToken"]}
        ),
        "ELT_DESTINATION_URL": stack["destinationUrl"],
        "ELT_DBT_VENV": str(dbt_venv()),
        "ELT_DBT_ARTIFACTS_DIR": str(tmp_path / "dbt"),
        "ELT_DBT_THREADS": "2",
        "ELT_LAG_POKE_SECONDS": "2",
        "ELT_RESYNC_POKE_SECONDS": "2",
        "ELT_RETRY_DELAY_SECONDS": "2",
        "ELT_TASK_RETRIES": "1",
    }


def set_error(stack, table: str, message: str) -> None:
    sql(
        stack["destinationUrl"],
        "UPDATE elt.tables SET state = 'error', last_error = %s WHERE source_schema = 'public' AND source_table = %s",
        (message, table),
    )


def api_table(stack, table: str) -> dict:
    import requests

    return requests.get(f"{stack['apiUrl']}/v1/tables/public.{table}", timeout=10).json()


def test_1_healthy_replica_builds_the_marts(stack, env, airflow_db):
    result = run_dag_test(airflow_db, "elt_dag", env)
    assert result.returncode == 0, result.output[-8000:]
    assert result.states["wait_for_replication"] == result.states["check_replica"] == "success"
    assert result.states["request_resync"] == result.states["wait_for_resync"] == "skipped"
    assert all(result.states[t] == "success" for t in DBT), result.states
    assert result.asset_events == 1
    [(staged, built)] = sql(
        stack["destinationUrl"], "SELECT (SELECT count(*) FROM staging.orders), (SELECT count(*) FROM marts.fct_orders)"
    )
    assert staged > 0 and built == staged


def test_2_table_in_error_is_resynced_then_built(stack, env, airflow_db):
    set_error(stack, "customers", "simulated apply error")
    result = run_dag_test(airflow_db, "elt_dag", env)
    assert result.returncode == 0, result.output[-8000:]
    assert result.states["request_resync"] == result.states["wait_for_resync"] == "success"
    assert all(result.states[t] == "success" for t in DBT), result.states
    assert "repair needed: public.customers is in error: simulated apply error" in result.output
    assert api_table(stack, "customers")["state"] == "streaming"
    assert result.asset_events == 1


def test_3_unrepairable_table_fails_in_wait_for_resync(stack, env, airflow_db):
    sql(stack["sourceUrl"], "REVOKE SELECT ON public.orders FROM elt_replicator")
    try:
        set_error(stack, "orders", "simulated apply error")
        result = run_dag_test(airflow_db, "elt_dag", env)
    finally:
        sql(stack["sourceUrl"], "GRANT SELECT ON public.orders TO elt_replicator")
    assert result.returncode != 0
    assert (
        result.states["wait_for_replication"]
        == result.states["check_replica"]
        == result.states["request_resync"]
        == "success"
    )
    assert result.states["wait_for_resync"] == "failed"
    assert result.tries["wait_for_resync"] == 1  # a failed job is final: failing again later would not help
    assert all(result.states[t] == "upstream_failed" for t in DBT), result.states
    assert result.asset_events == 0
    assert "ELT FAILURE dag=elt_dag" in result.output and "task=wait_for_resync" in result.output
    assert "permission denied for table orders" in result.output


def test_4_maintenance_prunes_through_the_replicator_and_generates_docs(stack, env, airflow_db, tmp_path):
    # Two reviews deleted at the source; the replicator (soft-delete mode) keeps both, marked
    # deleted. One is made to look deleted long ago.
    url = stack["destinationUrl"]
    [(old_id,), (new_id,)] = sql(
        stack["sourceUrl"],
        "DELETE FROM reviews WHERE review_id IN (SELECT review_id FROM reviews ORDER BY review_id LIMIT 2) RETURNING review_id",
    )
    deadline = time.monotonic() + 60
    while sql(
        url, "SELECT count(*) FROM staging.reviews WHERE _deleted AND review_id IN (%s, %s)", (old_id, new_id)
    ) != [(2,)]:
        assert time.monotonic() < deadline, "the replicator did not apply the two deletes"
        time.sleep(0.2)
    sql(url, "UPDATE staging.reviews SET _synced_at = now() - interval '30 days' WHERE review_id = %s", (old_id,))
    docs = tmp_path / "docs"
    result = run_dag_test(
        airflow_db, "elt_maintenance_dag", {**env, "ELT_DBT_DOCS_TARGET_PATH": str(docs), "ELT_PRUNE_AFTER_DAYS": "7"}
    )
    assert result.returncode == 0, result.output[-8000:]
    assert (
        result.states["request_prune"]
        == result.states["wait_for_prune"]
        == result.states["dbt_docs_generate"]
        == "success"
    )
    assert result.states["dbt_full_refresh"] in ("success", "skipped")  # weekly: depends on today
    # Only the old one is pruned, by the replicator (the job says so), not by Airflow.
    assert sql(
        url, "SELECT review_id FROM staging.reviews WHERE review_id IN (%s, %s) ORDER BY 1", (old_id, new_id)
    ) == [(new_id,)]
    [(requested_by, rows, tables)] = sql(
        url, "SELECT requested_by, rows_pruned, tables FROM elt.prune_jobs WHERE requested_by LIKE 'airflow %%'"
    )
    assert requested_by.startswith("airflow elt_maintenance_dag") and rows == 1 and tables == {"public.reviews": 1}
    assert "prune job" in result.output and "1 rows deleted before" in result.output
    assert (docs / "catalog.json").exists() and (docs / "manifest.json").exists()
