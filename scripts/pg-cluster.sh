#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: `scripts/pg-cluster.sh start DIR PORT` initialises
# one in DIR (listening only on a Unix socket in DIR) and prints its server URL; `stop DIR` stops
# it; `kill DIR` stops it as a crash would; `replica DIR PORT PRIMARY_DIR PRIMARY_PORT` makes DIR a
# hot standby of the running cluster in PRIMARY_DIR (a base backup, then streaming replication),
# starts it and prints its server URL. Uses Debian's postgresql package (installed by .ci/run); PostgreSQL refuses to run as root,
# so as root the cluster belongs to the `postgres` user. PG_OPTS adds server settings
# (`-c shared_buffers=2GB` for a benchmark, say).
set -euo pipefail
cmd=${1:?start DIR PORT | replica DIR PORT PRIMARY_DIR PRIMARY_PORT | stop DIR | kill DIR}
dir=${2:?a directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/pg_ctl" ] || { echo "pg-cluster: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
own_dir() {
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
}
serve() {
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$dir' -p $1 -c max_connections=200 ${PG_OPTS:-}" start >/dev/null
  echo "postgresql://postgres@/postgres?host=$dir&port=$1"
}
case "$cmd" in
  start)
    port=${3:?a port}
    own_dir
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-instructions >"$dir/initdb.log"
    fi
    serve "$port"
    ;;
  replica)
    port=${3:?a port}
    primary=${4:?the primary cluster directory}
    primary_port=${5:?the primary cluster port}
    own_dir
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      # -R writes standby.signal and the primary's address; -X stream copies the WAL written
      # meanwhile. (initdb's `trust` lets local replication connections in.)
      as_owner "$bin/pg_basebackup" -D "$dir/data" -R -X stream -c fast -h "$primary" -p "$primary_port" \
        -U postgres >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; exit 1; }
    fi
    serve "$port"
    ;;
  stop)
    # Quiet and successful when it is stopped already (`.ci/run` stops it, then its exit trap).
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    ;;
  kill)
    # As a crash would: no shutdown checkpoint (the tests' restart under load).
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
  *) echo "pg-cluster: unknown command $cmd" >&2; exit 2 ;;
esac
