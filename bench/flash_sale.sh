#!/usr/bin/env bash
# Flash-sale benchmark, one command, Trolley against the stores a team
# would otherwise pick, side by side in one run. For each durability class:
#  - sync:  local 3-node Trolley clusters (N=3 R=2 W=2, `sync`) against
#           PostgreSQL 15 with synchronous_commit on (bench/peers/postgres.sh),
#           per line as the design documents build it (postgres-lines:
#           carts + cart_items rows, one upsert per add) and whole cart
#           (postgres: one jsonb row per cart, SELECT ... FOR UPDATE);
#  - flush: Trolley in `flush` against Redis 7, one primary and two
#           replicas with WAIT 1 after each write, per line (redis-lines-
#           replicated: a hash per cart, one HINCRBY per add) and whole cart
#           (redis-replicated: WATCH/MULTI/EXEC of a JSON string), and
#           standalone whole-cart Redis as the no-replication ceiling
#           (bench/peers/redis.sh).
# The ratios that matter are against the per-line peers (flush against
# redis-lines-replicated, sync against postgres-lines); the whole-cart ones
# follow as extra rows.
# Every run gets a fresh target (empty carts: carts grow during a run, and
# with them the cost of each read-modify-write) driven by trolley-bench with
# the same workload, seed and load (after a `sync` and 3 s of quiet between
# runs); then a fault run kills one Trolley node
# under load and restarts it. Prints the runs, then one table of Trolley
# against each peer with the ratios; JSON, Markdown, per-second series and
# PNG plots in $OUT. docs/benchmarks.md explains each run and the figures.
#
#   bash bench/flash_sale.sh [--duration-s 30] [--warmup-s 2] [--concurrency 48]
#       [--saturation-concurrency 512] [--threads 1] [--carts 10000]
#       [--products 10000] [--zipf 0.99] [--modes "sync flush"] [--loads "0.5 0.8"]
#       [--no-browse] [--no-aim] [--aim-duration-s 10] [--fault sync|flush|none]
#       [--fault-rate OPS] [--base-port 17501] [--quick] [--long] [--tls off|on] [--aae on|off]
#       [--peers "postgres-lines postgres redis-lines-replicated redis-replicated redis-standalone"]
#
# Per mode:
#  - flash-sale, closed loop, at --concurrency in flight and at
#    --saturation-concurrency (0: skip; deeper queues batch more);
#  - flash-sale, open loop, at each fraction in --loads of the higher of
#    those two throughputs;
#  - adds only, open loop, at the issue's aim (sync 5000/s, flush 20000/s),
#    for --aim-duration-s (a target that cannot keep up builds a backlog
#    that the drain must work off);
#  - browse, closed loop.
# Each peer of the mode then runs the same list, at the same concurrency and
# the same open-loop rates (Trolley's), so every row compares like with like.
# Every run checks its carts at the end (--verify). Fault: open loop at
# --fault-rate (default: half the closed-loop throughput of that mode, else
# 2000/s), SIGKILL of node n2 at 1/3 of the window, restart at 2/3.
# --quick: 10 s runs, no browse. --long: the stability run: 300 s closed
# loop at --concurrency only (no saturation, open-loop, aim, browse or
# fault runs), for every store; each run's ok ops/s per 10 s go to
# $OUT/NAME.intervals.csv and stability.png, and the summary's "last 10 s /
# first 30 s" column is the issue's within-15% figure (flags after --long
# override it, e.g. --long --duration-s 120). --tls on: the Trolley clusters run with
# TLS (scripts/local-cluster.sh's development CA) and trolley-bench
# connects with the "admin" client certificate; off (the default, as in
# every recorded run) is plain TCP on loopback. --aae off: the Trolley
# clusters run without active anti-entropy exchanges ([aae] enabled = 0);
# on (the default) runs them with the node's default throttles. The hash
# trees are kept in the write transaction either way.
#
# Build first: cmake --build build -j2 --target trolleyd trolley trolley-bench
# (the peers' servers come from scripts/install-deps.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SELF="$ROOT/bench/flash_sale.sh"
TROLLEYD="${TROLLEYD:-$ROOT/build/node/server/trolleyd}"
TROLLEY="${TROLLEY:-$ROOT/build/tools/trolley}"
BENCH="${BENCH:-$ROOT/build/bench/trolley-bench}"

# Internal: the fault run's restart command (trolley-bench runs it with
# /bin/sh -c). Starts node i of DIR again with its config, appends to its
# log, rewrites its pid file, and returns once the node answers.
if [ "${1:-}" = "_restart" ]; then
  dir="$2" i="$3" port="$4"
  echo "flash_sale: restart of n$i at $(date +%T.%N)" >>"$dir/n$i.log"
  "$TROLLEYD" --config "$dir/n$i.toml" </dev/null >>"$dir/n$i.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/n$i.pid"
  # shellcheck disable=SC1091
  [ -f "$dir/client.env" ] && . "$dir/client.env"  # TLS on: the admin client's certificate
  for _ in $(seq 1 300); do
    if "$TROLLEY" --node "127.0.0.1:$port" --timeout-ms 500 ring >/dev/null 2>&1; then exit 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "flash_sale: n$i exited on restart" >&2; exit 1; }
    sleep 0.1
  done
  echo "flash_sale: n$i did not answer within 30 s of its restart" >&2
  exit 1
fi

duration=30 warmup=2 concurrency=48 threads=1 carts=10000 products=10000 zipf=0.99
modes="sync flush" loads="0.5 0.8" browse=1 aim=1 aim_duration=10 fault=sync fault_rate="" deep=512
peers="postgres-lines postgres redis-lines-replicated redis-replicated redis-standalone"
base=17501 tls=off aae=on
while [ $# -gt 0 ]; do
  case "$1" in
    --duration-s) duration="$2"; shift 2 ;;
    --warmup-s) warmup="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --saturation-concurrency) deep="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --carts) carts="$2"; shift 2 ;;
    --products) products="$2"; shift 2 ;;
    --zipf) zipf="$2"; shift 2 ;;
    --modes) modes="$2"; shift 2 ;;
    --loads) loads="$2"; shift 2 ;;
    --no-browse) browse=0; shift ;;
    --no-aim) aim=0; shift ;;
    --aim-duration-s) aim_duration="$2"; shift 2 ;;
    --fault) fault="$2"; shift 2 ;;
    --fault-rate) fault_rate="$2"; shift 2 ;;
    --peers) peers="$2"; shift 2 ;;
    --base-port) base="$2"; shift 2 ;;
    --quick) duration=10; warmup=1; browse=0; shift ;;
    --long) duration=300; deep=0; loads=""; aim=0; browse=0; fault=none; shift ;;
    --tls) tls="$2"; shift 2 ;;
    --aae) aae="$2"; shift 2 ;;
    *) echo "flash_sale: unknown option $1" >&2; sed -n '26,31p' "$SELF" >&2; exit 2 ;;
  esac
done
for bin in "$TROLLEYD" "$TROLLEY" "$BENCH"; do
  [ -x "$bin" ] || { echo "flash_sale: $bin is missing; build first" >&2; exit 2; }
done
# The peers' servers, checked before anything runs.
for peer in $peers; do
  case "$peer" in
    postgres|postgres-lines) need=/usr/lib/postgresql/15/bin/postgres ;;
    redis-replicated|redis-standalone|redis-lines-replicated|redis-lines-standalone)
      need="$(command -v redis-server || echo redis-server)" ;;
    *) echo "flash_sale: unknown peer $peer (postgres-lines, postgres, redis-lines-replicated," \
         "redis-replicated, redis-lines-standalone, redis-standalone)" >&2
       exit 2 ;;
  esac
  [ -x "$need" ] || {
    echo "flash_sale: $need is missing for peer $peer: run scripts/install-deps.sh, or pass --peers \"\"" >&2
    exit 2
  }
done

OUT="${OUT:-$ROOT/build/bench-results/flash-sale-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
work="$(mktemp -d /tmp/trolley-flash-sale.XXXXXX)"
chmod 755 "$work"  # PostgreSQL runs as its own user when we are root: it must reach its dir
clusters=()
peer_dirs=()  # KIND:DIR of every peer started (postgres, redis)
cleanup() {
  for dir in "${clusters[@]}"; do bash "$ROOT/scripts/local-cluster.sh" stop "$dir" || true; done
  for entry in "${peer_dirs[@]}"; do
    if [ -d "${entry#*:}" ]; then
      bash "$ROOT/bench/peers/${entry%%:*}.sh" stop "${entry#*:}" >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

results=()       # JSON files, in run order, for the table
pairs=()         # TROLLEY.json=PEER.json against the per-line peers, for the side-by-side table
whole_pairs=()   # the same against the whole-cart peers (extra rows)
failed_checks=0
declare -A closed_rate  # durability -> closed-loop ops/s
declare -A suite        # durability -> the runs Trolley did: "suffix:flag,flag,..." words

# Top-level "ops_per_s" of a result JSON (nlohmann dumps keys sorted, two
# spaces of indent at the top level).
ops_per_s() { sed -n 's/^  "ops_per_s": \([0-9.e+]*\),\{0,1\}$/\1/p' "$1" | head -n 1; }

start_cluster() {  # DIR DURABILITY BASE_PORT
  clusters+=("$1")
  bash "$ROOT/scripts/local-cluster.sh" start "$1" --durability "$2" --base-port "$3" --tls "$tls" \
    --aae "$aae" >/dev/null
}
stop_cluster() { bash "$ROOT/scripts/local-cluster.sh" stop "$1"; rm -rf "$1"; }

# One trolley-bench run on a fresh target (empty carts, so every run starts
# from the same state):
#   run_bench NAME TARGET DURABILITY BASE_PORT [trolley-bench flags...]
# TARGET: trolley (a 3-node cluster in DURABILITY), postgres-lines,
# postgres, redis-lines-replicated, redis-replicated, redis-lines-standalone,
# redis-standalone. (run_duration=S before the call overrides --duration-s
# for this run.)
run_bench() {
  local name="$1" target="$2" mode="$3" port="$4"; shift 4
  local dir="$work/$name" rc=0 target_flags=() pid_files detail
  echo "== $name" >&2
  case "$target" in
    trolley)
      start_cluster "$dir" "$mode" "$port"
      target_flags=(--nodes "127.0.0.1:$port,127.0.0.1:$((port + 1)),127.0.0.1:$((port + 2))")
      if [ "$tls" = on ]; then
        target_flags+=(--tls-ca "$dir/tls/ca.pem" --tls-cert "$dir/tls/client-admin.pem"
          --tls-key "$dir/tls/client-admin.key")
      fi
      pid_files="$dir/n1.pid,$dir/n2.pid,$dir/n3.pid"
      detail="$mode" ;;
    postgres|postgres-lines)
      peer_dirs+=("postgres:$dir")
      bash "$ROOT/bench/peers/postgres.sh" start "$dir" --port "$port" >/dev/null
      target_flags=(--target postgres
        --pg-conninfo "host=127.0.0.1 port=$port dbname=trolley user=$(postgres_user)")
      pid_files="$dir/postgres.pid"
      if [ "$target" = postgres-lines ]; then
        target_flags+=(--layout per-line)
        detail="15, per line, synchronous_commit=on"
      else
        detail="15, whole cart, synchronous_commit=on"
      fi ;;
    redis-replicated|redis-standalone|redis-lines-replicated|redis-lines-standalone)
      peer_dirs+=("redis:$dir")
      local replicas=2 wait=1 layout=whole-cart shape="whole cart"
      case "$target" in *-standalone) replicas=0 wait=0 ;; esac
      case "$target" in redis-lines-*) layout=per-line shape="per line" ;; esac
      bash "$ROOT/bench/peers/redis.sh" start "$dir" --port "$port" --replicas "$replicas" >/dev/null
      target_flags=(--target redis --redis "127.0.0.1:$port" --redis-wait-replicas "$wait"
        --layout "$layout")
      pid_files="$(ls "$dir"/*.pid | paste -sd, -)"
      if [ "$replicas" -gt 0 ]; then detail="7, $shape, primary + $replicas replicas, WAIT $wait"
      else detail="7, $shape, standalone"; fi ;;
    *) echo "flash_sale: unknown target $target" >&2; return 2 ;;
  esac
  "$BENCH" "${target_flags[@]}" \
    --duration-s "${run_duration:-$duration}" --warmup-s "$warmup" --threads "$threads" \
    --carts "$carts" --products "$products" --zipf "$zipf" --verify \
    --cpu-pid-files "$pid_files" --target-detail "$detail" \
    --label "$name" --json "$OUT/$name.json" --markdown "$OUT/$name.md" \
    --series "$OUT/$name.tsv" --intervals "$OUT/$name.intervals.csv" \
    "${@//@DIR@/$dir}" >/dev/null || rc=$?
  stop_target "$target" "$dir"
  settle
  if [ "$rc" = 3 ]; then
    echo "flash_sale: $name: the end-of-run check FAILED (see $OUT/$name.md)" >&2
    failed_checks=$((failed_checks + 1))
  elif [ "$rc" != 0 ]; then
    echo "flash_sale: $name: trolley-bench failed (exit $rc)" >&2
    return "$rc"
  fi
  results+=("$OUT/$name.json")
}

# Between runs: write back what the page cache still holds and let the
# CPU go idle, so that a run's fsyncs do not queue behind the last one's
# writeback (a sync run right after an overloaded one measured twice its
# p99 otherwise).
settle() { sync; sleep 3; }

stop_target() {  # TARGET DIR
  case "$1" in
    trolley) stop_cluster "$2" ;;
    postgres*) bash "$ROOT/bench/peers/postgres.sh" stop "$2" || true; rm -rf "$2" ;;
    redis-*) bash "$ROOT/bench/peers/redis.sh" stop "$2" || true; rm -rf "$2" ;;
  esac
}

# The OS user PostgreSQL runs as (bench/peers/postgres.sh: postgres when
# started by root).
postgres_user() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }

# One of Trolley's runs, remembered so that the peers run the same list:
#   trolley_run MODE PORT SUFFIX [flags...]
trolley_run() {
  local mode="$1" port="$2" suffix="$3"; shift 3
  run_bench "trolley-$mode-$suffix" trolley "$mode" "$port" "$@"
  suite[$mode]+=" $suffix:$(IFS=,; echo "$*")"
}

run_trolley() {  # DURABILITY BASE_PORT
  local mode="$1" port="$2" rate x x_deep
  trolley_run "$mode" "$port" closed --workload flash-sale --concurrency "$concurrency"
  x="$(ops_per_s "$OUT/trolley-$mode-closed.json")"
  if [ "$deep" -gt 0 ]; then
    # Deeper queues batch more (group commit, pipelining): the saturation
    # throughput, at a higher latency.
    trolley_run "$mode" "$port" "closed-$deep" --workload flash-sale --concurrency "$deep"
    x_deep="$(ops_per_s "$OUT/trolley-$mode-closed-$deep.json")"
    x="$(awk -v a="$x" -v b="$x_deep" 'BEGIN { print (b > a ? b : a) }')"
  fi
  closed_rate[$mode]="$x"
  for f in $loads; do
    rate="$(awk -v x="$x" -v f="$f" 'BEGIN { r = int(x * f); print (r < 1 ? 1 : r) }')"
    trolley_run "$mode" "$port" "open-$(awk -v f="$f" 'BEGIN { print int(f * 100) }')pct" \
      --workload flash-sale --rate "$rate"
  done
  if [ "$aim" = 1 ]; then
    # The issue's aim for add-to-cart: sync >= 5k/s at p99 <= 15 ms,
    # flush >= 20k/s at p99 <= 3 ms. Adds only, at that rate, open loop.
    local aim_rate=5000
    [ "$mode" = flush ] && aim_rate=20000
    run_duration="$aim_duration" trolley_run "$mode" "$port" "aim-adds-$aim_rate" \
      --workload flash-sale --mix add=100 --rate "$aim_rate" --drain-max-s 10
  fi
  if [ "$browse" = 1 ]; then
    trolley_run "$mode" "$port" browse --workload browse --concurrency "$concurrency"
  fi
  bash "$ROOT/bench/plot.sh" "$OUT/trolley-$mode.png" "$OUT"/trolley-"$mode"-*.tsv >&2 || true
}

# A peer runs the list Trolley ran in its class, with the same flags (same
# concurrency, same open-loop rates):  run_peer PEER MODE PORT
run_peer() {
  local peer="$1" mode="$2" port="$3" word suffix flags
  for word in ${suite[$mode]:-}; do
    suffix="${word%%:*}"
    IFS=, read -r -a flags <<<"${word#*:}"
    if [ "$suffix" = "aim-adds-${suffix#aim-adds-}" ]; then
      run_duration="$aim_duration" run_bench "$peer-$suffix" "$peer" "$mode" "$port" "${flags[@]}"
    else
      run_bench "$peer-$suffix" "$peer" "$mode" "$port" "${flags[@]}"
    fi
    case "$peer" in
      *-lines*) pairs+=("$OUT/trolley-$mode-$suffix.json=$OUT/$peer-$suffix.json") ;;
      *) whole_pairs+=("$OUT/trolley-$mode-$suffix.json=$OUT/$peer-$suffix.json") ;;
    esac
  done
  bash "$ROOT/bench/plot.sh" "$OUT/$peer.png" "$OUT"/"$peer"-*.tsv >&2 || true
}

run_trolley_fault() {  # DURABILITY BASE_PORT
  local mode="$1" port="$2" rate
  rate="${fault_rate:-}"
  if [ -z "$rate" ]; then
    rate="$(awk -v x="${closed_rate[$mode]:-0}" 'BEGIN { r = int(x / 2); print (r < 1 ? 2000 : r) }')"
  fi
  # @DIR@ is the run's cluster dir (run_bench substitutes it).
  run_bench "trolley-$mode-fault" trolley "$mode" "$port" --workload flash-sale --rate "$rate" \
    --kill-node-at 0.3333 --restart-node-at 0.6667 --kill-pid-file "@DIR@/n2.pid" \
    --restart-cmd "bash '$SELF' _restart '@DIR@' 2 $((port + 1))"
  bash "$ROOT/bench/plot.sh" "$OUT/trolley-$mode-fault.png" "$OUT/trolley-$mode-fault.tsv" >&2 || true
}

echo "flash_sale: results in $OUT; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
port="$base"
for mode in $modes; do
  run_trolley "$mode" "$port"
  side=("$OUT/trolley-$mode-closed.tsv")
  for peer in $peers; do
    case "$mode:$peer" in
      sync:postgres* | flush:redis-*)
        run_peer "$peer" "$mode" "$((port + 5))"
        side+=("$OUT/$peer-closed.tsv") ;;
    esac
  done
  # The closed-loop runs at --concurrency of Trolley and its peers, on one plot.
  if [ ${#side[@]} -gt 1 ]; then
    bash "$ROOT/bench/plot.sh" "$OUT/side-by-side-$mode.png" "${side[@]}" >&2 || true
  fi
  port=$((port + 10))
done
if [ "$fault" != none ]; then
  run_trolley_fault "$fault" "$port"
fi
# Ok ops/s per 10 s of every closed-loop run at --concurrency, on one plot
# (the stability figure of --long).
closed_csvs=("$OUT"/*-closed.intervals.csv)
if [ -f "${closed_csvs[0]}" ]; then
  bash "$ROOT/bench/plot.sh" --intervals "$OUT/stability.png" "${closed_csvs[@]}" >&2 || true
fi

{
  echo "## Flash-sale benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average now $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  "$BENCH" --summarize "${results[@]}"
  if [ ${#pairs[@]} -gt 0 ]; then
    echo
    echo "### Trolley against the per-line peers (same workload, concurrency and rate; ratio = Trolley / peer)"
    echo
    "$BENCH" --compare "${pairs[@]}"
  fi
  if [ ${#whole_pairs[@]} -gt 0 ]; then
    echo
    echo "### Extra rows: Trolley against the whole-cart peers (read-modify-write of one value per cart)"
    echo
    "$BENCH" --compare "${whole_pairs[@]}"
  fi
  echo
  echo "Trolley: 3 nodes on loopback, N=3 R=2 W=2, anti-entropy $aae, namespace carts-orset; $carts carts, $products products, Zipf $zipf;"
  echo "${duration} s measured after ${warmup} s warm-up per run; latency from the intended start (open loop)."
  echo "Workload mix: add 60, get 30, set/remove 10, checkout 2.5 per 70 modifications (flash-sale)."
  echo "PostgreSQL 15: one server, synchronous_commit on; per line: carts + cart_items, one statement per"
  echo "operation (checkout: SELECT ... FOR UPDATE + DELETE in one transaction); whole cart: a jsonb row"
  echo "per cart, SELECT ... FOR UPDATE then UPDATE."
  echo "Redis 7: replicated = 1 primary + 2 replicas and WAIT 1 per write; per line: a hash per cart,"
  echo "HINCRBY/HSET/HDEL (checkout: MULTI HGETALL DEL EXEC); whole cart: WATCH/MULTI/EXEC of a JSON string."
  echo "Last 10 s / first 30 s: the long-run stability figure (runs of 40 s or more; --long)."
  echo "Per-run tables: $OUT/*.md; plots: $OUT/*.png; ok ops/s per 10 s: $OUT/*.intervals.csv."
} | tee "$OUT/summary.md"
if [ "$failed_checks" -gt 0 ]; then
  echo "flash_sale: $failed_checks run(s) failed the end-of-run check" >&2
  exit 1
fi
