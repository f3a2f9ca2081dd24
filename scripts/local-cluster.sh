#!/usr/bin/env bash
# A local Trolley cluster on 127.0.0.1, for the demo and the benchmarks.
#
#   scripts/local-cluster.sh start DIR [--nodes 3] [--base-port 7101] [--durability sync]
#                                      [--n 3 --r 2 --w 2] [--admin-base-port BASE+2000] [--tls on|off]
#                                      [--aae on|off]
#   scripts/local-cluster.sh stop DIR
#
# The base port defaults to $TROLLEY_BASE_PORT, else 7101. TLS is on by
# default: scripts/dev-certs.sh makes a development CA and certificates in
# DIR/tls (kept across restarts), every node gets a [tls] section, and
# DIR/client.env exports TROLLEY_TLS_CA/_CERT/_KEY for the "admin" (write)
# client certificate: `. DIR/client.env` before using trolley or trolley-bench
# (DIR/tls/client-reader.* is a read-only one). --tls off: plain TCP on loopback.
# --aae (default on, with the node's default throttles): active anti-entropy
# exchanges between the nodes ([aae] enabled = 1 or 0; docs/operations.md).
# start writes DIR/nK.toml, starts build/node/server/trolleyd for each node
# (logs in DIR/nK.log, pids in DIR/nK.pid, data in DIR/nK/) and waits until
# every node answers. Namespaces, all with the given N/R/W and durability:
# "carts" (union-max), "carts-orset" (or-set) and "guest-carts" (or-set,
# 30-day TTL, merged into carts-orset at login). Node K's admin listener
# (/metrics, /healthz, /readyz, backups) is on 127.0.0.1, port admin base + K - 1
# (9101.. with the default base). stop sends SIGTERM to the pids it started and waits.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TROLLEYD="${TROLLEYD:-$ROOT/build/node/server/trolleyd}"
TROLLEY="${TROLLEY:-$ROOT/build/tools/trolley}"

cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '2,21p' "$0"; exit 2; }
shift 2
nodes=3 base="${TROLLEY_BASE_PORT:-7101}" durability=sync n=3 r=2 w=2 admin_base="" tls=on aae=on
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes="$2"; shift 2 ;;
    --base-port) base="$2"; shift 2 ;;
    --durability) durability="$2"; shift 2 ;;
    --n) n="$2"; shift 2 ;;
    --r) r="$2"; shift 2 ;;
    --w) w="$2"; shift 2 ;;
    --admin-base-port) admin_base="$2"; shift 2 ;;
    --tls) tls="$2"; shift 2 ;;
    --aae) aae="$2"; shift 2 ;;
    *) echo "local-cluster: unknown option $1" >&2; exit 2 ;;
  esac
done

admin_base="${admin_base:-$((base + 2000))}"

case "$cmd" in
start)
  mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
  case "$aae" in
    on) aae_enabled=1 ;;
    off) aae_enabled=0 ;;
    *) echo "local-cluster: --aae must be on or off" >&2; exit 2 ;;
  esac
  tls_section=""
  case "$tls" in
    on)
      ids=(); for i in $(seq 1 "$nodes"); do ids+=("n$i"); done
      bash "$ROOT/scripts/dev-certs.sh" "$dir/tls" cluster "${ids[@]}"
      printf 'export TROLLEY_TLS_CA=%q TROLLEY_TLS_CERT=%q TROLLEY_TLS_KEY=%q\n' \
        "$dir/tls/ca.pem" "$dir/tls/client-admin.pem" "$dir/tls/client-admin.key" >"$dir/client.env"
      # shellcheck disable=SC1091
      . "$dir/client.env" ;;
    off) rm -f "$dir/client.env"; unset TROLLEY_TLS_CA TROLLEY_TLS_CERT TROLLEY_TLS_KEY ;;
    *) echo "local-cluster: --tls must be on or off" >&2; exit 2 ;;
  esac
  members=""
  for i in $(seq 1 "$nodes"); do
    members+=$'[[members]]\n'"id = \"n$i\""$'\n'"address = \"127.0.0.1:$((base + i - 1))\""$'\n'
  done
  for i in $(seq 1 "$nodes"); do
    if [ -f "$dir/n$i.pid" ] && kill -0 "$(cat "$dir/n$i.pid")" 2>/dev/null; then
      echo "local-cluster: n$i already running (pid $(cat "$dir/n$i.pid")); stop it first" >&2
      exit 1
    fi
    if [ "$tls" = on ]; then
      tls_section=$'[tls]\n'"ca_file = \"$dir/tls/ca.pem\""$'\n'"cert_file = \"$dir/tls/node-n$i.pem\""$'\n'"key_file = \"$dir/tls/node-n$i.key\""$'\n'
    fi
    cat > "$dir/n$i.toml" <<TOML
node_id = "n$i"
data_dir = "$dir/n$i"
log_level = "info"
$members
[[namespaces]]
name = "carts"
n = $n
r = $r
w = $w
merge = "union-max"
durability = "$durability"

[[namespaces]]
name = "carts-orset"
n = $n
r = $r
w = $w
merge = "or-set"
durability = "$durability"

[[namespaces]]
name = "guest-carts"
n = $n
r = $r
w = $w
ttl_ms = 2592000000
merge = "or-set"
durability = "$durability"

[admin]
port = $((admin_base + i - 1))

[aae]
enabled = $aae_enabled
$tls_section
TOML
    "$TROLLEYD" --config "$dir/n$i.toml" >"$dir/n$i.log" 2>&1 &
    echo $! > "$dir/n$i.pid"
  done
  for i in $(seq 1 "$nodes"); do
    ok=""
    for _ in $(seq 1 100); do
      if "$TROLLEY" --node "127.0.0.1:$((base + i - 1))" --timeout-ms 500 ring >/dev/null 2>&1; then ok=1; break; fi
      kill -0 "$(cat "$dir/n$i.pid")" 2>/dev/null || break
      sleep 0.1
    done
    if [ -z "$ok" ]; then
      echo "local-cluster: n$i did not start; its log:" >&2
      tail -n 20 "$dir/n$i.log" >&2
      exit 1
    fi
  done
  echo "local-cluster: $nodes nodes up on 127.0.0.1:$base..$((base + nodes - 1)) (N=$n R=$r W=$w, $durability, TLS $tls, anti-entropy $aae), admin on $admin_base..$((admin_base + nodes - 1)), data in $dir"
  if [ "$tls" = on ]; then echo "local-cluster: clients need the certificates: . $dir/client.env"; fi
  ;;
stop)
  for pidfile in "$dir"/n*.pid; do
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "local-cluster: pid $pid did not stop within 10 s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
  ;;
*) echo "local-cluster: unknown command $cmd (start, stop)" >&2; exit 2 ;;
esac
