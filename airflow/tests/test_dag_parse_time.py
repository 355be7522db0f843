"""Airflow's parse-time rules for every DAG file: its top-level code opens no connection (no database, no
API: those belong in tasks) and it imports in under a second of CPU time, since the DAG processor imports it
again and again (CPU time, not the wall clock: on a loaded machine the wall clock also counts the wait for a
core). Each file is imported in a fresh interpreter (dag_import_probe.py), with Airflow already loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DAGS_DIR

PROBE = Path(__file__).with_name("dag_import_probe.py")
DAG_FILES = sorted(DAGS_DIR.glob("*.py"))
IMPORT_SECONDS = 1.0


def probe(dag_file: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(DAGS_DIR), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, str(PROBE), str(dag_file)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_there_are_dag_files():
    assert {f.name for f in DAG_FILES} == {"elt_dag.py", "elt_maintenance_dag.py"}


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda f: f.name)
def test_dag_file_opens_no_connection_at_import(dag_file):
    result = probe(dag_file)
    assert result["error"] is None, result["error"]
    assert result["attempts"] == []


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda f: f.name)
def test_dag_file_imports_in_under_a_second(dag_file):
    result = probe(dag_file)
    assert result["error"] is None, result["error"]
    assert result["seconds"] < IMPORT_SECONDS, f"{dag_file.name} took {result['seconds']:.2f} s to import"
