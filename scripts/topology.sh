#!/usr/bin/env bash
# The production topology of liveclass on one machine, on loopback ports:
#   a 3-master Redis Cluster (Debian's redis-server in cluster mode), PostgreSQL (the local
#   server, one database), 3 `liveclass serve` nodes, 2 `liveclass media` workers (ICE bound in
#   a UDP port range), coturn (TURN over UDP and TCP with liveclass's short-lived credentials,
#   for clients behind firewalls) and nginx (least_conn, WebSocket upgrade) as the load
#   balancer in front of the nodes.
#
#   scripts/topology.sh up       bring it up (idempotent: a healthy topology is left alone,
#                                a broken or partial one is torn down and rebuilt)
#   scripts/topology.sh down     stop everything it started, leaving nothing running
#   scripts/topology.sh status   what runs, on which port (exit 1 when not fully up)
#   scripts/topology.sh stop-node N    drain node N (SIGTERM: it closes its listener, tells its
#                                      clients 1001, they resume on the others via nginx)
#   scripts/topology.sh start-node N   start node N again (after stop-node, or a crash)
#   scripts/topology.sh restart-node N stop-node then start-node: one step of a rolling restart
#
# Missing tools (redis-server, redis-cli, nginx, coturn, PostgreSQL) are installed from Debian's
# packages when run as root. Every wait is bounded; a failure prints the relevant log.
#
# Knobs (environment):
#   LIVECLASS_TOPOLOGY_DIR    run dir: state, pids, logs, configs   (/tmp/liveclass-topology)
#   LIVECLASS_TOPOLOGY_PORT   base port B: nginx B, nodes B+1..B+3, Redis B+11..B+13 (their
#                             cluster bus +10000), coturn B+20 (relays B+100..B+199), media
#                             workers' UDP B+200..B+399                           (17000)
#   LIVECLASS_TOPOLOGY_DB     PostgreSQL database, recreated by `up` (liveclass_topology)
#   LIVECLASS_TOPOLOGY_PG     PostgreSQL admin URL          (postgresql://postgres@127.0.0.1:5432)
#   LIVECLASS_TOPOLOGY_RESET_DB=0  keep the database's content across `up`
#   Any other LIVECLASS_* variable is passed to the nodes and workers (e.g. a JWT secret,
#   LIVECLASS_PRESENCE_TTL_SECONDS); the script sets the Redis, database and node settings.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

RUN=${LIVECLASS_TOPOLOGY_DIR:-/tmp/liveclass-topology}
BASE=${LIVECLASS_TOPOLOGY_PORT:-17000}
DB=${LIVECLASS_TOPOLOGY_DB:-liveclass_topology}
PG=${LIVECLASS_TOPOLOGY_PG:-postgresql://postgres@127.0.0.1:5432}
# The other commands act on the topology `up` made, with the settings it was made with.
if [ "${1:-}" != up ] && [ -f "$RUN/topology.env" ]; then
    # shellcheck disable=SC1091
    source "$RUN/topology.env"
fi
LB_PORT=$BASE
NODES=3
WORKERS=2
REDIS_MASTERS=3
node_port() { echo $((BASE + $1)); }
TURN_PORT=$((BASE + 20))
redis_port() { echo $((BASE + 10 + $1)); }
WAIT=${LIVECLASS_TOPOLOGY_WAIT:-60}   # seconds, per component

log() { echo "topology: $*" >&2; }
die() { log "$*"; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
apt_updated=""
apt_install() {
    log "installing $* from Debian's packages"
    # Another apt run may hold the lock for a while: wait for it (bounded) instead of failing.
    if [ -z "$apt_updated" ]; then
        as_root apt-get -o DPkg::Lock::Timeout=300 update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends "$@" >/dev/null
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2 s until it succeeds.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            log "timed out after ${seconds}s waiting for $what"
            return 1
        fi
        sleep 0.2
    done
}

pid_of() { if pid_alive "$1"; then cat "$1"; else echo -; fi; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pidfile FILE: SIGTERM the process (its drain may take a while), SIGKILL after 30 s.
stop_pidfile() {
    local file=$1 pid
    pid=$(cat "$file" 2>/dev/null) || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + 30))
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 5))
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    fi
    rm -f "$file"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
tcp_open() { ! port_free "$1"; }
http_ok() { curl -fsS -m 2 -o /dev/null "$1"; }

ensure_tools() {
    command -v redis-server >/dev/null || apt_install redis-server
    command -v redis-cli >/dev/null || apt_install redis-tools
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx-light || apt_install nginx
    command -v curl >/dev/null || apt_install curl
    [ -x /usr/bin/turnserver ] || apt_install coturn
    command -v psql >/dev/null || apt_install postgresql postgresql-client
    [ -x .venv/bin/liveclass ] || ./scripts/bootstrap.sh
}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# -- Redis Cluster ---------------------------------------------------------------------------

redis_cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }
cluster_ok() {
    local i
    for i in $(seq "$REDIS_MASTERS"); do
        redis_cli "$(redis_port "$i")" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || return 1
    done
}

redis_up() {
    local i port dir
    for i in $(seq "$REDIS_MASTERS"); do
        port=$(redis_port "$i")
        dir=$RUN/redis-$port
        mkdir -p "$dir"
        rm -f "$dir/nodes.conf"
        port_free "$port" || die "port $port (Redis) is taken"
        port_free $((port + 10000)) || die "port $((port + 10000)) (Redis cluster bus) is taken"
        redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
            --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
            --cluster-node-timeout 5000 --save "" --appendonly no --dir "$dir" \
            --pidfile "$RUN/redis-$i.pid" --logfile "$dir/redis.log"
    done
    for i in $(seq "$REDIS_MASTERS"); do
        port=$(redis_port "$i")
        wait_for "$WAIT" "Redis on $port" sh -c "redis-cli -h 127.0.0.1 -p $port ping | grep -q PONG" \
            || { tail -n 20 "$RUN/redis-$port/redis.log" >&2; exit 1; }
    done
    local addrs=()
    for i in $(seq "$REDIS_MASTERS"); do addrs+=("127.0.0.1:$(redis_port "$i")"); done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$RUN/cluster-create.log" 2>&1 \
        || { cat "$RUN/cluster-create.log" >&2; die "redis-cli --cluster create failed"; }
    wait_for "$WAIT" "the Redis Cluster to agree (cluster_state:ok)" cluster_ok
    log "Redis Cluster up: ${addrs[*]}"
}

# -- PostgreSQL ------------------------------------------------------------------------------

database_up() {
    if ! pg_isready -q -d "$PG/postgres" 2>/dev/null; then
        ./scripts/ensure-services.sh
    fi
    wait_for "$WAIT" "PostgreSQL" pg_isready -q -d "$PG/postgres"
    if [ "${LIVECLASS_TOPOLOGY_RESET_DB:-1}" = 1 ]; then
        psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null
    fi
    if ! psql "$PG/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
        psql "$PG/postgres" -qc "CREATE DATABASE \"$DB\"" >/dev/null
    fi
    export LIVECLASS_DATABASE_URL="$PG/$DB"
    .venv/bin/liveclass db upgrade >"$RUN/migrate.log" 2>&1 \
        || { cat "$RUN/migrate.log" >&2; die "migrations failed"; }
    log "PostgreSQL database $DB migrated"
}

# -- liveclass -------------------------------------------------------------------------------

common_env() {
    export LIVECLASS_REDIS_URL="redis://127.0.0.1:$(redis_port 1)/0"
    export LIVECLASS_REDIS_CLUSTER=true
    export LIVECLASS_DATABASE_URL="$PG/$DB"
    export LIVECLASS_PUBLIC_URL="http://127.0.0.1:$LB_PORT"
    export LIVECLASS_MEDIA_IN_PROCESS=false
    export LIVECLASS_MEDIA_UDP_PORTS="$((BASE + 200))-$((BASE + 399))"
    export LIVECLASS_TURN_URLS="[\"turn:127.0.0.1:$TURN_PORT?transport=udp\",\"turn:127.0.0.1:$TURN_PORT?transport=tcp\"]"
    LIVECLASS_TURN_SECRET=$(cat "$RUN/turn_secret")
    export LIVECLASS_TURN_SECRET
    # Every node must share the signing key: generated once per run dir unless given.
    if [ -z "${LIVECLASS_SECRET_KEY:-}" ]; then
        [ -f "$RUN/secret_key" ] || (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RUN/secret_key")
        LIVECLASS_SECRET_KEY=$(cat "$RUN/secret_key")
        export LIVECLASS_SECRET_KEY
    fi
}

# start_process NAME LOG_MARKER ARGS...: a detached liveclass process with a pidfile.
start_process() {
    local name=$1
    shift
    mkdir -p "$RUN/$name"
    LIVECLASS_DATA_DIR="$RUN/$name" setsid .venv/bin/liveclass "$@" \
        >"$RUN/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
}

start_node() {
    local i=$1 port
    port=$(node_port "$i")
    port_free "$port" || die "port $port (node-$i) is taken"
    LIVECLASS_NODE_ID=node-$i start_process "node-$i" serve --host 127.0.0.1 --port "$port"
}

node_ready() {
    local i=$1
    wait_for "$WAIT" "node-$i ready on $(node_port "$i")" http_ok "http://127.0.0.1:$(node_port "$i")/readyz" \
        || { tail -n 40 "$RUN/node-$i.log" >&2; return 1; }
}

media_alive() {
    [ -n "$(redis-cli -c -h 127.0.0.1 -p "$(redis_port 1)" ZSCORE 'lc:{media}:alive' "$1" 2>/dev/null)" ]
}

nodes_up() {
    local i
    for i in $(seq "$NODES"); do start_node "$i"; done
    for i in $(seq "$WORKERS"); do
        LIVECLASS_MEDIA_WORKER_ID=media-$i start_process "media-$i" media
    done
    for i in $(seq "$NODES"); do node_ready "$i" || exit 1; done
    for i in $(seq "$WORKERS"); do
        # Ready once it heartbeats into the registry (whatever the log level).
        wait_for "$WAIT" "media-$i ready" media_alive "media-$i" \
            || { tail -n 40 "$RUN/media-$i.log" >&2; exit 1; }
    done
    log "$NODES nodes and $WORKERS media workers up"
}

# -- coturn ----------------------------------------------------------------------------------

# TURN for clients whose network blocks UDP, configured as README "Networks that block UDP"
# says for production (without TLS here), on loopback, relaying to the media workers.
turn_up() {
    [ -f "$RUN/turn_secret" ] || (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RUN/turn_secret")
    port_free "$TURN_PORT" || die "port $TURN_PORT (coturn) is taken"
    cat >"$RUN/turnserver.conf" <<EOF
listening-ip=127.0.0.1
listening-port=$TURN_PORT
relay-ip=127.0.0.1
min-port=$((BASE + 100))
max-port=$((BASE + 199))
use-auth-secret
static-auth-secret=$(cat "$RUN/turn_secret")
realm=liveclass.local
fingerprint
no-tls
no-dtls
no-cli
no-multicast-peers
allow-loopback-peers
log-file=$RUN/turnserver.log
simple-log
pidfile=$RUN/turnserver.pid
userdb=$RUN/turndb
EOF
    setsid /usr/bin/turnserver -c "$RUN/turnserver.conf" >/dev/null 2>&1 </dev/null &
    wait_for "$WAIT" "coturn on $TURN_PORT" tcp_open "$TURN_PORT" \
        || { tail -n 40 "$RUN/turnserver.log" >&2; exit 1; }
    log "coturn (TURN over UDP and TCP) on 127.0.0.1:$TURN_PORT"
}

# -- nginx -----------------------------------------------------------------------------------

nginx_up() {
    local i servers=""
    for i in $(seq "$NODES"); do
        # max_fails=0: a node refusing connections (drained, killed) is skipped per request
        # (proxy_next_upstream error) without being benched for fail_timeout.
        servers+="        server 127.0.0.1:$(node_port "$i") max_fails=0;"$'\n'
    done
    mkdir -p "$RUN/nginx"
    cat >"$RUN/nginx.conf" <<EOF
worker_processes 1;
pid $RUN/nginx.pid;
error_log $RUN/nginx/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $RUN/nginx/body;
    proxy_temp_path $RUN/nginx/proxy;
    fastcgi_temp_path $RUN/nginx/fastcgi;
    uwsgi_temp_path $RUN/nginx/uwsgi;
    scgi_temp_path $RUN/nginx/scgi;
    client_max_body_size 0;
    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
    upstream liveclass {
        least_conn;
$servers    }
    server {
        listen 127.0.0.1:$LB_PORT backlog=4096;
        location / {
            proxy_pass http://liveclass;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 2s;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_buffering off;
        }
    }
}
EOF
    port_free "$LB_PORT" || die "port $LB_PORT (nginx) is taken"
    "$NGINX" -t -q -c "$RUN/nginx.conf" -p "$RUN/nginx" 2>"$RUN/nginx-test.log" \
        || { cat "$RUN/nginx-test.log" >&2; die "nginx rejected its configuration"; }
    "$NGINX" -c "$RUN/nginx.conf" -p "$RUN/nginx"
    wait_for "$WAIT" "nginx on $LB_PORT" http_ok "http://127.0.0.1:$LB_PORT/readyz" \
        || { cat "$RUN/nginx/error.log" >&2; exit 1; }
    log "nginx (least_conn) on 127.0.0.1:$LB_PORT"
}

# -- commands --------------------------------------------------------------------------------

healthy() {
    [ -f "$RUN/state.env" ] || return 1
    local i
    for i in $(seq "$REDIS_MASTERS"); do pid_alive "$RUN/redis-$i.pid" || return 1; done
    for i in $(seq "$NODES"); do pid_alive "$RUN/node-$i.pid" || return 1; done
    for i in $(seq "$WORKERS"); do pid_alive "$RUN/media-$i.pid" || return 1; done
    pid_alive "$RUN/nginx.pid" || return 1
    pid_alive "$RUN/turnserver.pid" || return 1
    cluster_ok && http_ok "http://127.0.0.1:$LB_PORT/readyz"
}

write_state() {
    local i
    {
        echo "LB_URL=http://127.0.0.1:$LB_PORT"
        echo "DATABASE_URL=$PG/$DB"
        echo "REDIS_NODES=$(for i in $(seq "$REDIS_MASTERS"); do printf '127.0.0.1:%s ' "$(redis_port "$i")"; done)"
        for i in $(seq "$REDIS_MASTERS"); do echo "REDIS_$i=$(redis_port "$i") $(pid_of "$RUN/redis-$i.pid")"; done
        for i in $(seq "$NODES"); do echo "NODE_$i=$(node_port "$i") $(pid_of "$RUN/node-$i.pid")"; done
        for i in $(seq "$WORKERS"); do echo "MEDIA_$i=$(pid_of "$RUN/media-$i.pid")"; done
        echo "NGINX=$LB_PORT $(pid_of "$RUN/nginx.pid")"
        echo "TURN=$TURN_PORT $(pid_of "$RUN/turnserver.pid")"
    } >"$RUN/state.env.tmp"
    mv "$RUN/state.env.tmp" "$RUN/state.env"
}

cmd_down() {
    local i port
    rm -f "$RUN/state.env"
    stop_pidfile "$RUN/nginx.pid"  # SIGTERM: nginx's fast shutdown
    stop_pidfile "$RUN/turnserver.pid"
    for i in $(seq "$NODES"); do stop_pidfile "$RUN/node-$i.pid" & done
    for i in $(seq "$WORKERS"); do stop_pidfile "$RUN/media-$i.pid" & done
    wait
    for i in $(seq "$REDIS_MASTERS"); do
        port=$(redis_port "$i")
        if pid_alive "$RUN/redis-$i.pid"; then
            timeout 10 redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
        fi
        stop_pidfile "$RUN/redis-$i.pid"
    done
    log "down"
}

cmd_up() {
    if healthy; then
        log "already up"
        cmd_status
        return 0
    fi
    [ -d "$RUN" ] && cmd_down
    mkdir -p "$RUN"
    printf 'BASE=%q\nDB=%q\nPG=%q\n' "$BASE" "$DB" "$PG" >"$RUN/topology.env"
    ensure_tools
    # Tear down whatever started if any step fails, so a failed `up` leaves nothing behind.
    trap 'rc=$?; trap - EXIT; if [ $rc -ne 0 ]; then log "up failed; tearing down"; cmd_down; fi; exit $rc' EXIT
    redis_up
    database_up
    turn_up
    common_env
    # start-node must start a node exactly like `up` did, whatever its caller's environment.
    local v
    for v in $(compgen -e | grep '^LIVECLASS_' | grep -v '^LIVECLASS_TOPOLOGY_\|^LIVECLASS_TEST_'); do
        printf 'export %s=%q\n' "$v" "${!v}"
    done >"$RUN/node.env"
    nodes_up
    nginx_up
    write_state
    trap - EXIT
    log "up: load balancer at http://127.0.0.1:$LB_PORT (state in $RUN/state.env)"
}

cmd_status() {
    local ok=0 i
    show() { # name pidfile detail
        if pid_alive "$2"; then printf '%-8s up    pid %-8s %s\n' "$1" "$(cat "$2")" "$3"
        else printf '%-8s down  %-12s %s\n' "$1" "" "$3"; ok=1; fi
    }
    for i in $(seq "$REDIS_MASTERS"); do show "redis-$i" "$RUN/redis-$i.pid" "127.0.0.1:$(redis_port "$i") (cluster)"; done
    for i in $(seq "$NODES"); do show "node-$i" "$RUN/node-$i.pid" "http://127.0.0.1:$(node_port "$i")"; done
    for i in $(seq "$WORKERS"); do show "media-$i" "$RUN/media-$i.pid" "liveclass media"; done
    show nginx "$RUN/nginx.pid" "http://127.0.0.1:$LB_PORT (least_conn)"
    show coturn "$RUN/turnserver.pid" "turn:127.0.0.1:$TURN_PORT (udp, tcp)"
    if cluster_ok; then echo "redis cluster: ok"; else echo "redis cluster: not ok"; ok=1; fi
    if [ -f "$RUN/state.env" ]; then grep '^DATABASE_URL=' "$RUN/state.env"; fi
    return $ok
}

node_arg() {
    [[ "${1:-}" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$NODES" ] \
        || { echo "usage: $0 $2 1..$NODES" >&2; exit 2; }
    [ -f "$RUN/state.env" ] || die "the topology is not up (no $RUN/state.env)"
}

cmd_stop_node() {
    node_arg "${1:-}" stop-node
    stop_pidfile "$RUN/node-$1.pid"
    write_state
    log "node-$1 drained and stopped"
}

cmd_start_node() {
    node_arg "${1:-}" start-node
    if pid_alive "$RUN/node-$1.pid"; then
        log "node-$1 already runs"
        return 0
    fi
    # shellcheck disable=SC1091
    source "$RUN/node.env"
    start_node "$1"
    node_ready "$1" || { stop_pidfile "$RUN/node-$1.pid"; exit 1; }
    write_state
    log "node-$1 up"
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    stop-node) cmd_stop_node "${2:-}" ;;
    start-node) cmd_start_node "${2:-}" ;;
    restart-node) cmd_stop_node "${2:-}" && cmd_start_node "${2:-}" ;;
    *) echo "usage: $0 up|down|status|stop-node N|start-node N|restart-node N" >&2; exit 2 ;;
esac
