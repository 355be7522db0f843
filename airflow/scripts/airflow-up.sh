#!/usr/bin/env bash
# Airflow for the local stack: `airflow standalone` (api-server on :8080, scheduler,
# dag-processor, triggerer) with the elt DAGs, state in .elt/airflow, login airflow /
# $ELT_AIRFLOW_PASSWORD (default admin123). Run through make (it sets ELT_AIRFLOW_VENV and
# ELT_DBT_VENV): `make airflow-up`, or in the background from `make up`.
set -euo pipefail
: "${ELT_AIRFLOW_VENV:?ELT_AIRFLOW_VENV is not set: run make airflow-up (after make airflow-deps)}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

export AIRFLOW_HOME="${AIRFLOW_HOME:-$REPO/.elt/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/airflow/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__API__PORT="${ELT_AIRFLOW_PORT:-8080}"
export AIRFLOW__API__BASE_URL="http://localhost:${AIRFLOW__API__PORT}"
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="airflow:admin"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/simple_auth_manager_passwords.json"
mkdir -p "$AIRFLOW_HOME"
ELT_AIRFLOW_PASSWORD="${ELT_AIRFLOW_PASSWORD:-admin123}" "$ELT_AIRFLOW_VENV/bin/python" -c '
import json, os, sys
with open(sys.argv[1], "w") as f:
    json.dump({"airflow": os.environ["ELT_AIRFLOW_PASSWORD"]}, f)
' "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
chmod 600 "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"

# What the DAGs talk to: the `make up` stack and `make api`, unless set otherwise (or unless
# Airflow connections elt_api / elt_destination are defined in the UI).
export ELT_API_URL="${ELT_API_URL:-http://127.0.0.1:${ELT_API_PORT:-5001}}"
export ELT_DESTINATION_URL="${ELT_DESTINATION_URL:-postgres://postgres@127.0.0.1:5434/analytics}"
export ELT_DBT_VENV="${ELT_DBT_VENV:-}"

# standalone starts its parts as `airflow ...` from PATH.
export PATH="$ELT_AIRFLOW_VENV/bin:$PATH"
exec airflow standalone
