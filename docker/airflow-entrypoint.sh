#!/usr/bin/env bash
# The elt Airflow image's entrypoint: the secrets that Compose mounts under /run/secrets, then
# the official image's /entrypoint. For each ELT_<NAME>_FILE set, the file's content becomes
# ELT_<NAME> in the processes' environment (the DAGs read ELT_API_TOKEN and ELT_DBT_PASSWORD;
# docker inspect shows only the file's path). ELT_AIRFLOW_ADMIN_PASSWORD is the password of the
# user that /entrypoint creates (_AIRFLOW_WWW_USER_PASSWORD). Airflow's own secrets come from
# files through its *_CMD settings (docker-compose.yaml).
set -euo pipefail

for file_var in $(compgen -e | grep -E '^ELT_[A-Z0-9_]+_FILE$' || true); do
  path="${!file_var}"
  if [ ! -r "$path" ]; then
    echo "elt-airflow: $file_var names $path, which cannot be read; check the service's secrets: in docker-compose.yaml." >&2
    exit 1
  fi
  export "${file_var%_FILE}=$(<"$path")"
  unset "$file_var"
done
if [ -n "${ELT_AIRFLOW_ADMIN_PASSWORD:-}" ]; then
  export _AIRFLOW_WWW_USER_PASSWORD="$ELT_AIRFLOW_ADMIN_PASSWORD"
  unset ELT_AIRFLOW_ADMIN_PASSWORD
fi

exec /entrypoint "$@"
