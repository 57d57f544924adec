#!/usr/bin/env bash
# PostgreSQL 15 for the tests: `postgres.sh start|stop` (usually through scripts/services.sh).
# One cluster of the project's own, data in .services/postgres/ (gitignored), listening only on
# 127.0.0.1:15432 with trust authentication; superuser and database `rillet`, so the tests use
# postgresql://rillet@127.0.0.1:15432/rillet. Tuned for speed, not safety (fsync=off): a test
# database, never a real one.
#
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user that
# Debian's package creates (`runuser`), and owns the data folder. Start is idempotent (a server
# already answering: nothing to do); a `postmaster.pid` left by a killed server is removed first.
# Stop is `pg_ctl stop -m fast`: open sessions are ended, and clients see the server go away.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
bin=/usr/lib/postgresql/15/bin  # Debian's; `which pg_ctl` may be a wrapper or another version
port=15432
home="$repo/.services/postgres"

as_server() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

answering() {
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" >/dev/null 2>&1
}

# The server's user must reach its folder: when the checkout lies under a folder it cannot enter
# (/root, a private home), the cluster lives in /var/tmp and .services/postgres links to it.
place() {
    mkdir -p "$repo/.services"
    if [ -L "$home" ]; then
        home="$(readlink -f "$home")"
        return
    fi
    mkdir -p "$home"
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$home"; then
        rmdir "$home" 2>/dev/null || true
        local elsewhere
        elsewhere="/var/tmp/rillet-postgres-$(printf '%s' "$repo" | md5sum | cut -c1-12)"
        mkdir -p "$elsewhere"
        ln -sfn "$elsewhere" "$home"
        home="$elsewhere"
    fi
}

data() { echo "$home/data"; }

# Whether `pid` is a running postgres (a killed one may linger as a zombie, which PostgreSQL's
# own check of its lock file takes for a live server).
alive() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ "$stat" == *"(postgres)"* ]] && [[ "$stat" != *") Z "* ]]
}

init() {
    local data_dir
    data_dir="$(data)"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$home"
    fi
    if [ ! -f "$data_dir/PG_VERSION" ]; then
        as_server "$bin/initdb" -D "$data_dir" --username=rillet --auth=trust --encoding=UTF8 \
            --locale=C >"$home/initdb.log" 2>&1 || { cat "$home/initdb.log" >&2; exit 1; }
        printf 'host all all 127.0.0.1/32 trust\n' >"$data_dir/pg_hba.conf"
    fi
    configure "$data_dir"
}

# The settings, rewritten at every start and included last, so they win over older ones. No
# Unix socket: its path under a deep checkout could pass the 107 bytes a socket path may have;
# every client, this script's too, connects over TCP.
configure() {
    local data_dir="$1"
    cat >"$data_dir/rillet.conf" <<EOF
# rillet's test cluster (scripts/services/postgres.sh): rewritten at every start
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
max_connections = 100
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
checkpoint_timeout = 30min
max_wal_size = 2GB
log_min_messages = warning
log_min_error_statement = panic
EOF
    chmod 644 "$data_dir/rillet.conf"
    grep -q "^include_if_exists 'rillet.conf'" "$data_dir/postgresql.conf" \
        || echo "include_if_exists 'rillet.conf'" >>"$data_dir/postgresql.conf"
}

start() {
    if answering; then
        return
    fi
    place
    init
    local data_dir
    data_dir="$(data)"
    if [ -f "$data_dir/postmaster.pid" ] && ! alive "$(head -n 1 "$data_dir/postmaster.pid")"
    then
        rm -f "$data_dir/postmaster.pid"  # left by a killed server: it would refuse to start
    fi
    as_server "$bin/pg_ctl" -D "$data_dir" -l "$home/server.log" -w -t 60 start >/dev/null \
        || { tail -n 20 "$home/server.log" >&2; exit 1; }
    local exists
    exists="$(as_server "$bin/psql" -h 127.0.0.1 -p "$port" -U rillet -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'rillet'")"
    if [ "$exists" != "1" ]; then
        as_server "$bin/createdb" -h 127.0.0.1 -p "$port" -U rillet rillet
    fi
}

stop() {
    place
    local data_dir
    data_dir="$(data)"
    if [ -f "$data_dir/PG_VERSION" ] \
        && as_server "$bin/pg_ctl" -D "$data_dir" status >/dev/null 2>&1; then
        as_server "$bin/pg_ctl" -D "$data_dir" -m fast -w -t 60 stop >/dev/null
    elif answering; then  # not ours to stop: a test expecting it gone would fail obscurely
        echo "postgres on 127.0.0.1:$port was started by another checkout; stop it there" >&2
        exit 1
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: postgres.sh start|stop" >&2; exit 2 ;;
esac
