#!/usr/bin/env bash
# Installs what is needed, then builds and runs every test twice: a normal
# build with warnings as errors (where the agent's integration tests also run
# under valgrind), and an ASan+UBSan build; then builds the optimized build
# the demo uses, whose -O2 warnings the others do not see, and runs its unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

echo "== build (Debug, -Werror) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug -DDA_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure --no-tests=error -j"$jobs"

echo "== build (ASan + UBSan) =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDA_WERROR=ON \
      -DDA_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure --no-tests=error -j"$jobs"

echo "== build (RelWithDebInfo, -Werror: the demo's build) =="
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDA_WERROR=ON >/dev/null
cmake --build build-release -j"$jobs"
ctest --test-dir build-release --output-on-failure --no-tests=error -j"$jobs" -L unit
