#!/usr/bin/env bash
# Make sure the services the test suite needs are up on 127.0.0.1:
#   Redis 6379, and PostgreSQL 5432 with a `test` database the `postgres` user reaches
#   without a password. Starts them if they are installed but stopped; installs them from
#   Debian's packages (as root) if they are missing. Exits non-zero if it cannot.
set -euo pipefail

log() { echo "ensure-services: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
apt_updated=""
apt_install() {
    if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! redis_up; then
    command -v redis-server >/dev/null || { log "installing redis-server"; apt_install redis-server; }
    log "starting redis-server"
    mkdir -p /tmp/liveclass-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /tmp/liveclass-redis --logfile /tmp/liveclass-redis/redis.log
    for _ in $(seq 50); do redis_up && break; sleep 0.1; done
    redis_up || { log "redis did not come up"; exit 1; }
fi

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! command -v pg_ctlcluster >/dev/null; then
    log "installing postgresql"
    apt_install postgresql postgresql-client
fi
if ! pg_up; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 100); do pg_up && break; sleep 0.1; done
    pg_up || { log "PostgreSQL did not come up"; exit 1; }
fi
if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
    # A fresh Debian install asks for passwords on TCP; the test user connects without one.
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    hba=/etc/postgresql/$version/main/pg_hba.conf
    log "allowing passwordless postgres@127.0.0.1 for tests in $hba"
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    sleep 0.5
fi
if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1; then
    log "creating database test"
    psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE test'
fi
log "Redis and PostgreSQL are up"
