#!/usr/bin/env bash
# destination_postgres, first start only (postgres image, /docker-entrypoint-initdb.d): the
# role `elt` that the replicator, the API and dbt log in as. It is not a superuser: it owns
# the analytics database, so it can create the schemas it writes (staging and elt for the
# replicator, stg and marts for dbt) and nothing beyond that database.
#
# The password comes from the secret elt_destination_password (ELT_DESTINATION_PASSWORD_FILE;
# ELT_DESTINATION_PASSWORD in .env). It is set here once, when the data volume is new; to change
# it later, ALTER ROLE elt PASSWORD … as postgres.
set -eo pipefail

if [ -n "${ELT_DESTINATION_PASSWORD_FILE:-}" ]; then
  ELT_DESTINATION_PASSWORD="$(<"$ELT_DESTINATION_PASSWORD_FILE")"
fi

if [ -z "${ELT_DESTINATION_PASSWORD:-}" ]; then
  echo "destination-init: ELT_DESTINATION_PASSWORD is empty; set it in .env (see .env.example)." >&2
  exit 1
fi

psql -v ON_ERROR_STOP=1 -X -q \
  --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v elt_password="${ELT_DESTINATION_PASSWORD}" -v db="${POSTGRES_DB:-postgres}" <<'SQL'
CREATE ROLE elt LOGIN PASSWORD :'elt_password';
ALTER DATABASE :"db" OWNER TO elt;
SQL
echo "destination-init: role elt owns database ${POSTGRES_DB:-postgres}"
