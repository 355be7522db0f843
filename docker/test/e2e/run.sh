#!/usr/bin/env bash
# `make test-compose`: docker-compose.yaml for real, on a Docker engine of the test's own.
#
# Builds every image (base images pulled, or built here as stand-ins when no registry answers:
# bases.sh), starts the stack with `docker compose up --wait`, runs the end-to-end checks
# (checks.sh), then `docker compose down -v` and stops the engine. Whatever happens, the trap
# removes the containers, the engine and its files; the host's iptables are left as found.
# Prints the time of each step.
#
# Needs root (dockerd), docker.io and debootstrap (installed with apt when missing) and the
# Compose v2 binary in COMPOSE_BIN (the Makefile installs it).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
ELT_CACHE="${ELT_CACHE:-$HOME/.cache/elt}"
: "${COMPOSE_BIN:?set COMPOSE_BIN to the docker-compose v2 binary (make test-compose does)}"
# The profiles it starts: all of them (the core always runs).
E2E_PROFILES="${E2E_PROFILES:-demo,airflow,monitoring}"
E2E_DIR="$(mktemp -d "${TMPDIR:-/tmp}/elt-compose-e2e.XXXXXX")"
export REPO ELT_CACHE E2E_DIR COMPOSE_BIN

# shellcheck source=docker/test/e2e/engine.sh
. "$REPO/docker/test/e2e/engine.sh"
# shellcheck source=docker/test/e2e/bases.sh
. "$REPO/docker/test/e2e/bases.sh"

STEP_START=$SECONDS
RUN_START=$SECONDS
step() {
  echo "e2e: [$((SECONDS - STEP_START))s] $*"
  STEP_START=$SECONDS
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" != 0 ] && [ -n "${ENGINE_PID:-}" ]; then
    echo "e2e: failed; the last lines of each service's log:" >&2
    docker compose logs --no-color --tail 15 >&2 2>/dev/null || true
  fi
  (cd "$REPO" && docker compose down -v --remove-orphans >/dev/null 2>&1) || true
  engine_stop || rc=1
  rm -rf "$E2E_DIR"
  echo "e2e: total $((SECONDS - RUN_START))s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

install_missing() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v iptables-save >/dev/null || missing+=(iptables)
  command -v psql >/dev/null || missing+=(postgresql-client)
  command -v jq >/dev/null || missing+=(jq)
  [ "${#missing[@]}" = 0 ] && return 0
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The stack's settings: .env.example's placeholders with fresh secrets, in the test's folder.
write_env() {
  local env="$E2E_DIR/env" name
  grep -v '^COMPOSE_PROFILES=' "$REPO/.env.example" >"$env"
  for name in SOURCE_POSTGRES_PASSWORD DESTINATION_POSTGRES_PASSWORD ELT_REPLICATOR_PASSWORD \
    ELT_DESTINATION_PASSWORD ELT_API_TOKEN AIRFLOW_DB_PASSWORD AIRFLOW_JWT_SECRET AIRFLOW_API_SECRET_KEY \
    AIRFLOW_ADMIN_PASSWORD GRAFANA_ADMIN_PASSWORD; do
    echo "$name=e2e-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >>"$env"
  done
  {
    echo "AIRFLOW_FERNET_KEY=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_')"
    echo "ELT_API_READS_NEED_TOKEN=true"
    echo "ELT_DEMO_SCALE=${ELT_DEMO_SCALE:-0.05}"
    echo "COMPOSE_PROFILES=$E2E_PROFILES"
  } >>"$env"
  set -a
  # shellcheck disable=SC1090
  . "$env"
  set +a
}

# The services to start: those of the profiles, but Grafana, whose image can only be pulled.
services_to_start() {
  docker compose config --services |
    if docker image inspect grafana/grafana:12.0.2 >/dev/null 2>&1; then cat; else grep -v '^grafana$'; fi
}

cd "$REPO"
install_missing
step "tools present (docker.io, debootstrap, psql, jq)"
write_env
export COMPOSE_FILE="$REPO/docker-compose.yaml:$REPO/docker/test/e2e/compose.build.yaml"
export COMPOSE_ENV_FILES="$E2E_DIR/env"

engine_start
step "dockerd started ($DOCKER_HOST)"
docker pull -q grafana/grafana:12.0.2 >/dev/null 2>&1 || true
# The stand-ins build on debian: it comes first, then the others at once (downloads and installs
# overlap; each is its own docker build).
bases=("node:20-bookworm-slim node" "postgres:15 postgres")
[[ ",$E2E_PROFILES," != *,monitoring,* ]] || bases+=("prom/prometheus:v3.5.0 prometheus")
[[ ",$E2E_PROFILES," != *,airflow,* ]] || bases+=("apache/airflow:$(airflow_base_tag) airflow")
bases_ensure_all "${bases[@]}"
step "base images: ${bases[*]%% *}"

docker compose build >"$E2E_DIR/build.log" 2>&1 || { tail -n 40 "$E2E_DIR/build.log" >&2; exit 1; }
step "docker compose build"
# shellcheck disable=SC2046
docker compose up -d --wait --wait-timeout 900 $(services_to_start)
step "docker compose up --wait: every service healthy"

# shellcheck source=docker/test/e2e/checks.sh
. "$REPO/docker/test/e2e/checks.sh"
check_rows_reach_staging
step "rows reach staging"
check_api_token
check_no_secret_in_environment
if [[ ",$E2E_PROFILES," == *,monitoring,* ]]; then check_prometheus_targets; fi
step "API token, secrets, Prometheus targets"
if [[ ",$E2E_PROFILES," == *,airflow,* ]]; then
  check_marts_through_airflow
  step "elt_dag through Airflow's REST API: marts built"
fi
check_config_error_not_restarted
step "exit 2 not restarted"
check_kill_and_start
step "kill + start: replica equals source"
check_down_leaves_nothing
step "docker compose down -v"
engine_stop
step "dockerd stopped, host iptables unchanged"
echo "e2e: passed"
