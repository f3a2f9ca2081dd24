#!/usr/bin/env bash
# The main job: installs dependencies, builds, starts a local 3-node cluster
# (N=3 R=2 W=2, sync durability, TLS with a development CA made by
# scripts/dev-certs.sh, data in ./data/demo-cluster, wiped first),
# shows siblings, their resolution, a node killed and catching up through
# hinted handoff, runs a short load, prints what happened and stops the
# cluster. Options: --keep leaves the cluster running (stop it with
# scripts/local-cluster.sh stop ./data/demo-cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
keep=""
[ "${1:-}" = "--keep" ] && keep=1

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTROLLEY_BUILD_BENCH=ON >/dev/null
cmake --build build -j "${TROLLEY_JOBS:-2}" --target trolleyd trolley trolley-bench

DIR="$PWD/data/demo-cluster"
BASE=7101
N1=127.0.0.1:$BASE N2=127.0.0.1:$((BASE + 1)) N3=127.0.0.1:$((BASE + 2))
T=./build/tools/trolley
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ trolley %s\n' "$*" >&2; "$T" "$@"; }

bash scripts/local-cluster.sh stop "$DIR" 2>/dev/null || true
rm -rf "$DIR"
[ -z "$keep" ] && trap 'bash scripts/local-cluster.sh stop "$DIR"' EXIT

step "1. start a local cluster: 3 nodes, N=3 R=2 W=2, durability sync, TLS on"
bash scripts/local-cluster.sh start "$DIR" --base-port $BASE --durability sync
# The development CA and the "admin" client certificate it made, for trolley
# (TROLLEY_TLS_CA, _CERT, _KEY) and trolley-bench (--tls-*).
. "$DIR/client.env"
run --node $N1 ring

step "2. alice adds from her phone (through n1) and her laptop (through n2), neither having read the cart"
run --node $N1 kv put carts alice 'sku-1 x1 (phone)' >/dev/null
run --node $N2 kv put carts alice 'sku-2 x2 (laptop)' >/dev/null
echo "reading through n3: both writes were kept, as siblings (nothing acknowledged is lost):"
run --node $N3 kv get carts alice

step "3. the cart service merges the siblings and writes back with the context it read"
token=$("$T" --node $N3 --json kv get carts alice | sed -n 's/.*"context":"\([0-9a-f]*\)".*/\1/p')
run --node $N3 kv put carts alice 'sku-1 x1, sku-2 x2' --context "$token"

step "4. the Cart API merges siblings for the service: two devices add to bob's OR-Set cart"
run --node $N1 cart add carts-orset bob sku-1 1 --attr size=M --id 1001 >/dev/null
run --node $N2 cart add carts-orset bob sku-1 1 --id 1002 >/dev/null
run --node $N3 cart add carts-orset bob sku-7 2 --id 1003
echo "a retry of mutation 1003 (same --id) changes nothing:"
run --node $N1 cart add carts-orset bob sku-7 2 --id 1003
echo "as a guest, bob filled another cart; at login it merges into his (strategy sum):"
run --node $N2 cart add guest-carts guest-42 sku-1 3 >/dev/null
run --node $N2 cart merge guest-carts guest-42 carts-orset bob --strategy sum
run --node $N3 cart get guest-carts guest-42

step "5. n3 is killed with SIGKILL; carts stay writable (W=2 of the 2 nodes left)"
kill -KILL "$(cat "$DIR/n3.pid")"
for i in 1 2 3 4 5; do "$T" --node $N1 kv put carts "shopper-$i" "sku-9 x$i" >/dev/null; done
echo "wrote 5 more carts through n1 while n3 was down"
run --node $N1 status || true  # exits 3: n3 is down

step "6. n3 restarts; hinted handoff brings it up to date"
"./build/node/server/trolleyd" --config "$DIR/n3.toml" >>"$DIR/n3.log" 2>&1 &
echo $! > "$DIR/n3.pid"
for _ in $(seq 1 100); do
  # status exits 3 while n3 is still starting: that only means "not yet".
  hints=$({ "$T" --node $N1 status 2>/dev/null || true; } |
    awk '$3 == "up" { h += $6; n++ } END { if (n == 3) print h; else print -1 }')
  [ "$hints" = "0" ] && break
  sleep 0.1
done
run --node $N1 status
echo "n3's own copy of shopper-3, read with R=1 through n3:"
run --node $N3 kv get carts shopper-3 --r 1

step "7. a short load: 3 s of 1.5 KB puts, then 3 s of gets, 48 in flight"
./build/bench/trolley-bench --nodes "$N1,$N2,$N3" --duration-s 3 --warmup-s 0.5 --label demo \
  --tls-ca "$TROLLEY_TLS_CA" --tls-cert "$TROLLEY_TLS_CERT" --tls-key "$TROLLEY_TLS_KEY"

step "8. done"
if [ -n "$keep" ]; then
  echo "cluster left running; stop it with: bash scripts/local-cluster.sh stop $DIR"
else
  echo "stopping the cluster (SIGTERM, clean shutdown); logs and data stay in $DIR"
fi
