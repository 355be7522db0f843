"""dbt as a subprocess: the command lines the @task.bash tasks return, and their artifacts.

dbt lives in its own virtualenv ($ELT_DBT_VENV/bin/dbt, or ELT_DBT_BIN): its pins clash
with Airflow's, so it is never imported here. Each task writes its artifacts
(run_results.json, logs) to its own directory so a failure can be summarised from them.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

from elt_common.settings import Settings

#: The dbt layers of elt_dag, one task each: (task id, dbt arguments).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Staging views over the replica and the tests that touch only staging ("cautious": a
    # test that also reads a mart waits for the marts layer).
    ("dbt_build_staging", ("build", "--select", "staging", "--indirect-selection", "cautious")),
    # Marts with their schema and unit tests, including those that compare a mart with
    # staging ("buildable": parents are marts or their ancestors).
    (
        "dbt_build_marts",
        ("build", "--select", "marts", "--indirect-selection", "buildable", "--exclude", "test_type:singular"),
    ),
    # The singular tests in custom_postgres/tests: marts reconciled with staging and each other.
    ("dbt_test_reconciliation", ("test", "--select", "test_type:singular")),
)


def artifacts_dir(settings: Settings, dag_id: str, task_id: str) -> Path:
    return Path(settings.dbt_artifacts_dir) / dag_id / task_id


def dbt_command(
    settings: Settings, dag_id: str, task_id: str, args: tuple[str, ...] | list[str], *, target_path: str | None = None
) -> str:
    """The bash command running dbt with `args` for one task (no secrets in it: they go in the env)."""
    out = artifacts_dir(settings, dag_id, task_id)
    argv = [
        settings.dbt_bin,
        *args,
        "--project-dir",
        settings.dbt_project_dir,
        "--profiles-dir",
        settings.dbt_profiles_dir,
        "--target-path",
        target_path or str(out / "target"),
        "--log-path",
        str(out / "logs"),
    ]
    if settings.dbt_target:
        argv += ["--target", settings.dbt_target]
    quoted = " ".join(shlex.quote(a) for a in argv)
    # A fresh target dir per try: run_results.json then always belongs to this try.
    clean = f"rm -f {shlex.quote(str(Path(target_path or out / 'target') / 'run_results.json'))}"
    return f"mkdir -p {shlex.quote(str(out))} && {clean} && cd {shlex.quote(settings.dbt_project_dir)} && exec {quoted}"


def check_dbt_available(settings: Settings) -> None:
    """Fail with one sentence when the dbt binary or project is missing (before spawning bash)."""
    binary = settings.dbt_bin
    if os.sep in binary and not os.access(binary, os.X_OK):
        raise FileNotFoundError(
            f"dbt not found at {binary}: run `make dbt-deps` and set ELT_DBT_VENV (or ELT_DBT_BIN) for the Airflow processes."
        )
    if not (Path(settings.dbt_project_dir) / "dbt_project.yml").exists():
        raise FileNotFoundError(
            f"No dbt project at {settings.dbt_project_dir}: set ELT_DBT_PROJECT_DIR to custom_postgres/."
        )


def read_run_results(
    settings: Settings, dag_id: str, task_id: str, target_path: str | None = None
) -> dict[str, Any] | None:
    path = Path(target_path) if target_path else artifacts_dir(settings, dag_id, task_id) / "target"
    try:
        return json.loads((path / "run_results.json").read_text())
    except (OSError, ValueError):
        return None
