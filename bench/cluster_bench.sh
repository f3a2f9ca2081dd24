#!/usr/bin/env bash
# Cluster benchmark: a local 3-node cluster (N=3 R=2 W=2) per durability
# mode, driven by trolley-bench with puts then gets of 1.5 KB values over
# loopback. Prints one table; JSON per mode in $OUT.
#
#   bash bench/cluster_bench.sh [--duration-s 10] [--concurrency 48] [--connections 12]
#                               [--modes "sync flush"]
# Build first: cmake --build build -j2 --target trolleyd trolley trolley-bench
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
duration=10 concurrency=48 connections=12 modes="sync flush"
while [ $# -gt 0 ]; do
  case "$1" in
    --duration-s) duration="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --modes) modes="$2"; shift 2 ;;
    *) echo "cluster_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
OUT="${OUT:-$ROOT/build/bench-results}"
mkdir -p "$OUT"
work="$(mktemp -d /tmp/trolley-cluster-bench.XXXXXX)"
trap 'for m in $modes; do bash "$ROOT/scripts/local-cluster.sh" stop "$work/$m" || true; done; rm -rf "$work"' EXIT

base=17301
for mode in $modes; do
  bash "$ROOT/scripts/local-cluster.sh" start "$work/$mode" --durability "$mode" --base-port "$base" --tls off >/dev/null
  "$ROOT/build/bench/trolley-bench" \
    --nodes "127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))" \
    --duration-s "$duration" --concurrency "$concurrency" --connections "$connections" \
    --label "$mode" --json "$OUT/cluster-$mode.json" | { [ "$mode" = "${modes%% *}" ] && cat || tail -n +2; }
  bash "$ROOT/scripts/local-cluster.sh" stop "$work/$mode"
  base=$((base + 10))
done
echo "(3 nodes, N=3 R=2 W=2, 1.5 KB values, $concurrency in flight over $connections connections; JSON in $OUT)"
