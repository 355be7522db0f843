#!/usr/bin/env bash
# The elt image's entrypoint (under tini): `elt "$@"` with two things a container needs.
#
# Secrets: for each ELT_<NAME>_FILE set (Compose `secrets:`, mounted under /run/secrets), the
# file's content becomes ELT_<NAME>; ELT_SOURCE_PASSWORD and ELT_DESTINATION_PASSWORD go into
# the password field of ELT_SOURCE_URL and ELT_DESTINATION_URL, so no password is ever in the
# container's environment as Docker shows it. Passwords must be URL-safe (letters, digits, - _).
#
# Restarts: the services run with `restart: on-failure`. Exit 2 is a configuration error that
# a restart cannot fix (a bad setting, an unknown command): it is reported and turned into 0,
# so the container stops there instead of looping; every other failure is restarted.
set -uo pipefail

for file_var in $(compgen -e | grep -E '^ELT_[A-Z0-9_]+_FILE$' || true); do
  name="${file_var%_FILE}"
  path="${!file_var}"
  if [ ! -r "$path" ]; then
    echo "elt: $file_var names $path, which cannot be read; check the service's secrets: in docker-compose.yaml." >&2
    exit 1
  fi
  export "$name=$(<"$path")"
  unset "$file_var"
done

# postgres://user@host/db + password -> postgres://user:password@host/db
with_password() {
  local url="$1" password="$2"
  if [ -z "$password" ]; then printf '%s' "$url"; return; fi
  printf '%s' "$url" | sed -E "s#^(postgres(ql)?://[^:@/]+)@#\\1:${password}@#"
}
if [ -n "${ELT_SOURCE_URL:-}" ]; then ELT_SOURCE_URL="$(with_password "$ELT_SOURCE_URL" "${ELT_SOURCE_PASSWORD:-}")"; fi
if [ -n "${ELT_DESTINATION_URL:-}" ]; then
  ELT_DESTINATION_URL="$(with_password "$ELT_DESTINATION_URL" "${ELT_DESTINATION_PASSWORD:-}")"
fi
unset ELT_SOURCE_PASSWORD ELT_DESTINATION_PASSWORD

# `elt` by default; a command that starts with a .js file runs that file (the demo's seeding job).
script=/app/bin/elt.js
case "${1:-}" in *.js) script="$1" && shift ;; esac
node --max-old-space-size=160 "$script" "$@" &
child=$!
trap 'kill -s TERM "$child" 2>/dev/null' TERM
trap 'kill -s INT "$child" 2>/dev/null' INT
# wait returns early when a trapped signal arrives; wait again until node has exited.
while kill -0 "$child" 2>/dev/null; do wait "$child"; done
wait "$child"
rc=$?
if [ "$rc" = 2 ]; then
  echo "elt: exit 2 (a configuration error): not restarting. Fix the setting, then docker compose up -d again." >&2
  exit 0
fi
exit "$rc"
