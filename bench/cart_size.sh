#!/usr/bin/env bash
# What a cart's size costs (issue 15; docs/benchmarks.md, 'What a cart's
# size costs'): trolley-bench's cart-size workload at each of --lines, in
# rounds that alternate the sizes (1, 100, 1, 100 by default), a fresh
# 3-node cluster per run (N=3 R=2 W=2, TLS off, anti-entropy off so that
# the nodes' CPU is the operations'), then one table and the ratio of node
# CPU per operation of the last size to the first.
#
#   bash bench/cart_size.sh [--lines "1 100"] [--rounds 2] [--duration-s 15]
#                           [--concurrency 48] [--carts 1000] [--durability flush]
#                           [--aae off] [--perf-lines "1 100" --perf-s 8]
#   bash bench/cart_size.sh --report DIR     # the table and ratio of the runs in DIR again
#
# --perf-lines "L ...": after the rounds, one more run at each L, during which
# `perf record -F 999 -g -p <n1> -- sleep $perf_s` samples node n1 (it starts
# 3 s into the measured window); perf.data and a report sorted by symbol
# and by DSO go to $OUT, and NAME.loopback the bytes the loopback interface
# carried meanwhile (divide by ops/s x seconds for bytes per operation).
# Not in the ratio.
# Build first: cmake --build build -j2 --target trolleyd trolley trolley-bench
# Results: $OUT (default build/bench-results/cart-size-<time>/): per run
# NAME.json and NAME.md.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH="$ROOT/build/bench/trolley-bench"
lines_list="1 100" rounds=2 duration=15 concurrency=48 carts=1000 durability=flush aae=off
perf_lines="" perf_s=8 report=""
while [ $# -gt 0 ]; do
  case "$1" in
    --lines) lines_list="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --duration-s) duration="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --carts) carts="$2"; shift 2 ;;
    --durability) durability="$2"; shift 2 ;;
    --aae) aae="$2"; shift 2 ;;
    --perf-lines) perf_lines="$2"; shift 2 ;;
    --perf-s) perf_s="$2"; shift 2 ;;
    --report) report="$2"; shift 2 ;;
    *) echo "cart_size: unknown option $1" >&2; exit 2 ;;
  esac
done
OUT="${report:-${OUT:-$ROOT/build/bench-results/cart-size-$(date -u +%Y%m%d-%H%M%S)}}"
mkdir -p "$OUT"
work="$(mktemp -d /tmp/trolley-cart-size.XXXXXX)"
cluster=""
trap '[ -n "$cluster" ] && bash "$ROOT/scripts/local-cluster.sh" stop "$cluster" >/dev/null 2>&1; rm -rf "$work"' EXIT
base=17401

# run NAME LINES [perf]: one run on a fresh cluster.
run() {
  local name="$1" lines="$2" perf="${3:-}"
  cluster="$work/$name"
  bash "$ROOT/scripts/local-cluster.sh" start "$cluster" --durability "$durability" \
    --base-port "$base" --tls off --aae "$aae" >/dev/null
  local nodes="127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))"
  local args=(--workload cart-size --cart-lines "$lines" --carts "$carts" --nodes "$nodes"
    --concurrency "$concurrency" --duration-s "$duration" --label "$name"
    --target-detail "$durability" --progress plain
    --cpu-pid-files "$cluster/n1.pid,$cluster/n2.pid,$cluster/n3.pid"
    --json "$OUT/$name.json" --markdown "$OUT/$name.md")
  echo "cart_size: $name: $lines lines, $(cat /proc/loadavg)" >&2
  if [ -z "$perf" ]; then
    "$BENCH" "${args[@]}" >/dev/null
  else
    # The progress lines start at the common start (after the fill); the
    # window opens 2 s later (the warm-up).
    "$BENCH" "${args[@]}" >/dev/null 2>"$OUT/$name.progress" &
    local bench=$!
    until grep -q ' s run ' "$OUT/$name.progress" 2>/dev/null || ! kill -0 "$bench" 2>/dev/null; do
      sleep 0.2
    done
    local pid; pid="$(cat "$cluster/n1.pid")"
    # Loopback bytes over the same seconds: every node's and the client's traffic.
    local lo0 lo1
    lo0=$(awk '$1 == "lo:" {print $2}' /proc/net/dev)
    perf record -F 999 -g -o "$OUT/perf-$name.data" -p "$pid" -- sleep "$perf_s" 2>"$OUT/perf-$name.log"
    lo1=$(awk '$1 == "lo:" {print $2}' /proc/net/dev)
    echo "loopback_bytes $((lo1 - lo0)) seconds $perf_s" >"$OUT/$name.loopback"
    wait "$bench"
    perf report -i "$OUT/perf-$name.data" --no-children --sort dso --stdio 2>/dev/null \
      | grep -v '^$' | sed -n '1,40p' >"$OUT/perf-$name.dso.txt"
    perf report -i "$OUT/perf-$name.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null \
      | grep -v '^$' | sed -n '1,120p' >"$OUT/perf-$name.symbols.txt"
    perf report -i "$OUT/perf-$name.data" --children --sort symbol --stdio -g none 2>/dev/null \
      | grep -v '^$' | sed -n '1,150p' >"$OUT/perf-$name.children.txt"
  fi
  bash "$ROOT/scripts/local-cluster.sh" stop "$cluster" >/dev/null
  cluster=""
  base=$((base + 10))
}

# summarize NAME...: the table of the runs NAME (their JSON in $OUT) and the
# ratio of node CPU per op of the last size to the first.
summarize() {
  local names=("$@")
  echo
  echo "| run | lines | ok ops/s | p99 ms | node CPU µs/op | pages dirtied KB/op | LMDB pwrite KB/op | stored cart bytes | load avg before |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
  for name in "${names[@]}"; do
    jq -r --arg n "$name" '
      (.ops_per_s * .duration_s) as $ops
      | "| \($n) | \(.fill.cart_lines) | \(.ops_per_s | floor) | \(.overall.latency.p99_ms * 100 | round / 100)"
        + " | \(.node_cpu_us_per_op * 10 | round / 10)"
        + " | \(if .node_io then (.node_io.write_bytes / $ops / 1024 * 10 | round / 10) else "n/a" end)"
        + " | \(if .node_io then (.node_io.wchar / $ops / 1024 * 10 | round / 10) else "n/a" end)"
        + " | \(.fill.cart_bytes) | \(.loadavg_before) |"' "$OUT/$name.json"
  done
  echo
  local first="${lines_list%% *}" last="${lines_list##* }" us_first us_last
  mean_us() {
    jq -s '[.[] | .node_cpu_us_per_op] | add / length' "$@"
  }
  us_first=$(mean_us $(for n in "${names[@]}"; do [[ $n == "lines$first-"* ]] && echo "$OUT/$n.json"; done))
  us_last=$(mean_us $(for n in "${names[@]}"; do [[ $n == "lines$last-"* ]] && echo "$OUT/$n.json"; done))
  awk -v a="$us_first" -v b="$us_last" -v f="$first" -v l="$last" 'BEGIN {
    printf "Node CPU per op: %.1f µs at %s line(s), %.1f µs at %s lines (means of the rounds); ratio %s/%s: %.2f\n", a, f, b, l, l, f, b / a }'
  echo "(3 nodes, N=3 R=2 W=2, $durability, anti-entropy $aae, $concurrency in flight, $carts carts, ${duration} s per run; JSON in $OUT)"
}

if [ -n "$report" ]; then
  names=()
  for f in "$OUT"/lines*-r*.json; do names+=("$(basename "$f" .json)"); done
  summarize "${names[@]}"
  exit 0
fi

names=()
for round in $(seq 1 "$rounds"); do
  for lines in $lines_list; do
    run "lines$lines-r$round" "$lines"
    names+=("lines$lines-r$round")
  done
done
for lines in $perf_lines; do run "lines$lines-perf" "$lines" perf; done
[ "${#names[@]}" -gt 0 ] || { echo "(perf runs only; in $OUT)"; exit 0; }
summarize "${names[@]}"

