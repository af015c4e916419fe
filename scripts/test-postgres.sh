#!/usr/bin/env bash
# Finds or starts the PostgreSQL the tests need, then runs the given command
# with TEST_DATABASE_URL set. In order:
#   1. TEST_DATABASE_URL, when set;
#   2. a server answering on 127.0.0.1:5432 (database "test");
#   3. (or when PG_PRIVATE=1) a private throwaway cluster from the local PostgreSQL install, on a
#      free port, removed on exit. When PostgreSQL is not installed and
#      apt-get is usable (root), Debian's postgresql package is installed.
set -euo pipefail

log() { echo "test-postgres: $*" >&2; }

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  exec "$@"
fi

if [ -z "${PG_PRIVATE:-}" ] && command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432 -t 3; then
  for user in postgres "$(id -un)"; do
    url="postgres://${user}@127.0.0.1:5432/test?sslmode=disable"
    if psql "$url" -qtAc 'select 1' >/dev/null 2>&1; then
      log "using the server on 127.0.0.1:5432 as ${user}"
      TEST_DATABASE_URL="$url" exec "$@"
    fi
  done
fi

pgbin=""
find_pgbin() {
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
}
find_pgbin
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "PostgreSQL is not installed; installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
    find_pgbin
  fi
fi
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  log "no PostgreSQL available: install it (Debian: apt-get install postgresql) or set TEST_DATABASE_URL"
  exit 1
fi

dir=$(mktemp -d /tmp/restockrelay-pg.XXXXXX)
port=$(( 40000 + RANDOM % 20000 ))
run_as=()
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$dir" 2>/dev/null || true
  run_as=(runuser -u postgres --)
fi
cleanup() {
  "${run_as[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
"${run_as[@]}" "$pgbin/initdb" -D "$dir/data" -U postgres -A trust >/dev/null
"${run_as[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null
for _ in $(seq 1 50); do
  "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
  sleep 0.2
done
"$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc 'create database test' >/dev/null
log "started a private PostgreSQL on 127.0.0.1:${port}"
TEST_DATABASE_URL="postgres://postgres@127.0.0.1:${port}/test?sslmode=disable" "$@"
