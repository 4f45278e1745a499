#!/usr/bin/env bash
# Start PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) if they are not answering.
# Idempotent: services that already answer are left alone. Used by .ci/run before the tests.
set -euo pipefail

wait_for() {  # wait_for <description> <command...>
    local what=$1
    shift
    for _ in $(seq 1 30); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    echo "ensure_services: $what did not come up within 30 s" >&2
    return 1
}

if pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "postgresql: already running"
else
    echo "postgresql: starting"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
    wait_for "PostgreSQL" pg_isready -q -h 127.0.0.1 -p 5432
    echo "postgresql: running"
fi

if [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; then
    echo "redis: already running"
else
    echo "redis: starting"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for "Redis" sh -c '[ "$(redis-cli -h 127.0.0.1 -p 6379 ping)" = "PONG" ]'
    echo "redis: running"
fi
