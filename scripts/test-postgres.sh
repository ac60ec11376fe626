#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 server for the tests and prints the variables to export.
#   eval "$(bash scripts/test-postgres.sh start)"   then   npm test
#   bash scripts/test-postgres.sh stop
# As root, the server runs as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGPORT=${TEST_PG_PORT:-54329}
PGDATA=${TEST_PG_DATA:-/tmp/cex-test-pg}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  start)
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
      mkdir -p "$PGDATA"
      [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGDATA"
      as_pg "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres --no-sync >/dev/null
    fi
    if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
      as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 start \
        -o "-p $PGPORT -k $PGDATA -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off" >/dev/null
    fi
    as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -tAc \
      "select 1 from pg_database where datname = 'cex_test'" | grep -q 1 ||
      as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres cex_test
    echo "export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/cex_test"
    echo "export TEST_PG_DATA=$PGDATA TEST_PG_BIN=$PGBIN"
    ;;
  stop)
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
