#!/usr/bin/env bash
# Builds the fuzz targets of tests/fuzz/ with clang, libFuzzer, ASan and
# UBSan in build-fuzz/, then runs each for a bounded time.
#
#   scripts/fuzz.sh [-t SECONDS] [-j JOBS] [-n] [--merge] [TARGET...]
#
#   -t SECONDS  time per target (default 60)
#   -j JOBS     parallel fuzzing processes per target (default 1)
#   -n          no build: run the targets already in build-fuzz/
#   --merge     afterwards, add the inputs found that reach new code to
#               tests/fuzz/corpus/<target>/ (libFuzzer -merge=1 keeps only
#               those, the smallest first); review and commit them
#   TARGET      catalog config record record_parse redact queue (default: all)
#
# New inputs are kept in build-fuzz/corpus/<target>/ (the committed corpus
# is only read), crashes in build-fuzz/crashes/<target>/. To reproduce one:
#   build-fuzz/tests/fuzz/fuzz_<target> build-fuzz/crashes/<target>/crash-...
# and to shrink it: add -minimize_crash=1 -runs=10000. A fixed crash goes
# into tests/fuzz/corpus/<target>/ with the fix, so the gcc build replays it
# under ctest from then on (fuzz/<target>).
#
# Exits 1 when a target crashed, leaked or hit a failed check.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=60
jobs=1
merge=0
build=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t) secs="$2"; shift 2 ;;
    -j) jobs="$2"; shift 2 ;;
    -n) build=0; shift ;;
    --merge) merge=1; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(catalog config record record_parse redact queue)
case "$secs" in ''|*[!0-9]*) echo "fuzz.sh: -t wants whole seconds" >&2; exit 64 ;; esac

if [ "$build" -eq 1 ]; then
  # clang with libFuzzer's runtime; Debian ships it with the clang package.
  probe='int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }'
  if ! command -v clang >/dev/null || \
     ! echo "$probe" | clang -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null; then
    echo "== installing clang (libFuzzer) =="
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -q
    $sudo apt-get install -y -q clang
  fi

  echo "== build (clang, libFuzzer + ASan + UBSan) in build-fuzz =="
  # Every library is built with fuzzer-no-link for coverage; only the targets
  # link libFuzzer's main. Warnings stay warnings: clang's set differs from
  # gcc's, which CI holds to -Werror.
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DDA_FUZZ=ON -DDA_WERROR=OFF -DDA_SANITIZE=address,undefined \
        -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
  cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
fi

failed=()
for t in "${targets[@]}"; do
  bin=build-fuzz/tests/fuzz/fuzz_$t
  seeds=tests/fuzz/corpus/$t
  work=build-fuzz/corpus/$t
  crashes=build-fuzz/crashes/$t
  mkdir -p "$work" "$crashes"
  before=$(ls "$crashes")
  opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  [ -f "tests/fuzz/$t.dict" ] && opts+=(-dict="tests/fuzz/$t.dict")
  # -jobs=1 would still fork a worker; ask for jobs only when there are several.
  [ "$jobs" -gt 1 ] && opts+=(-jobs="$jobs" -workers="$jobs")
  echo "== fuzz $t for ${secs}s =="
  # -timeout: one input taking 10 s is a finding too (a hang).
  set +e
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$bin" "${opts[@]}" -artifact_prefix="$crashes/" "$work" "$seeds" >"build-fuzz/$t.log" 2>&1
  rc=$?
  set -e
  # With -jobs, libFuzzer writes each job's output to fuzz-N.log here.
  for f in fuzz-[0-9]*.log; do
    [ -f "$f" ] && { cat "$f" >>"build-fuzz/$t.log"; rm -f "$f"; }
  done
  grep -E '^#[0-9]+ +DONE|ERROR: |SUMMARY: |check failed|stat::number_of_executed_units|Test unit written' \
    "build-fuzz/$t.log" | tail -n 12 || true
  [ "$rc" -eq 0 ] || failed+=("$t")
  # Only what this run found: earlier findings stay in $crashes until removed.
  found=$(comm -13 <(echo "$before") <(ls "$crashes"))
  if [ -n "$found" ]; then
    echo "!! $t: new findings in $crashes:"
    echo "$found" | sed 's/^/   /'
    [[ " ${failed[*]} " == *" $t "* ]] || failed+=("$t")
  fi
  if [ "$merge" -eq 1 ]; then
    echo "== merge new inputs of $t into $seeds =="
    "$bin" -merge=1 "$seeds" "$work" 2>&1 | grep -E 'MERGE-OUTER: [0-9]+ new files' || true
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]} (logs in build-fuzz/<target>.log)"
  exit 1
fi
echo "fuzz.sh: no findings in ${targets[*]} (${secs}s each)"
