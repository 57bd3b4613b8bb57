#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: `scripts/pg-cluster.sh start DIR PORT` initialises
# one in DIR (listening only on a Unix socket in DIR) and prints its server URL; `stop DIR` stops
# it; `kill DIR` stops it as a crash would. Uses Debian's postgresql package (installed by .ci/run); PostgreSQL refuses to run as root,
# so as root the cluster belongs to the `postgres` user. PG_OPTS adds server settings
# (`-c shared_buffers=2GB` for a benchmark, say).
set -euo pipefail
cmd=${1:?start DIR PORT | stop DIR | kill DIR}
dir=${2:?a directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/pg_ctl" ] || { echo "pg-cluster: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
  start)
    port=${3:?a port}
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-instructions >"$dir/initdb.log"
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses='' -c unix_socket_directories='$dir' -p $port -c max_connections=200 ${PG_OPTS:-}" start >/dev/null
    echo "postgresql://postgres@/postgres?host=$dir&port=$port"
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
