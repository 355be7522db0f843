"""Airflow in a throwaway home: sqlite metadata DB, no examples, our dags folder.

Set before anything imports airflow (its configuration is read at import time).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

AIRFLOW_DIR = Path(__file__).resolve().parents[1]
DAGS_DIR = AIRFLOW_DIR / "dags"
REPO_ROOT = AIRFLOW_DIR.parent

_HOME = Path(tempfile.mkdtemp(prefix="elt-airflow-home-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }
)
# In a deployment the dags-folder bundle is on sys.path; here we put it there ourselves.
sys.path.insert(0, str(DAGS_DIR))

AIRFLOW_BIN = str(Path(sys.executable).parent / "airflow")


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    if os.environ.get("ELT_AIRFLOW_KEEP_HOME") != "1":
        shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """`airflow db migrate` once per session; the path of the sqlite file."""
    subprocess.run([AIRFLOW_BIN, "db", "migrate"], check=True, capture_output=True, env=os.environ.copy(), timeout=300)
    return _HOME / "airflow.db"


class DagTestRun:
    def __init__(self, returncode: int, output: str, states: dict[str, str], tries: dict[str, int], asset_events: int):
        self.returncode = returncode
        self.output = output
        self.states = states
        self.tries = tries
        self.asset_events = asset_events

    def __repr__(self) -> str:
        return f"DagTestRun(rc={self.returncode}, states={self.states})"


def run_dag_test(db: Path, dag_id: str, env: dict[str, str], timeout: float = 900) -> DagTestRun:
    """`airflow dags test <dag_id>` in a subprocess; the states of the run it created."""
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT coalesce(max(id), 0) FROM dag_run").fetchone()[0]
        events_before = conn.execute("SELECT count(*) FROM asset_event").fetchone()[0]
    proc = subprocess.run(
        [AIRFLOW_BIN, "dags", "test", dag_id],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? AND id > ? ORDER BY id DESC LIMIT 1", (dag_id, before)
        ).fetchone()
        assert row, f"airflow dags test created no run:\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}"
        rows = conn.execute(
            "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?", (dag_id, row[0])
        ).fetchall()
        events = conn.execute("SELECT count(*) FROM asset_event").fetchone()[0] - events_before
    return DagTestRun(
        proc.returncode, proc.stdout + proc.stderr, {r[0]: r[1] for r in rows}, {r[0]: r[2] for r in rows}, events
    )
