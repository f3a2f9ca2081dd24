#!/usr/bin/env bash
# Throwaway Redis 7 servers on 127.0.0.1, for trolley-bench's redis target
# (bench/redis_target.h) and its test: one primary and K replicas.
#
#   bash bench/peers/redis.sh start DIR [--port 6390] [--replicas 0]
#   bash bench/peers/redis.sh stop DIR
#
# start runs redis-server as the primary on 127.0.0.1:PORT and K replicas
# (--replicaof the primary) on PORT+1..PORT+K, each in the background with
# its working directory DIR/<name> (emptied first, so every run starts with
# no carts), its log in DIR/<name>.log and its pid in DIR/<name>.pid, where
# <name> is "primary", "replica1", ...; it waits until each answers PING and
# the primary has K replicas whose links are up, then prints the pid files.
# It refuses a port something already listens on; if a server fails to
# come up it prints that server's log tail and stops the others. stop sends
# SIGTERM to the redis-server pids in those files (only them), waits up to
# 10 s, then sends SIGKILL.
#
# Settings: in memory only (--save "", --appendonly no: nothing reaches the
# disk, which is what the benchmark reports for Redis), replication
# asynchronous (the adapter's WAIT makes a write wait for replicas), the
# primary's diskless sync starting at once. No password: loopback only.
set -euo pipefail
WAIT_S=30

cmd="${1:-}"; dir="${2:-}"
if [ -z "$cmd" ] || [ -z "$dir" ]; then sed -n '2,22p' "$0"; exit 2; fi
shift 2
port=6390 replicas=0
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --replicas) replicas="$2"; shift 2 ;;
    *) echo "redis: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$port$replicas" in
  *[!0-9]*) echo "redis: --port and --replicas take numbers" >&2; exit 2 ;;
esac
if [ $((port + replicas)) -gt 65535 ] || [ "$port" -lt 1 ]; then
  echo "redis: ports $port..$((port + replicas)) are not all valid" >&2; exit 2
fi

names() {
  echo primary
  for i in $(seq 1 "$replicas"); do echo "replica$i"; done
}

# The pid in DIR/NAME.pid if it is a running redis-server, else nothing.
running_pid() {
  local pidfile="$dir/$1.pid" pid
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  # A child that exited during start is a zombie until this shell reaps it.
  ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null || return 0
  case "$(cat "/proc/$pid/comm" 2>/dev/null)" in redis-server*) echo "$pid" ;; esac
}

# "field:value" lines of INFO SECTION from 127.0.0.1:PORT, without the CRs.
info() { redis-cli -h 127.0.0.1 -p "$1" info "$2" 2>/dev/null | tr -d '\r'; }

# SIGTERM to every redis-server of DIR's pid files at once (they take about
# a second each to exit), SIGKILL to any still running 10 s later.
stop_all() {
  local pidfile name pid pids=()
  for pidfile in "$dir"/primary.pid "$dir"/replica*.pid; do
    [ -f "$pidfile" ] || continue
    name="$(basename "$pidfile" .pid)"
    pid="$(running_pid "$name")"
    if [ -n "$pid" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$pidfile"
  done
  for _ in $(seq 1 100); do
    alive=0
    for pid in "${pids[@]}"; do
      if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
        alive=1
      fi
    done
    [ "$alive" = 1 ] || return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "redis: pid $pid did not stop within 10 s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

# Prints NAME's log tail, stops everything this start began, and fails.
fail() {
  local name="$1"; shift
  echo "redis: $*; the log of $name ($dir/$name.log):" >&2
  tail -n 20 "$dir/$name.log" >&2 || true
  stop_all
  exit 1
}

case "$cmd" in
start)
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    echo "redis: redis-server and redis-cli not found: install redis-server (Debian package" \
      "redis-server, which brings redis-tools; scripts/install-deps.sh)" >&2
    exit 1
  fi
  mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
  for name in $(names); do
    if [ -n "$(running_pid "$name")" ]; then
      echo "redis: $name of $dir is running (pid $(running_pid "$name")); stop it first" >&2
      exit 1
    fi
  done
  for p in $(seq "$port" $((port + replicas))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "redis: something already listens on 127.0.0.1:$p; choose another --port" >&2
      exit 1
    fi
  done
  p="$port"
  for name in $(names); do
    rm -rf "${dir:?}/$name"; mkdir -p "$dir/$name"
    : >"$dir/$name.log"
    args=(--port "$p" --bind 127.0.0.1 --dir "$dir/$name" --save "" --appendonly no
      --daemonize no --logfile "$dir/$name.log")
    if [ "$name" = primary ]; then
      args+=(--repl-diskless-sync-delay 0)
    else
      args+=(--replicaof 127.0.0.1 "$port")
    fi
    redis-server "${args[@]}" </dev/null >>"$dir/$name.log" 2>&1 &
    echo $! >"$dir/$name.pid"
    p=$((p + 1))
  done
  p="$port"
  for name in $(names); do
    ok=""
    for _ in $(seq 1 $((WAIT_S * 10))); do
      if [ "$(redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null)" = PONG ]; then ok=1; break; fi
      [ -n "$(running_pid "$name")" ] || break
      sleep 0.1
    done
    [ -n "$ok" ] || fail "$name" "$name did not answer PING on 127.0.0.1:$p within ${WAIT_S} s"
    p=$((p + 1))
  done
  ok=""
  for _ in $(seq 1 $((WAIT_S * 10))); do
    up=0
    for i in $(seq 1 "$replicas"); do
      if info $((port + i)) replication | grep -qx 'master_link_status:up'; then up=$((up + 1)); fi
    done
    if [ "$up" = "$replicas" ] &&
        info "$port" replication | grep -qx "connected_slaves:$replicas"; then
      ok=1; break
    fi
    sleep 0.1
  done
  [ -n "$ok" ] || fail primary "the primary on 127.0.0.1:$port does not have $replicas replicas" \
    "with their links up after ${WAIT_S} s"
  echo "redis: primary on 127.0.0.1:$port, $replicas replicas on" \
    "127.0.0.1:$((port + 1))..$((port + replicas)) (in memory, asynchronous replication);" \
    "pid files:"
  for name in $(names); do echo "$dir/$name.pid"; done
  ;;
stop)
  [ -d "$dir" ] || { echo "redis: no such directory $dir" >&2; exit 1; }
  dir="$(cd "$dir" && pwd)"
  stop_all
  ;;
*) echo "redis: unknown command $cmd (start, stop)" >&2; exit 2 ;;
esac
