#!/usr/bin/env bash
# Installs Trolley's dependencies from Debian 12 packages. Three sets:
#
#   install-deps.sh --core    what a build with -DTROLLEY_BUILD_BENCH=OFF needs:
#                             trolleyd, trolley, trolley-sim, the library and its tests
#   install-deps.sh           --core, plus the libraries the benchmarks link
#                             (trolley-bench: the demo's short load; storage_bench)
#   install-deps.sh --bench   all of the above, plus the database servers the
#                             flash-sale benchmark compares Trolley with (Redis,
#                             PostgreSQL) and gnuplot for its plots; scripts/test.sh
#                             uses this set, since the bench adapters' tests start them
#
# Idempotent and fast when everything is present: apt runs only if a package
# is missing. Installing needs root (or sudo); building afterwards does not.
# --print lists the packages of the chosen set and installs nothing.
set -euo pipefail

core=(
  build-essential cmake ninja-build pkg-config
  libboost-dev            # Boost.Asio: the network runtime (header-only)
  libssl-dev openssl      # TLS (Asio's SSL stream over OpenSSL); scripts/dev-certs.sh
  capnproto libcapnp-dev  # Cap'n Proto: storage records and wire messages
  liblmdb-dev lmdb-utils  # LMDB: the storage engine (+ mdb_stat for operators)
  libxxhash-dev           # XXH3-64: key hashing onto the ring
  libjemalloc-dev         # the allocator of trolleyd, trolley-bench and trolley-sim
  libspdlog-dev libfmt-dev  # structured logging
  libgtest-dev libgmock-dev # unit, property and integration tests
  libcli11-dev            # command-line parsing for trolleyd and the tools
  libtomlplusplus-dev     # trolleyd config files (TOML, errors with line numbers)
  nlohmann-json3-dev      # --json output of the trolley CLI
  prometheus-cpp-dev      # trolleyd's /metrics: the Prometheus text format (prometheus-cpp core)
  curl                    # the tests and the docs scrape /metrics with it
)
bench_libraries=(
  libbenchmark-dev        # storage_bench (Google Benchmark)
  libhiredis-dev          # trolley-bench's Redis adapter (RESP)
  libpq-dev               # trolley-bench's PostgreSQL adapter (libpq, pipeline mode)
)
bench_servers=(
  # The flash-sale benchmark's peers (bench/flash_sale.sh): the stores a
  # team would otherwise pick, started on loopback by bench/peers/.
  redis-server            # Redis 7: primary + replicas, and standalone
  postgresql-15           # PostgreSQL 15 with synchronous_commit
  gnuplot-nox             # benchmark plots (bench/plot.sh; skipped when absent)
)

set_name=default print=""
for arg in "$@"; do
  case "$arg" in
    --core) set_name=core ;;
    --bench) set_name=bench ;;
    --print) print=1 ;;
    *) echo "install-deps: unknown option $arg (--core, --bench, --print)" >&2; exit 2 ;;
  esac
done
case "$set_name" in
  core) packages=("${core[@]}") ;;
  default) packages=("${core[@]}" "${bench_libraries[@]}") ;;
  bench) packages=("${core[@]}" "${bench_libraries[@]}" "${bench_servers[@]}") ;;
esac
if [ -n "$print" ]; then
  echo "${packages[*]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present ($set_name set)"
  exit 0
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
