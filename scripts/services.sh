#!/usr/bin/env bash
# Start the real servers the test suite uses (Redis, PostgreSQL) on loopback, and print the variables that point
# the tests at them. Idempotent: a server already running is left as it is.
#   eval "$(bash scripts/services.sh)"     # then: uv run pytest
set -euo pipefail
REDIS_PORT=${TIERWISE_REDIS_PORT:-6390}
PG_PORT=${TIERWISE_PG_PORT:-5439}
PG_DIR=${TIERWISE_PG_DIR:-/tmp/tierwise-pg}

if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null
fi

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
if ! runuser -u postgres -- "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; then
    if [ ! -f "$PG_DIR/PG_VERSION" ]; then
        mkdir -p "$PG_DIR" && chown postgres:postgres "$PG_DIR"
        runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR" -A trust -U postgres >/dev/null
    fi
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" -w \
        -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k /tmp -c fsync=off -c max_connections=200" start >/dev/null
fi

echo "export TIERWISE_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
echo "export TIERWISE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
