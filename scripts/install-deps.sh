#!/usr/bin/env bash
# Installs Trolley's build and test dependencies from Debian 12 packages.
# Idempotent and fast when everything is present: apt runs only if a
# package is missing. Run as root (or with sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost-dev            # Boost.Asio: the network runtime (header-only)
  capnproto libcapnp-dev  # Cap'n Proto: storage records and wire messages
  liblmdb-dev lmdb-utils  # LMDB: the storage engine (+ mdb_stat for operators)
  libxxhash-dev           # XXH3-64: key hashing onto the ring
  libjemalloc-dev         # the allocator of trolleyd, trolley-bench and trolley-sim
  libspdlog-dev libfmt-dev  # structured logging
  libgtest-dev libgmock-dev # unit, property and integration tests
  libbenchmark-dev        # micro-benchmarks (bench/)
  libcli11-dev            # command-line parsing for trolleyd and the tools
  libtomlplusplus-dev     # trolleyd config files (TOML, errors with line numbers)
  nlohmann-json3-dev      # --json output of the trolley CLI
  gnuplot-nox             # benchmark plots (bench/plot.sh; skipped when absent)
  # The flash-sale benchmark's peers (bench/flash_sale.sh): the stores a
  # team would otherwise pick, driven by trolley-bench's adapters.
  libhiredis-dev          # Redis protocol (RESP) for bench/redis_target
  libpq-dev               # PostgreSQL's client library for bench/postgres_target
  redis-server            # Redis 7: primary + replicas, and standalone
  postgresql-15           # PostgreSQL 15 with synchronous_commit
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
