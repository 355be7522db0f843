# shellcheck shell=bash
# The upstream base images the stack names (debian:bookworm-slim, node:20-bookworm-slim,
# postgres:15, prom/prometheus:…, apache/airflow:…), each pulled when a registry answers, else built here as a
# stand-in under the upstream name from Debian's packages (docker/test/standins/). Stand-ins are
# kept as `docker save` archives in $ELT_CACHE/images, keyed by the hash of what built them, so a
# later run loads them in seconds; the minbase debootstrap of bookworm is kept there too.

STANDINS="$REPO/docker/test/standins"
# The CA bundle the host trusts, which the stand-ins trust too (standins/debian.Dockerfile).
HOST_CA="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
IMAGE_CACHE="$ELT_CACHE/images"

# bases_ensure IMAGE STANDIN-NAME: IMAGE is present after it (pulled, loaded or built).
bases_ensure() {
  local image="$1" name="$2"
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  if timeout 60 docker pull -q "$image" >/dev/null 2>&1; then
    echo "e2e: pulled $image"
    return 0
  fi
  local key archive
  key="$(bases_key "$name")"
  archive="$IMAGE_CACHE/$name-$key.tar"
  if [ -s "$archive" ]; then
    docker load -q -i "$archive" >/dev/null
    echo "e2e: $image: the stand-in from $archive"
    return 0
  fi
  echo "e2e: $image cannot be pulled; building a stand-in (bases_build_$name)"
  # Every stand-in is built on the stand-in debian (or the real one), needed only now.
  [ "$name" = debian ] || bases_ensure debian:bookworm-slim debian
  "bases_build_$name" "$image"
  # The debootstrap tarball is debian's cache already.
  [ "$name" != debian ] || return 0
  mkdir -p "$IMAGE_CACHE"
  rm -f "$IMAGE_CACHE/$name-"*.tar
  docker save -o "$archive.tmp" "$image" && mv "$archive.tmp" "$archive"
}

# bases_ensure_all "IMAGE NAME"…: every IMAGE present after it; debian first, then the others in
# parallel. Fails when one of them fails (each says why).
bases_ensure_all() {
  docker image inspect debian:bookworm-slim >/dev/null 2>&1 || bases_ensure debian:bookworm-slim debian
  local pids=() pair failed=0 pid
  for pair in "$@"; do
    # shellcheck disable=SC2086 # IMAGE NAME: two words on purpose
    bases_ensure $pair &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  return "$failed"
}

# What a stand-in is built from: its Dockerfile, the files beside it, the Node it copies, the
# Airflow requirements it installs.
bases_key() {
  {
    cat "$STANDINS/$1".* "$STANDINS/debian".* "$HOST_CA"
    [ "$1" != node ] || node --version
    [ "$1" != airflow ] || cat "$REPO/airflow/requirements.txt"
  } | sha256sum | cut -c1-16
}

# The apache/airflow tag docker/airflow.Dockerfile builds on (its AIRFLOW_VERSION and PYTHON_VERSION).
airflow_base_tag() {
  local version python
  version="$(sed -n 's/^ARG AIRFLOW_VERSION=//p' "$REPO/docker/airflow.Dockerfile")"
  python="$(sed -n 's/^ARG PYTHON_VERSION=//p' "$REPO/docker/airflow.Dockerfile")"
  echo "$version-python$python"
}

bases_build_debian() {
  local tarball
  tarball="$IMAGE_CACHE/bookworm-minbase-$(sha256sum <"$STANDINS/debian.txt" | cut -c1-16).tar"
  if [ ! -s "$tarball" ]; then
    local rootfs="$E2E_DIR/rootfs"
    local suite mirror
    { read -r suite && read -r mirror; } < <(grep -v '^#' "$STANDINS/debian.txt")
    debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$E2E_DIR/debootstrap.log" 2>&1 || {
      tail -n 20 "$E2E_DIR/debootstrap.log" >&2
      return 1
    }
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    mkdir -p "$IMAGE_CACHE"
    tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  docker import "$tarball" elt-e2e/bookworm-rootfs >/dev/null
  local ctx="$E2E_DIR/debian-context"
  mkdir -p "$ctx"
  cp "$HOST_CA" "$ctx/ca-certificates.crt"
  bases_docker_build "$1" "$STANDINS/debian.Dockerfile" "$ctx"
  rm -rf "$ctx"
}

# docker build, its output kept in the test's folder and shown when it fails.
bases_docker_build() {
  local log="$E2E_DIR/build-${1//[^a-z0-9]/-}.log"
  docker build --network host -t "$1" -f "$2" "$3" >"$log" 2>&1 || {
    tail -n 40 "$log" >&2
    return 1
  }
}

bases_build_node() {
  local ctx="$E2E_DIR/node-context"
  mkdir -p "$ctx"
  cp "$(command -v node)" "$ctx/node"
  cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/../.." "$ctx/node_modules"
  bases_docker_build "$1" "$STANDINS/node.Dockerfile" "$ctx"
  rm -rf "$ctx"
}

bases_build_postgres() {
  bases_docker_build "$1" "$STANDINS/postgres.Dockerfile" "$STANDINS"
}

bases_build_prometheus() {
  bases_docker_build "$1" "$STANDINS/prometheus.Dockerfile" "$STANDINS"
}

bases_build_airflow() {
  local ctx="$E2E_DIR/airflow-context"
  mkdir -p "$ctx"
  cp "$STANDINS"/airflow.* "$REPO/airflow/requirements.txt" "$ctx/"
  bases_docker_build "$1" "$ctx/airflow.Dockerfile" "$ctx"
  rm -rf "$ctx"
}
