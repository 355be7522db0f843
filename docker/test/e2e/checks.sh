# shellcheck shell=bash
# The end-to-end checks of `make test-compose`, against the stack that run.sh started. They talk
# to 127.0.0.1 (the published ports) and to the test's own containers, nothing else.

SOURCE_PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 "postgres://postgres:$SOURCE_POSTGRES_PASSWORD@127.0.0.1:5433/shop")
DEST_PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 "postgres://elt:$ELT_DESTINATION_PASSWORD@127.0.0.1:5434/analytics")

# wait_for SECONDS WHAT COMMAND…: run COMMAND every second until it succeeds.
wait_for() {
  local limit="$1" what="$2" i
  shift 2
  for ((i = 0; i < limit; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "e2e: FAILED: $what (not within ${limit}s)" >&2
  return 1
}

insert_customers() {
  "${SOURCE_PSQL[@]}" -c "insert into customers (external_id, email, first_name, last_name)
    select gen_random_uuid(), 'e2e-' || gen_random_uuid() || '@example.com', 'E2E', '$1' from generate_series(1, $2)"
}

staging_has() {
  [ "$("${DEST_PSQL[@]}" -c "select count(*) from staging.customers where last_name = '$1'")" = "$2" ]
}

check_rows_reach_staging() {
  insert_customers e2e-staging 25
  wait_for 120 "25 rows inserted on the source reach staging.customers" staging_has e2e-staging 25
  echo "e2e: ok: rows inserted on the source reach staging"
}

targets_all_up() {
  curl -fsS http://127.0.0.1:9090/api/v1/targets |
    jq -e '.data.activeTargets | length >= 3 and all(.health == "up")'
}

check_prometheus_targets() {
  wait_for 120 "every Prometheus target up" targets_all_up
  echo "e2e: ok: Prometheus has every target up"
}

# Airflow's REST API (v2), with a token for the admin user whose password is the secret's.
airflow_token() {
  curl -fsS -X POST http://127.0.0.1:8080/auth/token -H 'Content-Type: application/json' \
    -d "$(jq -n --arg p "$AIRFLOW_ADMIN_PASSWORD" '{username: "airflow", password: $p}')" | jq -er .access_token
}

dag_run_state() {
  curl -fsS -H "Authorization: Bearer $AIRFLOW_TOKEN" "http://127.0.0.1:8080/api/v2/dags/elt_dag/dagRuns/$1" | jq -er .state
}

dag_run_ended() {
  local state
  state="$(dag_run_state "$1")" || return 1
  [ "$state" = success ] || [ "$state" = failed ]
}

marts_have() {
  [ "$("${DEST_PSQL[@]}" -c "select count(*) from marts.dim_customers where last_name = '$1'")" = "$2" ]
}

# elt_dag triggered through Airflow's REST API builds the marts from the replica: the rows that
# check_rows_reach_staging inserted on the source are in marts.dim_customers once the run succeeds.
check_marts_through_airflow() {
  AIRFLOW_TOKEN="$(airflow_token)" || { echo "e2e: FAILED: no token from Airflow's /auth/token for the admin user" >&2; return 1; }
  local run_id state
  run_id="$(curl -fsS -X POST http://127.0.0.1:8080/api/v2/dags/elt_dag/dagRuns \
    -H "Authorization: Bearer $AIRFLOW_TOKEN" -H 'Content-Type: application/json' \
    -d '{"logical_date": null, "note": "make test-compose"}' | jq -er .dag_run_id)" ||
    { echo "e2e: FAILED: Airflow did not take a run of elt_dag" >&2; return 1; }
  wait_for 900 "the elt_dag run $run_id ends" dag_run_ended "$run_id"
  state="$(dag_run_state "$run_id")"
  if [ "$state" != success ]; then
    echo "e2e: FAILED: the elt_dag run $run_id ended $state; its task instances:" >&2
    curl -fsS -H "Authorization: Bearer $AIRFLOW_TOKEN" \
      "http://127.0.0.1:8080/api/v2/dags/elt_dag/dagRuns/$run_id/taskInstances" |
      jq -r '.task_instances[] | "  \(.task_id): \(.state)"' >&2 || true
    return 1
  fi
  marts_have e2e-staging 25 || { echo "e2e: FAILED: marts.dim_customers lacks the 25 rows inserted on the source" >&2; return 1; }
  echo "e2e: ok: elt_dag, triggered through Airflow's REST API, built the marts from the replica"
}

check_api_token() {
  local status
  status="$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:5001/v1/status)"
  [ "$status" = 401 ] || { echo "e2e: FAILED: /v1/status without the token gave $status, not 401" >&2; return 1; }
  status="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ELT_API_TOKEN" http://127.0.0.1:5001/v1/status)"
  [ "$status" = 200 ] || { echo "e2e: FAILED: /v1/status with the secret's token gave $status, not 200" >&2; return 1; }
  echo "e2e: ok: the API answers with the token from the secret, and only with it"
}

check_no_secret_in_environment() {
  if docker compose ps -q | xargs docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' |
    grep -F -e "$ELT_API_TOKEN" -e "$ELT_DESTINATION_PASSWORD" -e "$ELT_REPLICATOR_PASSWORD"; then
    echo "e2e: FAILED: a secret is in a container's environment" >&2
    return 1
  fi
  echo "e2e: ok: no secret in any container's environment"
}

check_kill_and_start() {
  docker compose kill replicator >/dev/null
  insert_customers e2e-killed 40
  "${SOURCE_PSQL[@]}" -c "update customers set loyalty_points = loyalty_points + 7 where last_name = 'e2e-staging'"
  docker compose start replicator >/dev/null
  wait_for 300 "the replicator streams again after kill + start" replicator_healthy
  wait_for 120 "rows written while the replicator was down reach staging" staging_has e2e-killed 40
  docker compose run --rm --no-deps -T replicator verify
  echo "e2e: ok: after kill + start the replica equals the source (elt verify)"
}

replicator_healthy() {
  [ "$(docker inspect --format '{{.State.Health.Status}}' "$(docker compose ps -q replicator)")" = healthy ]
}

check_config_error_not_restarted() {
  # exit 2 (a bad setting): the service's container stops once, says why, and is not restarted.
  ELT_DELETE_MODE=bogus docker compose up -d --no-deps replicator >/dev/null 2>&1
  local id
  id="$(docker compose ps -aq replicator)"
  wait_for 120 "a replicator with a bad setting stops" container_exited "$id"
  local state
  state="$(docker inspect --format '{{.State.ExitCode}} {{.RestartCount}}' "$id")"
  [ "$state" = "0 0" ] || { echo "e2e: FAILED: exit code and restarts '$state', not '0 0'" >&2; return 1; }
  docker logs "$id" 2>&1 | grep -q 'not restarting' || { echo "e2e: FAILED: it did not say why it stopped" >&2; return 1; }
  docker compose up -d --no-deps replicator >/dev/null 2>&1
  wait_for 300 "the replicator streams again with its settings back" replicator_healthy
  echo "e2e: ok: exit 2 (a configuration error) stops the container, no restart loop"
}

container_exited() {
  [ "$(docker inspect --format '{{.State.Status}}' "$1")" = exited ]
}

check_down_leaves_nothing() {
  docker compose down -v --remove-orphans >/dev/null 2>&1
  local left
  left="$(docker ps -aq --filter label=com.docker.compose.project=elt)$(docker volume ls -q --filter label=com.docker.compose.project=elt)$(docker network ls -q --filter label=com.docker.compose.project=elt)"
  [ -z "$left" ] || { echo "e2e: FAILED: docker compose down -v left: $left" >&2; return 1; }
  echo "e2e: ok: docker compose down -v leaves no container, volume or network"
}

