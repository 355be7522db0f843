#!/usr/bin/env bash
# Airflow for the local stack: `airflow standalone` (api-server, scheduler, dag-processor,
# triggerer) with the elt DAGs, state in .elt/airflow, login airflow / $ELT_AIRFLOW_PASSWORD
# (default admin123). `make up` starts it in the background and checks it is healthy; `make
# airflow-up` runs it in the foreground. Every port and connection comes from the stack's
# settings file, .elt/stack.env (written by `make up`), so the DAGs talk to that stack.
set -euo pipefail
: "${ELT_AIRFLOW_VENV:?ELT_AIRFLOW_VENV is not set: run make airflow-up (after make airflow-deps)}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="${ELT_STATE_DIR:-$REPO/.elt}"
if [ -f "$STATE_DIR/stack.env" ]; then
  set -a
  # shellcheck disable=SC1091
  . "$STATE_DIR/stack.env"
  set +a
else
  echo "airflow-up: no $STATE_DIR/stack.env: run make up first (it writes the ports and connections Airflow uses)" >&2
  exit 2
fi

export AIRFLOW_HOME="${AIRFLOW_HOME:-$STATE_DIR/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/airflow/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$ELT_AIRFLOW_PORT"
export AIRFLOW__API__BASE_URL="http://127.0.0.1:${ELT_AIRFLOW_PORT}"
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$ELT_AIRFLOW_WORKER_LOG_PORT"
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="$ELT_AIRFLOW_TRIGGERER_LOG_PORT"
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="airflow:admin"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/simple_auth_manager_passwords.json"
mkdir -p "$AIRFLOW_HOME"
"$ELT_AIRFLOW_VENV/bin/python" -c '
import json, os, sys
with open(sys.argv[1], "w") as f:
    json.dump({"airflow": os.environ["ELT_AIRFLOW_PASSWORD"]}, f)
' "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
chmod 600 "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"

# What the DAGs talk to (stack.env): ELT_API_URL + ELT_API_TOKEN, and the destination as
# ELT_DBT_HOST/PORT/USER/DBNAME (dbt's profiles.yml reads the same). ELT_DAG_SCHEDULE too.
export ELT_DBT_VENV="${ELT_DBT_VENV:-}"

# standalone starts its parts as `airflow ...` from PATH.
export PATH="$ELT_AIRFLOW_VENV/bin:$PATH"
exec airflow standalone
