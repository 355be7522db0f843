# shellcheck shell=bash
# A Docker engine of the test's own: dockerd on its own socket, data root and exec root under
# $E2E_DIR, started by engine_start and removed by engine_stop (also when the run fails halfway).
#
# It never touches the host's firewall: --iptables=false, --ip-forward=false and --ip-masq=false,
# so iptables-save reads the same before and after (engine_stop checks). Published ports are served
# by docker-proxy on 127.0.0.1; the containers reach each other over the Compose networks' bridges;
# image builds use the host's network (docker/test/e2e/compose.build.yaml), which reaches the
# package registries and nothing else.

engine_start() {
  local root="$E2E_DIR/engine"
  mkdir -p "$root/data" "$root/exec" "$root/config/cli-plugins"
  iptables-save 2>/dev/null | grep -v '^#' >"$E2E_DIR/iptables.before" || true
  ln -sf "$COMPOSE_BIN" "$root/config/cli-plugins/docker-compose"
  export DOCKER_HOST="unix://$root/docker.sock" DOCKER_CONFIG="$root/config"
  # The test's bridges take addresses from a range of their own, apart from any engine on the host.
  dockerd --host "$DOCKER_HOST" --data-root "$root/data" --exec-root "$root/exec" \
    --pidfile "$root/dockerd.pid" --storage-driver overlay2 \
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none \
    --default-address-pool base=10.213.0.0/16,size=24 >"$E2E_DIR/dockerd.log" 2>&1 &
  ENGINE_PID=$!
  local i
  for i in $(seq 1 120); do
    docker version >/dev/null 2>&1 && return 0
    kill -0 "$ENGINE_PID" 2>/dev/null || break
    sleep 0.5
  done
  echo "e2e: dockerd did not start; its log:" >&2
  tail -n 30 "$E2E_DIR/dockerd.log" >&2
  return 1
}

engine_stop() {
  [ -n "${ENGINE_PID:-}" ] || return 0
  # Whatever is still running goes first, so that no container outlives the engine.
  docker ps -q 2>/dev/null | xargs -r docker kill >/dev/null 2>&1 || true
  kill "$ENGINE_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 60); do
    kill -0 "$ENGINE_PID" 2>/dev/null || break
    sleep 0.5
  done
  kill -9 "$ENGINE_PID" 2>/dev/null || true
  wait "$ENGINE_PID" 2>/dev/null || true
  ENGINE_PID=
  # The engine's mounts (overlay2 layers, container shm, netns files) before its files.
  grep -o " $E2E_DIR/engine[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$E2E_DIR/engine"
  iptables-save 2>/dev/null | grep -v '^#' >"$E2E_DIR/iptables.after" || true
  if ! cmp -s "$E2E_DIR/iptables.before" "$E2E_DIR/iptables.after"; then
    echo "e2e: the host's iptables rules changed during the run:" >&2
    diff "$E2E_DIR/iptables.before" "$E2E_DIR/iptables.after" >&2 || true
    return 1
  fi
}
