#!/usr/bin/env bash
# check-format.sh: every tracked C++ file is as clang-format (.clang-format:
# Google, ColumnLimit 100) would write it.
#
# Usage: scripts/check-format.sh [FILE...]
#   No FILE: every *.h / *.cc / *.hpp / *.cpp git tracks (every one below the
#   repository when it is not a git checkout). Exits 1 naming each file that
#   differs (clang-format --dry-run --Werror prints where), 0 otherwise.
#   Fix with: clang-format -i FILE.
#
# scripts/format-pending.txt lists files not yet formatted (one path a line,
# # comments): they are skipped, so the check holds for every other file
# today. The list may only shrink: a listed file that is already formatted,
# or no longer exists, fails the check until its line is removed.
set -euo pipefail
cd "$(dirname "$0")/.."

formatter=${CLANG_FORMAT:-clang-format}
if ! command -v "$formatter" >/dev/null; then
  echo "check-format: $formatter not found (apt-get install clang-format)" >&2
  exit 1
fi

pending_file=scripts/format-pending.txt
declare -A pending=()
if [ -f "$pending_file" ]; then
  while IFS= read -r line; do
    line=${line%%#*}
    line=${line//[[:space:]]/}
    [ -n "$line" ] && pending[$line]=1
  done <"$pending_file"
fi

if [ $# -gt 0 ]; then
  files=("$@")
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -- '*.h' '*.cc' '*.hpp' '*.cpp')
else
  mapfile -t files < <(find . -path ./build -prune -o -path './build-*' -prune -o -type f \
    \( -name '*.h' -o -name '*.cc' -o -name '*.hpp' -o -name '*.cpp' \) -print | sed 's#^\./##' | sort)
fi

failed=0
checked=0
for file in "${files[@]}"; do
  [ -f "$file" ] || continue
  if [ -n "${pending[$file]:-}" ]; then
    if "$formatter" --dry-run --Werror "$file" >/dev/null 2>&1; then
      echo "$file: formatted now: remove it from $pending_file"
      failed=1
    fi
    continue
  fi
  checked=$((checked + 1))
  if ! out=$("$formatter" --dry-run --Werror "$file" 2>&1); then
    printf '%s\n' "$out" | head -n 6  # where it differs (the first places)
    echo "$file: not clang-formatted: run clang-format -i $file"
    failed=1
  fi
done
if [ $# -eq 0 ]; then
  for file in "${!pending[@]}"; do
    if [ ! -f "$file" ]; then
      echo "$file: listed in $pending_file but missing: remove its line"
      failed=1
    fi
  done
fi

if [ "$failed" -ne 0 ]; then
  echo "check-format: FAILED" >&2
  exit 1
fi
echo "check-format: ok ($checked files; ${#pending[@]} pending in $pending_file)"
