#!/usr/bin/env bash
# check-layering.sh: the sans-IO boundary (docs/design.md, 'Shape: a sans-IO
# core'). Fails if a C++ file under node/ (outside node/server/), ring/,
# storage/ (outside storage/lmdb/) or cart/ includes or uses a clock, a
# thread, a socket, Asio, LMDB, spdlog, OS randomness or a sleep. CMake's
# link rules keep the libraries out; this keeps out what needs no library.
#
# Usage: scripts/check-layering.sh [--root DIR]
#   DIR defaults to the repository this script is in. Prints one line per
#   offence, "path:line: <what>: <the line>", and exits 1 if there is any,
#   0 otherwise (2 on a usage error).
#
# What is allowed, and why:
#   - <chrono> and std::chrono durations: a value type (timeouts in ms);
#     reading a clock (steady_clock, system_clock, high_resolution_clock,
#     ::now) is not.
#   - <atomic>: NamespaceRouter's sweep join counts down children that call
#     back on their own threads; an atomic starts no thread and reads no
#     clock.
#   - Comments and string literals are ignored: they may name a banned thing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = --root ]; then
  [ $# -eq 2 ] || { echo "usage: $0 [--root DIR]" >&2; exit 2; }
  root=$(cd "$2" && pwd)
elif [ $# -ne 0 ]; then
  echo "usage: $0 [--root DIR]" >&2
  exit 2
fi
cd "$root"

# Each rule: what it reads (include: #include lines; code: code without
# string literals), a tab, an extended regex, a tab, what it means.
rules=$(cat <<'RULES'
include	^[[:space:]]*#[[:space:]]*include[[:space:]]*<(thread|mutex|shared_mutex|future|condition_variable|stop_token|semaphore|latch|barrier)>	includes a threading header
include	^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^>"]*(boost/asio|asio\.h|/asio/)	includes Asio
include	^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^>"]*lmdb\.h	includes LMDB
include	^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^>"]*spdlog	includes spdlog
include	^[[:space:]]*#[[:space:]]*include[[:space:]]*<(sys/socket\.h|netinet/|arpa/|netdb\.h|sys/time\.h|ctime|time\.h|random)	includes sockets, OS time or <random>
code	std::j?thread|std::this_thread|pthread_	uses a thread
code	(steady_clock|system_clock|high_resolution_clock|utc_clock|file_clock)	reads a clock (use common/clock.h, passed in)
code	(^|[^A-Za-z0-9_.>])(std::|::)?time[[:space:]]*\(|gettimeofday|clock_gettime	reads the OS time
code	(^|[^A-Za-z0-9_.>])(std::|::)?s?rand[[:space:]]*\(|random_device	uses OS or libc randomness (use common/random.h)
code	(^|[^A-Za-z0-9_])(u|nano)?sleep[[:space:]]*\(|sleep_for|sleep_until	sleeps
RULES
)

files=$(find node ring storage cart -type f \( -name '*.h' -o -name '*.cc' -o -name '*.hpp' \
  -o -name '*.cpp' \) -not -path 'node/server/*' -not -path 'storage/lmdb/*' 2>/dev/null | sort)

found=0
for file in $files; do
  # Drop // comments (keeping line numbers); for code rules, drop char and
  # string literals first.
  includes=$(sed -E 's://.*$::' "$file")
  code=$(sed -E "s/'(\\\\.|[^'\\\\])'/''/g; s/\"([^\"\\\\]|\\\\.)*\"/\"\"/g; s://.*\$::" "$file")
  while IFS=$'\t' read -r kind regex what; do
    if [ "$kind" = include ]; then text=$includes; else text=$code; fi
    hits=$(printf '%s\n' "$text" | grep -nE -- "$regex" || true)
    [ -n "$hits" ] || continue
    while IFS= read -r hit; do
      echo "$file:${hit%%:*}: $what: ${hit#*:}"
      found=1
    done <<<"$hits"
  done <<<"$rules"
done

if [ "$found" -ne 0 ]; then
  echo "check-layering: FAILED: node/ (outside node/server/), ring/, storage/ (outside" \
    "storage/lmdb/) and cart/ are sans-IO (docs/design.md, 'Shape: a sans-IO core')" >&2
  exit 1
fi
echo "check-layering: ok ($(echo "$files" | grep -c . || true) files)"
