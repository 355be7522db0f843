"""Settings of the elt DAGs, from the environment (read when a DAG file is parsed, no DB).

Connections are Airflow connections (`elt_api`, `elt_destination`) or, when those do not
exist, environment variables; see connections.py. Every bad value raises ValueError with
one sentence naming the variable, which Airflow shows as the DAG's import error.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: airflow/dags/elt_common/settings.py -> repository root.
REPO_ROOT = Path(__file__).resolve().parents[3]


def _text(env: dict[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def _number(
    env: dict[str, str], name: str, default: float, *, minimum: float = 0, allow_none: bool = False
) -> float | None:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    if allow_none and raw.lower() in {"none", "off", "unlimited"}:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ValueError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


def _whole_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)


def _schedule(env: dict[str, str], name: str, default: str) -> str | None:
    value = _text(env, name, default)
    return None if value.lower() in {"none", "manual", "off"} else value


@dataclass(frozen=True)
class Settings:
    # Schedules (cron or preset like @hourly; "none" = only manual/API triggers).
    schedule: str | None
    maintenance_schedule: str | None
    # Lag sensor.
    max_lag_seconds: float
    max_lag_bytes: float | None
    lag_poke_seconds: float
    lag_timeout_seconds: float
    # Resync wait.
    resync_poke_seconds: float
    resync_timeout_seconds: float
    # Retries of every task: retry_delay * 2^(try-1), capped.
    retries: int
    retry_delay_seconds: float
    max_retry_delay_seconds: float
    # Connections.
    api_conn_id: str
    destination_conn_id: str
    # dbt.
    dbt_bin: str
    dbt_project_dir: str
    dbt_profiles_dir: str
    dbt_target: str | None
    dbt_artifacts_dir: str
    dbt_pool: str
    # Maintenance.
    #: None (`off`): the maintenance DAG asks for no pruning (ELT_SOFT_DELETE_RETENTION may do it).
    prune_after_days: int | None
    full_refresh_weekday: str


def _default_dbt_bin(env: dict[str, str]) -> str:
    venv = env.get("ELT_DBT_VENV", "").strip()
    return str(Path(venv) / "bin" / "dbt") if venv else "dbt"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    project = _text(env, "ELT_DBT_PROJECT_DIR", str(REPO_ROOT / "custom_postgres"))
    return Settings(
        schedule=_schedule(env, "ELT_DAG_SCHEDULE", "@hourly"),
        maintenance_schedule=_schedule(env, "ELT_MAINTENANCE_SCHEDULE", "@daily"),
        max_lag_seconds=_number(env, "ELT_MAX_LAG_SECONDS", 300),  # type: ignore[arg-type]
        max_lag_bytes=_number(env, "ELT_MAX_LAG_BYTES", 1024**3, allow_none=True),
        lag_poke_seconds=_number(env, "ELT_LAG_POKE_SECONDS", 60, minimum=1),  # type: ignore[arg-type]
        lag_timeout_seconds=_number(env, "ELT_LAG_TIMEOUT_SECONDS", 3600, minimum=1),  # type: ignore[arg-type]
        resync_poke_seconds=_number(env, "ELT_RESYNC_POKE_SECONDS", 60, minimum=1),  # type: ignore[arg-type]
        resync_timeout_seconds=_number(env, "ELT_RESYNC_TIMEOUT_SECONDS", 6 * 3600, minimum=1),  # type: ignore[arg-type]
        retries=int(_number(env, "ELT_TASK_RETRIES", 3)),  # type: ignore[arg-type]
        retry_delay_seconds=_number(env, "ELT_RETRY_DELAY_SECONDS", 60, minimum=1),  # type: ignore[arg-type]
        max_retry_delay_seconds=_number(env, "ELT_MAX_RETRY_DELAY_SECONDS", 1800, minimum=1),  # type: ignore[arg-type]
        api_conn_id=_text(env, "ELT_API_CONN_ID", "elt_api"),
        destination_conn_id=_text(env, "ELT_DESTINATION_CONN_ID", "elt_destination"),
        dbt_bin=_text(env, "ELT_DBT_BIN", _default_dbt_bin(env)),
        dbt_project_dir=project,
        dbt_profiles_dir=_text(env, "ELT_DBT_PROFILES_DIR", project),
        dbt_target=env.get("ELT_DBT_TARGET", "").strip() or None,
        dbt_artifacts_dir=_text(env, "ELT_DBT_ARTIFACTS_DIR", str(Path(tempfile.gettempdir()) / "elt-dbt")),
        dbt_pool=_text(env, "ELT_DBT_POOL", "default_pool"),
        prune_after_days=_whole_or_none(_number(env, "ELT_PRUNE_AFTER_DAYS", 7, minimum=1, allow_none=True)),
        full_refresh_weekday=_text(env, "ELT_FULL_REFRESH_WEEKDAY", "sunday"),
    )
