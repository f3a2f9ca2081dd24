#!/usr/bin/env bash
# The docs test: keeps README.md and docs/ true to the code. Registered with
# CTest as docs_test (tests/CMakeLists.txt), so scripts/test.sh runs it.
#
#   scripts/check-docs.sh BUILD_DIR        # BUILD_DIR holds the built trolleyd and trolley
#
# 1. Shell blocks. In README.md and docs/operations.md every fenced code block
#    has an info string, and every block whose info string is `sh` is preceded
#    (on the line just before its fence) by one marker:
#
#      <!-- docs-test: run -->           the block is executed by this script
#      <!-- docs-test: skip REASON -->   it is not (installs, builds, long runs)
#
#    An `sh` block without a marker fails the test: a new command cannot dodge
#    it by accident. The run blocks of one document are joined, in order, into
#    one bash script (set -euo pipefail), run in a scratch directory that holds
#    symlinks build -> BUILD_DIR, scripts/, docs/ and bench/, so `./build/...`,
#    `bash scripts/...` and `./data/...` work and data stays in the scratch dir.
#    Ports: 7100 (the one-node quick start) and 7101..7103 (a 3-node cluster)
#    are rewritten to free ports; scripts/local-cluster.sh takes its base port
#    from TROLLEY_BASE_PORT. For docs/operations.md, a 3-node cluster is
#    started first (scripts/local-cluster.sh start ./data/c1, TLS on; its
#    ./data/c1/client.env is sourced, as that document says) and stopped after.
#    Each document gets 180 s. Its script runs in a session of its own; a
#    process of that session still alive when the script ends (a block that
#    forgot to stop a node) fails the test and is killed. Nothing else is.
#    TROLLEY_DOCS_VERBOSE=1 prints what the blocks printed.
#
# 2. Settings. `trolleyd --list-settings` is the list of accepted settings
#    with their defaults (node/server/config.cc). Checked against it:
#    - docs/trolleyd.example.toml passes `trolleyd --check-config` and names
#      every setting (commented out where it has no constant default);
#    - the settings table of docs/operations.md lists exactly those settings,
#      each with the default trolleyd prints;
#    - every qualified setting written in backticks in README.md, docs/*.md or
#      simulation/README.md (`storage.siblings_max`, `namespaces[].w`) and
#      every one named in a string of the code (error messages) is accepted,
#      or listed under "Planned settings" in docs/operations.md;
#    - every log event in the code is listed in docs/operations.md.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="$(cd "${1:?usage: check-docs.sh BUILD_DIR}" && pwd)"
TROLLEYD="$BUILD/node/server/trolleyd"
[ -x "$TROLLEYD" ] && [ -x "$BUILD/tools/trolley" ] || {
  echo "check-docs: build trolleyd and trolley first ($BUILD)" >&2
  exit 2
}
SCRATCH="$(mktemp -d /tmp/trolley-docs.XXXXXX)"
failures=0
fail() {
  echo "check-docs: FAIL: $*" >&2
  failures=$((failures + 1))
}
session_pids=()
cleanup() {
  for pgid in "${session_pids[@]}"; do kill -KILL -- "-$pgid" 2>/dev/null || true; done
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

# ---------------------------------------------------------------- 1. blocks

# A port p such that p..p+3 accept no connection on 127.0.0.1 now; below
# Linux's ephemeral range (32768 up), so no outgoing connection holds it.
free_base_port() {
  local base p busy
  for _ in $(seq 1 50); do
    base=$((20000 + RANDOM % 12000))
    busy=""
    for p in $base $((base + 1)) $((base + 2)) $((base + 3)); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then busy=1; fi
    done
    [ -z "$busy" ] && { echo "$base"; return; }
  done
  echo "check-docs: no free ports found" >&2
  exit 2
}

# Prints the run blocks of $1 as one script, each block preceded by a line
# naming its place; fails the test for an unmarked sh block or a bare fence.
extract_blocks() {
  awk -v file="$1" '
    function problem(msg) { print "check-docs: FAIL: " file ":" NR ": " msg > "/dev/stderr"; bad = 1 }
    /^```/ {
      if (!in_block) {
        info = substr($0, 4); gsub(/[ \t]+$/, "", info)
        if (info == "") problem("a fenced block needs an info string (sh, text, toml, cpp, ...)")
        mode = ""
        if (info == "sh") {
          if (prev ~ /^<!-- docs-test: run -->$/) mode = "run"
          else if (prev ~ /^<!-- docs-test: skip .+-->$/) mode = "skip"
          else problem("an sh block needs <!-- docs-test: run --> or <!-- docs-test: skip REASON --> on the line before it")
        } else if (info ~ /^(bash|shell|console|shell-session)$/) {
          problem("write shell blocks as sh, with a docs-test marker")
        }
        if (mode == "run") print "echo \"+++ " file ":" NR "\" >&2"
        in_block = 1; prev = $0; next
      }
      in_block = 0; prev = $0; next
    }
    { if (in_block && mode == "run") print; prev = $0 }
    END { if (in_block) problem("unclosed fence"); exit bad }
  ' "$1"
}

# Runs the run blocks of one document; $2 = "cluster" starts one first.
# A port taken by someone else between the check and the bind gets one more
# try on other ports.
run_document() {
  run_document_once "$1" "${2:-}" 1 || run_document_once "$1" "${2:-}" 2
}

# Returns 1 only for a port race on the first attempt (nothing reported).
run_document_once() {
  local doc="$1" with_cluster="$2" attempt="$3" dir base script pid rc=0 waited=0
  dir="$SCRATCH/$(basename "$doc" .md)-$attempt"
  mkdir -p "$dir"
  ln -s "$BUILD" "$dir/build"
  ln -s "$ROOT/scripts" "$dir/scripts"
  ln -s "$ROOT/docs" "$dir/docs"
  ln -s "$ROOT/bench" "$dir/bench"
  base="$(free_base_port)"
  script="$dir/blocks.sh"
  {
    echo "set -euo pipefail"
    echo "export TROLLEY_BASE_PORT=$((base + 1))"
    [ -n "$with_cluster" ] && echo "bash scripts/local-cluster.sh start ./data/c1 >&2"
    [ -n "$with_cluster" ] && echo ". ./data/c1/client.env  # its TLS client certificate"
    if ! extract_blocks "$ROOT/$doc"; then echo "exit 99"; fi
    [ -n "$with_cluster" ] && echo "bash scripts/local-cluster.sh stop ./data/c1 >&2"
    echo "echo '+++ all blocks done' >&2"
  } | sed -E "s/\b7100\b/$base/g; s/\b7101\b/$((base + 1))/g; s/\b7102\b/$((base + 2))/g; \
              s/\b7103\b/$((base + 3))/g" > "$script"
  if grep -q '^exit 99$' "$script"; then
    fail "$doc: unmarked or malformed code blocks (above)"
    return 0
  fi
  echo "check-docs: running the runnable blocks of $doc (ports $base..$((base + 3)))"
  (cd "$dir" && exec setsid bash "$script" >"$dir/out.log" 2>&1) &
  pid=$!
  session_pids+=("$pid")
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge 1800 ]; then
      fail "$doc: its blocks did not finish within 180 s"
      kill -KILL -- "-$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  wait "$pid" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$attempt" = 1 ] && grep -q "Address already in use" "$dir/out.log"; then
    echo "check-docs: $doc: a port was taken meanwhile; again on other ports"
    kill -KILL -- "-$pid" 2>/dev/null || true
    return 1
  fi
  if [ "$rc" -ne 0 ]; then
    fail "$doc: a block failed (exit $rc); the last lines of its output:"
    tail -n 25 "$dir/out.log" | sed 's/^/    /' >&2
  else
    echo "check-docs: $doc: $(grep -c '^echo "+++ ' "$script") runnable blocks passed"
    [ -z "${TROLLEY_DOCS_VERBOSE:-}" ] || sed 's/^/    /' "$dir/out.log"
  fi
  # After a failed block, nodes it started are expected to be left: kill them
  # quietly. After a success, a leftover is a block that forgot to stop one.
  if kill -0 -- "-$pid" 2>/dev/null; then
    [ "$rc" -ne 0 ] || fail "$doc: its blocks left processes running (stop every node a block starts)"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  return 0
}

run_document README.md
run_document docs/operations.md cluster

# -------------------------------------------------------------- 2. settings

accepted="$SCRATCH/accepted.tsv"
"$TROLLEYD" --list-settings > "$accepted"
planned="$(sed -n '/^## Planned settings/,/^## /p' "$ROOT/docs/operations.md" |
  grep -oE '^- `[^`]+`' | sed -E 's/^- `//; s/`$//' || true)"
is_accepted() { cut -f1 "$accepted" | grep -qxF "$1"; }

if ! out="$("$TROLLEYD" --check-config --config "$ROOT/docs/trolleyd.example.toml" 2>&1)"; then
  fail "docs/trolleyd.example.toml is refused: $out"
fi
while IFS=$'\t' read -r name _; do
  key="${name##*.}"
  grep -qE "^#? *$key *=" "$ROOT/docs/trolleyd.example.toml" ||
    fail "docs/trolleyd.example.toml does not show the setting $name"
done < "$accepted"

# The settings table: rows "| `name` | default | ... |".
table="$SCRATCH/table.tsv"
sed -n '/^## Settings/,/^## /p' "$ROOT/docs/operations.md" |
  sed -nE 's/^\| `([][a-z_.]+)` \| ([^|]*) \|.*/\1\t\2/p' | sed -E 's/[ \t]+$//; s/`//g' > "$table"
while IFS=$'\t' read -r name default; do
  documented="$(awk -F'\t' -v n="$name" '$1 == n { print $2 }' "$table")"
  if [ -z "$documented" ]; then
    fail "docs/operations.md, Settings: $name is missing (default $default)"
  elif [ "$documented" != "$default" ]; then
    fail "docs/operations.md, Settings: $name default is '$documented', trolleyd says '$default'"
  fi
done < "$accepted"
while IFS=$'\t' read -r name _; do
  is_accepted "$name" || fail "docs/operations.md, Settings: $name is not a setting trolleyd accepts"
done < "$table"

code_strings() {
  grep -rhoE '"([^"\\]|\\.)*"' --include=*.cc --include=*.h \
    "$ROOT"/{common,cart,client,node,ring,storage,wire,tools}
}
# Log events: a string that opens with "event.name key=" is a log line.
events="$(code_strings | grep -oE '^"[a-z_]+\.[a-z_]+ [a-z_]+=' | sed -E 's/^"//; s/ .*//' |
  sort -u)"

# Qualified settings named in the docs and in the code's strings (log
# events such as storage.map_resized share the prefix and are not settings).
check_named() {  # $1 = where, stdin = names
  local name
  while read -r name; do
    [ -n "$name" ] || continue
    is_accepted "$name" && continue
    grep -qxF "$name" <<<"$events" && continue
    grep -qxF "$name" <<<"$planned" && continue
    fail "$1 names the setting '$name', which trolleyd does not accept (nor is it planned)"
  done
}
normalize() { sed -E 's/\[[0-9]+\]/[]/g' | sort -u; }
for doc in "$ROOT/README.md" "$ROOT"/docs/*.md "$ROOT/simulation/README.md"; do
  case "$doc" in */benchmarks*) continue ;; esac
  check_named "${doc#"$ROOT"/}" < <(
    grep -oE '`(limits|storage)\.[a-z_]+`|`(namespaces|members)\[[0-9]*\]\.[a-z_]+`' "$doc" |
      tr -d '`' | normalize)
done
check_named "the code" < <(code_strings | sed -E 's/^"[a-z_]+\.[a-z_]+ //' |
  grep -oE '\b(limits|storage)\.[a-z_]+' | normalize)

# Log events: every "event.name key=..." the code logs is in docs/operations.md.
while read -r event; do
  grep -qF "\`$event\`" "$ROOT/docs/operations.md" ||
    fail "the code logs $event; docs/operations.md, Log events, does not list it"
done <<<"$events"

if [ "$failures" -ne 0 ]; then
  echo "check-docs: $failures problem(s)" >&2
  exit 1
fi
echo "check-docs: ok ($(wc -l < "$accepted") settings, runnable blocks of README.md and docs/operations.md)"
