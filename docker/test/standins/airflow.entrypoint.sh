#!/usr/bin/env bash
# The stand-in apache/airflow image's /entrypoint: what the official one does for elt.
set -euo pipefail
if [ "${_AIRFLOW_DB_MIGRATE:-}" = true ]; then
  airflow db migrate
fi
if [ "${_AIRFLOW_WWW_USER_CREATE:-}" = true ]; then
  airflow users create --username "${_AIRFLOW_WWW_USER_USERNAME:-admin}" \
    --password "${_AIRFLOW_WWW_USER_PASSWORD:-admin}" --firstname Airflow --lastname Admin \
    --email "${_AIRFLOW_WWW_USER_EMAIL:-airflowadmin@example.com}" --role Admin || true
fi
case "${1:-}" in
  bash | python | sh | "") exec "${@:-bash}" ;;
  *) exec airflow "$@" ;;
esac
