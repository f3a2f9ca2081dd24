#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server on 127.0.0.1, for trolley-bench's postgres
# target (bench/postgres_target.h) and its test.
#
#   bash bench/peers/postgres.sh start DIR [--port 5433]
#   bash bench/peers/postgres.sh stop DIR
#
# start creates a fresh cluster in DIR/data (initdb; a cluster left there by
# an earlier start is removed, so every run starts with no carts), starts it
# on 127.0.0.1:PORT with its unix socket in DIR (keep DIR short: a socket
# path has at most 107 bytes), creates database "trolley", waits until it
# accepts connections and prints the conninfo to pass to --pg-conninfo.
# Log in DIR/postgres.log, postmaster pid in DIR/postgres.pid. stop shuts it
# down (pg_ctl stop -m fast, then SIGKILL of that pid after 30 s).
#
# Settings: the defaults, except synchronous_commit=on and fsync=on (the
# durable-before-ack class: a commit returns after its WAL is fsynced, the
# guarantee the benchmark compares), max_connections=200 (the pool of every
# load thread) and shared_buffers=256MB. Authentication is "trust", which
# is safe only because the server listens on loopback and DIR alone.
#
# PostgreSQL refuses to run as root: as root, initdb, pg_ctl and the server
# run as the "postgres" system user (runuser), DIR is chown'ed to it and
# must be reachable by it (every parent directory searchable); the database
# user is then "postgres". Otherwise they run as, and the user is, you.
set -euo pipefail
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
WAIT_S=30

cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '2,25p' "$0"; exit 2; }
shift 2
port=5433
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    *) echo "postgres: unknown option $1" >&2; exit 2 ;;
  esac
done

for tool in initdb pg_ctl pg_isready postgres createdb; do
  if [ ! -x "$PGBIN/$tool" ]; then
    echo "postgres: $PGBIN/$tool not found: install PostgreSQL 15 with scripts/install-deps.sh" \
      "(or set PGBIN to its bin directory)" >&2
    exit 1
  fi
done

if [ "$(id -u)" = 0 ]; then
  pg_user=postgres
  id -u "$pg_user" >/dev/null 2>&1 || {
    echo "postgres: running as root needs the 'postgres' system user (Debian's postgresql" \
      "package creates it; scripts/install-deps.sh installs it)" >&2
    exit 1
  }
  as_pg() { runuser -u "$pg_user" -- "$@"; }
else
  pg_user="$(id -un)"
  as_pg() { "$@"; }
fi

# Whether pid runs. A postmaster that exited may linger as a zombie until
# its new parent (pid 1, which in a container may be slow to) reaps it.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# The postmaster's pid if DIR's server is running, else nothing.
running_pid() {
  local pid
  [ -f "$dir/postgres.pid" ] || return 0
  pid="$(cat "$dir/postgres.pid")"
  if [ -n "$pid" ] && alive "$pid"; then echo "$pid"; fi
}

case "$cmd" in
start)
  mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
  data="$dir/data"
  if [ -n "$(running_pid)" ]; then
    echo "postgres: a server of $dir is running (pid $(running_pid)); stop it first" >&2
    exit 1
  fi
  if [ -e "$data" ]; then
    if [ ! -f "$data/PG_VERSION" ]; then
      echo "postgres: $data exists and is not a PostgreSQL cluster; choose another DIR" >&2
      exit 1
    fi
    rm -rf "$data"
  fi
  if [ "$pg_user" != "$(id -un)" ]; then
    chown "$pg_user": "$dir"
    if ! as_pg test -w "$dir"; then
      echo "postgres: user $pg_user cannot reach $dir: make every parent directory" \
        "searchable (chmod o+x; a mktemp -d directory is 0700) or choose another DIR" >&2
      exit 1
    fi
  fi
  if ! as_pg "$PGBIN/initdb" -D "$data" -U "$pg_user" --auth=trust -E UTF8 --no-locale \
      >"$dir/initdb.log" 2>&1; then
    echo "postgres: initdb failed; its log:" >&2
    tail -n 20 "$dir/initdb.log" >&2
    exit 1
  fi
  cat >>"$data/postgresql.conf" <<CONF

# bench/peers/postgres.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
synchronous_commit = on
fsync = on
max_connections = 200
shared_buffers = 256MB
CONF
  : >"$dir/postgres.log"
  [ "$pg_user" = "$(id -un)" ] || chown "$pg_user": "$dir/postgres.log"
  # pg_ctl -w returns once the server accepts connections, or fails early
  # when it exits (e.g. the port is taken); pg_isready then checks TCP.
  ready=""
  if as_pg "$PGBIN/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t "$WAIT_S" start >/dev/null; then
    head -n 1 "$data/postmaster.pid" >"$dir/postgres.pid"
    for _ in $(seq 1 $((WAIT_S * 10))); do
      if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$pg_user" -d postgres -t 1; then
        ready=1
        break
      fi
      [ -n "$(running_pid)" ] || break
      sleep 0.1
    done
  fi
  if [ -z "$ready" ]; then
    echo "postgres: the server did not come up on 127.0.0.1:$port (waited at most" \
      "${WAIT_S} s); its log:" >&2
    tail -n 20 "$dir/postgres.log" >&2
    if [ -f "$data/postmaster.pid" ]; then head -n 1 "$data/postmaster.pid" >"$dir/postgres.pid"; fi
    pid="$(running_pid)"
    [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
    exit 1
  fi
  as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U "$pg_user" trolley
  echo "postgres: PostgreSQL 15 up on 127.0.0.1:$port (synchronous_commit=on, fsync=on)," \
    "data in $data"
  echo "host=127.0.0.1 port=$port dbname=trolley user=$pg_user"
  ;;
stop)
  [ -d "$dir" ] || { echo "postgres: no such directory $dir" >&2; exit 1; }
  dir="$(cd "$dir" && pwd)"
  pid="$(running_pid)"
  if [ -z "$pid" ]; then rm -f "$dir/postgres.pid"; exit 0; fi
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -t "$WAIT_S" stop >/dev/null 2>&1 || true
  if alive "$pid"; then
    echo "postgres: pid $pid did not stop within ${WAIT_S} s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
  fi
  rm -f "$dir/postgres.pid"
  ;;
*) echo "postgres: unknown command $cmd (start, stop)" >&2; exit 2 ;;
esac
