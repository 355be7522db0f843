#!/usr/bin/env bash
# The stand-in apache/airflow image's /entrypoint: what the upstream one does for elt's
# docker-compose.yaml. It waits for the metadata database, migrates it when _AIRFLOW_DB_MIGRATE
# is true, creates the admin user when _AIRFLOW_WWW_USER_CREATE is true (its name and password
# from _AIRFLOW_WWW_USER_USERNAME and _AIRFLOW_WWW_USER_PASSWORD), then runs `airflow ARGS…`
# (or bash or python when the first argument says so).
set -euo pipefail

wait_for_database() {
  local tries="${CONNECTION_CHECK_MAX_COUNT:-20}" i
  for ((i = 1; i <= tries; i++)); do
    airflow db check >/dev/null 2>&1 && return 0
    echo "entrypoint: the metadata database does not answer yet ($i of $tries)" >&2
    sleep "${CONNECTION_CHECK_SLEEP_TIME:-3}"
  done
  airflow db check
}

case "${1:-}" in
  bash | python) exec "$@" ;;
esac

wait_for_database
if [ "${_AIRFLOW_DB_MIGRATE:-false}" = true ]; then
  airflow db migrate
fi
if [ "${_AIRFLOW_WWW_USER_CREATE:-false}" = true ]; then
  : "${_AIRFLOW_WWW_USER_PASSWORD:?_AIRFLOW_WWW_USER_CREATE needs _AIRFLOW_WWW_USER_PASSWORD}"
  airflow users create --username "${_AIRFLOW_WWW_USER_USERNAME:-admin}" \
    --firstname Airflow --lastname Admin --email airflowadmin@example.com --role Admin \
    --password "$_AIRFLOW_WWW_USER_PASSWORD" || true
fi
exec airflow "$@"
