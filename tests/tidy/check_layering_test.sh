#!/usr/bin/env bash
# Goal: scripts/check-layering.sh fails, naming file:line, when a sans-IO
# folder gets a banned include or call, and passes what it must allow.
# Method: a temp tree with one clean file per checked folder; each case
# plants one line (an `#include <thread>` in node/, a clock read in ring/,
# ...), runs the script on the tree and checks the exit code and the
# file:line it prints; allowed cases (node/server/, storage/lmdb/, comments,
# strings, <chrono> durations) must leave it passing.
set -euo pipefail
script=$(cd "$(dirname "$0")/../.." && pwd)/scripts/check-layering.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

reset_tree() {
  rm -rf "$tmp/tree"
  mkdir -p "$tmp/tree"/{node/server,ring,storage/lmdb,cart}
  for f in node/a.cc ring/a.h storage/a.cc cart/a.cc node/server/a.cc storage/lmdb/a.cc; do
    printf '// clean\n#include <string>\nint F() { return 1; }\n' >"$tmp/tree/$f"
  done
}

# expect_fail FILE LINE TEXT: plants TEXT as line LINE of FILE; the script must fail naming FILE:LINE.
expect_fail() {
  local file=$1 line=$2 text=$3
  reset_tree
  sed -i "${line}i\\${text}" "$tmp/tree/$file"
  set +e
  out=$("$script" --root "$tmp/tree" 2>&1)
  rc=$?
  set -e
  if [ "$rc" -ne 1 ] || ! grep -q "^$file:$line: " <<<"$out"; then
    echo "FAIL: planting '$text' in $file:$line gave rc=$rc, output:"
    echo "$out"
    failures=$((failures + 1))
  else
    echo "ok: '$text' in $file:$line -> $(grep "^$file:$line: " <<<"$out")"
  fi
}

# expect_pass FILE TEXT: appends TEXT to FILE; the script must still pass.
expect_pass() {
  local file=$1 text=$2
  reset_tree
  printf '%s\n' "$text" >>"$tmp/tree/$file"
  if ! out=$("$script" --root "$tmp/tree" 2>&1); then
    echo "FAIL: '$text' in $file was refused:"
    echo "$out"
    failures=$((failures + 1))
  else
    echo "ok: '$text' in $file allowed"
  fi
}

expect_fail node/a.cc 2 '#include <thread>'
expect_fail node/a.cc 3 '#include <mutex>'
expect_fail storage/a.cc 1 '#include <lmdb.h>'
expect_fail cart/a.cc 2 '#include "spdlog/spdlog.h"'
expect_fail ring/a.h 2 '#include <boost/asio.hpp>'
expect_fail ring/a.h 2 '#include "common/asio.h"'
expect_fail node/a.cc 2 '#include <sys/socket.h>'
expect_fail node/a.cc 2 '#include <netinet/in.h>'
expect_fail ring/a.h 3 'auto t = std::chrono::steady_clock::now();'
expect_fail cart/a.cc 3 'auto t = std::chrono::system_clock::now();'
expect_fail storage/a.cc 3 'std::thread worker([] {});'
expect_fail node/a.cc 3 'long t = time(nullptr);'
expect_fail node/a.cc 3 'int r = rand();'
expect_fail node/a.cc 3 'std::random_device rd;'
expect_fail cart/a.cc 3 'std::this_thread::sleep_for(d);'
expect_fail storage/a.cc 3 'timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);'

expect_pass node/server/a.cc '#include <thread>'
expect_pass storage/lmdb/a.cc '#include <lmdb.h>'
expect_pass node/a.cc '// a comment may name std::thread and time(nullptr)'
expect_pass node/a.cc 'const char* k = "did not arrive in time (retry)";'
expect_pass ring/a.h '#include <chrono>'
expect_pass ring/a.h 'std::chrono::milliseconds timeout{50};'
expect_pass node/a.cc 'uint64_t x = clock->NowWallMs(); bool b = op.time(1);'

# The real tree passes.
if ! "$script" >/dev/null; then
  echo "FAIL: the repository itself does not pass check-layering.sh"
  failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures case(s) failed"
  exit 1
fi
echo "all cases passed"
