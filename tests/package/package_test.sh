#!/usr/bin/env bash
# package_test: installs a built Trolley tree into a scratch prefix, then
#  1. checks the prefix holds the package and the programs, and no tests
#     or benchmarks;
#  2. builds tests/package/consumer with find_package(Trolley) against that
#     prefix (Ninja, the tree's compilers and build type) and runs it;
#  3. builds the same main.cc with `pkg-config --cflags --libs
#     trolley-client` and runs it;
#  4. compiles every installed header on its own (each is self-contained
#     and includes only installed headers).
# Any failure fails the test. Registered by tests/package/CMakeLists.txt.
#
# usage: package_test.sh <build dir> <consumer source dir> <work dir>
#          <cmake> <c++ compiler> <c compiler> <build type> <libdir> <pkg-config>
set -euo pipefail

build_dir=$1 consumer_src=$2 work=$3 cmake=$4 cxx=$5 cc=$6 build_type=$7 libdir=$8
pkg_config=$9

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix

step "cmake --install $build_dir --prefix $prefix"
"$cmake" --install "$build_dir" --prefix "$prefix" > "$work/install.log" \
  || { cat "$work/install.log"; fail "cmake --install"; }
echo "$(grep -c 'Installing:' "$work/install.log") files"

step "the prefix holds the package and nothing else"
for f in "$libdir/cmake/Trolley/TrolleyConfig.cmake" \
         "$libdir/cmake/Trolley/TrolleyConfigVersion.cmake" \
         "$libdir/cmake/Trolley/TrolleyTargets.cmake" \
         "$libdir/pkgconfig/trolley-client.pc" \
         "$libdir/libtrolley_client.a" \
         include/trolley/client/node_connection.h include/trolley/common/status.h \
         include/trolley/wire/messages.h include/trolley/storage/sibling_set.h; do
  [ -f "$prefix/$f" ] || fail "missing $f"
done
unexpected=$(cd "$prefix" && find . -type f \
  ! -path "./include/trolley/*.h" \
  ! -path "./$libdir/libtrolley_*.a" \
  ! -path "./$libdir/cmake/Trolley/*.cmake" \
  ! -path "./$libdir/pkgconfig/trolley-client.pc" \
  ! -path ./bin/trolleyd ! -path ./bin/trolley | sort)
[ -z "$unexpected" ] || fail "unexpected files installed:"$'\n'"$unexpected"
(cd "$prefix" && find . -type f | sort | sed 's/^/  /')

step "find_package(Trolley): configure, build and run the consumer"
"$cmake" -S "$consumer_src" -B "$work/cmake" -G Ninja \
  -DCMAKE_BUILD_TYPE="$build_type" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
trolley_dir=$(sed -n 's/^Trolley_DIR:PATH=//p' "$work/cmake/CMakeCache.txt")
case "$trolley_dir" in
  "$prefix"/*) ;;
  *) fail "found Trolley in '$trolley_dir', not under $prefix" ;;
esac
"$cmake" --build "$work/cmake" -j 2
"$work/cmake/consumer"

step "pkg-config trolley-client: build and run the consumer"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
"$pkg_config" --print-errors --exists trolley-client
cflags=$("$pkg_config" --cflags trolley-client)
libs=$("$pkg_config" --libs trolley-client)
echo "cflags: $cflags"
echo "libs:   $libs"
# shellcheck disable=SC2086  # the flags are word lists
"$cxx" -std=c++20 -Wall -Wextra $cflags "$consumer_src/main.cc" -o "$work/consumer-pc" $libs
"$work/consumer-pc"

step "every installed header compiles on its own"
count=0
while IFS= read -r header; do
  # shellcheck disable=SC2086
  printf '#include "%s"\n' "$header" \
    | "$cxx" -std=c++20 -fsyntax-only -Wall -Wextra -x c++ $cflags - \
    || fail "installed header $header does not compile on its own"
  count=$((count + 1))
done < <(cd "$prefix/include/trolley" && find . -name '*.h' | sed 's|^\./||' | sort)
echo "$count headers"

printf '\nPASS\n'
