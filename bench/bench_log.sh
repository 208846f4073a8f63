#!/usr/bin/env bash
# Log throughput: a child printing as fast as it can, through the agent's
# path (proc pipe -> spool -> publisher -> chunked hex POST) into a sink
# that only counts bytes, against the same child writing to /dev/null and
# to a plain pipe into a file, in the same invocation. Then the same path
# into a slow sink (the child must not slow down; the publisher lags; the
# memory stays put), and the Python Jenkins double's own decode rate.
#
# Usage: bench/bench_log.sh [BUILD_DIR]
# Sizes (bytes of child output) from the environment:
#   LOG_BYTES (256 MiB, written 64 KiB at a time), LINE_BYTES (32 MiB, one
#   100-byte line per write, as a child that flushes every line), SLOW_BYTES
#   (32 MiB), SLOW_RATE (10000000 wire bytes/s), DOUBLE_BYTES (16 MiB),
#   SECRETS_EXTRA ("0 16": besides the default of one secret value, like the
#   Jenkins token every agent has, the 256 MiB run again with these many:
#   every byte passes the redactor before the spool). Servers listen on 127.0.0.1 only and are killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
LOG_BYTES=${LOG_BYTES:-268435456}
LINE_BYTES=${LINE_BYTES:-33554432}
SLOW_BYTES=${SLOW_BYTES:-33554432}
SLOW_RATE=${SLOW_RATE:-10000000}
DOUBLE_BYTES=${DOUBLE_BYTES:-16777216}
SECRETS_EXTRA=${SECRETS_EXTRA-0 16}
for x in bench_log bench_spew bench_sink; do
  [ -x "$B/bench/$x" ] || { echo "build first: cmake --build $B (no $B/bench/$x)" >&2; exit 2; }
done
T=$(mktemp -d /tmp/da-bench-log-XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"' EXIT

mb() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< " $2"; } # KEY LINE -> value
child_s() { awk '{ printf "%.3f", $2 / 1e9 }' "$1"; }  # spew's time file -> seconds

# start_sink [RATE]: $SINK_URL, $SINK_OUT.
start_sink() {
  SINK_OUT=$T/sink.$RANDOM.out
  rm -f "$T/sink.port"
  "$B/bench/bench_sink" --port-file "$T/sink.port" ${1:+--rate "$1"} > "$SINK_OUT" 2>&1 &
  PIDS+=($!); SINK_PID=$!
  for _ in $(seq 1 100); do [ -s "$T/sink.port" ] && break; sleep 0.05; done
  [ -s "$T/sink.port" ] || { cat "$SINK_OUT" >&2; echo "bench_log.sh: the sink did not start" >&2; exit 1; }
  SINK_URL="http://127.0.0.1:$(cat "$T/sink.port")"
}
stop_sink() { kill "$SINK_PID" 2>/dev/null || true; wait "$SINK_PID" 2>/dev/null || true; }

# through_agent URL JOB BYTES [WRITE_SIZE [bench_log options]]: one bench_log line on stdout.
through_agent() {
  local url=$1 job=$2 bytes=$3 ws=${4:-65536} d; shift 3; shift $(( $# > 0 ? 1 : 0 ))
  d=$(mktemp -d "$T/run-XXXXXX")
  "$B/bench/bench_log" --url "$url" --job "$job" --dir "$d" --timefile "$d/child.time" "$@" \
    -- "$PWD/$B/bench/bench_spew" "$bytes" "$d/child.time" 100 "$ws" 2> "$d/err" || cat "$d/err" >&2
  rm -rf "$d"
}

# Baselines: the same child alone. BYTES [WRITE_SIZE] -> "null_s pipe_file_s"
baselines() {
  "$B/bench/bench_spew" "$1" "$T/c.time" 100 "${2:-65536}" > /dev/null
  local null_s; null_s=$(child_s "$T/c.time")
  "$B/bench/bench_spew" "$1" "$T/c.time" 100 "${2:-65536}" | cat > "$T/plain.out"
  local file_s; file_s=$(child_s "$T/c.time")
  rm -f "$T/plain.out"
  echo "$null_s $file_s"
}

echo "log throughput ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg); one secret value masked unless said):"

# 1. Fast sink.
read -r null_s file_s <<< "$(baselines "$LOG_BYTES")"
start_sink
line=$(through_agent "$SINK_URL" Bench/Log-runs "$LOG_BYTES")
stop_sink
sink=$(grep '^sink:' "$SINK_OUT" | tail -n 1 || true)
awk -v n="$null_s" -v f="$file_s" -v mib="$(mb "$LOG_BYTES")" -v c="$(kv child_s "$line")" \
    -v p="$(kv publish_s "$line")" -v lag="$(kv lag_s "$line")" -v b="$LOG_BYTES" \
    -v rb="$(kv rss_before_kb "$line")" -v hw="$(kv hwm_kb "$line")" -v ok="$(kv ok "$line")" \
    -v lb="$(kv log_bytes "$sink")" -v sent="$(kv sent_log_bytes "$line")" -v bad="$(kv bad "$sink")" 'BEGIN {
  printf "  %d MiB, child > /dev/null:          %7.3f s %8.0f MB/s\n", mib, n, b / n / 1e6
  printf "  %d MiB, child | cat > file:         %7.3f s %8.0f MB/s  (pipe + disk, no agent)\n", mib, f, b / f / 1e6
  printf "  %d MiB, child through the agent:    %7.3f s %8.0f MB/s  (the child'"'"'s own time)\n", mib, c, b / c / 1e6
  printf "  %d MiB, in the sink (end to end):   %7.3f s %8.0f MB/s  (publisher %.3f s behind the child)\n", mib, p, b / p / 1e6, lag
  printf "  ratios: end to end / (child | cat > file) %.2f; child through agent / child > /dev/null %.0f; end-to-end MB/s / 200 MB/s target %.2f\n", p / f, c / n, b / p / 1e6 / 200
  printf "  agent peak RSS during the run %.1f MB (%.1f MB before it); sink got %s log bytes of %s sent, %s bad, record ok=%s\n", hw / 1024, rb / 1024, lb, sent, bad, ok
}'
one_p=$(kv publish_s "$line")
for n in $SECRETS_EXTRA; do
  start_sink
  sl=$(through_agent "$SINK_URL" Bench/Log-runs "$LOG_BYTES" 65536 --secrets "$n")
  stop_sink
  awk -v n="$n" -v mib="$(mb "$LOG_BYTES")" -v b="$LOG_BYTES" -v c="$(kv child_s "$sl")" \
      -v p="$(kv publish_s "$sl")" -v p1="$one_p" -v hw="$(kv hwm_kb "$sl")" -v ok="$(kv ok "$sl")" 'BEGIN {
    printf "  %d MiB with %2d secret values to mask: child %.3f s (%.0f MB/s), in the sink after %.3f s (%.0f MB/s; / one secret %.2f); peak RSS %.1f MB; ok=%s\n", mib, n, c, b / c / 1e6, p, b / p / 1e6, p / p1, hw / 1024, ok
  }'
done

# 1b. A child that writes one 100-byte line at a time.
read -r null_s file_s <<< "$(baselines "$LINE_BYTES" 100)"
start_sink
line=$(through_agent "$SINK_URL" Bench/Log-runs "$LINE_BYTES" 100)
stop_sink
awk -v n="$null_s" -v f="$file_s" -v mib="$(mb "$LINE_BYTES")" -v c="$(kv child_s "$line")" \
    -v p="$(kv publish_s "$line")" -v b="$LINE_BYTES" -v hw="$(kv hwm_kb "$line")" -v ok="$(kv ok "$line")" 'BEGIN {
  printf "  %d MiB in 100-byte writes: child > /dev/null %.3f s (%.0f MB/s), | cat > file %.3f s (%.0f MB/s), through the agent %.3f s (%.0f MB/s), in the sink after %.3f s (%.0f MB/s)\n", mib, n, b / n / 1e6, f, b / f / 1e6, c, b / c / 1e6, p, b / p / 1e6
  printf "    ratios: end to end / (child | cat > file) %.2f; end-to-end MB/s / 200 MB/s target %.2f; peak RSS %.1f MB; ok=%s\n", p / f, b / p / 1e6 / 200, hw / 1024, ok
}'

# 2. Slow sink: the child's time stays; the publisher lags; memory stays.
# The child's times here are tens of ms, so the fast-sink run and the
# baselines are taken three times each and their medians shown.
med() { sort -n | sed -n 2p; }
file_s=$(for _ in 1 2 3; do baselines "$SLOW_BYTES" | cut -d' ' -f2; done | med)
fast_c=""; fast_p=""; fast_h=""
for _ in 1 2 3; do
  start_sink
  fast=$(through_agent "$SINK_URL" Bench/Log-runs "$SLOW_BYTES")
  stop_sink
  fast_c="$fast_c $(kv child_s "$fast")"; fast_p="$fast_p $(kv publish_s "$fast")"; fast_h="$fast_h $(kv hwm_kb "$fast")"
done
cf=$(tr ' ' '\n' <<< "$fast_c" | grep . | med); pf=$(tr ' ' '\n' <<< "$fast_p" | grep . | med)
hf=$(tr ' ' '\n' <<< "$fast_h" | grep . | sort -n | tail -n 1)
start_sink "$SLOW_RATE"
slow=$(through_agent "$SINK_URL" Bench/Log-runs "$SLOW_BYTES")
stop_sink
awk -v f="$file_s" -v mib="$(mb "$SLOW_BYTES")" -v rate="$SLOW_RATE" -v cf="$cf" -v pf="$pf" -v hf="$hf" \
    -v cs="$(kv child_s "$slow")" -v ps="$(kv publish_s "$slow")" -v lag="$(kv lag_s "$slow")" \
    -v hs="$(kv hwm_kb "$slow")" -v ok="$(kv ok "$slow")" 'BEGIN {
  printf "  slow sink (%.0f MB/s on the wire), %d MiB: the child took %.3f s through the agent; fast sink %.3f s, | cat > file %.3f s (medians of 3)\n", rate / 1e6, mib, cs, cf, f
  printf "    child slow sink / fast sink %.2f, / (| cat > file) %.2f; record in the sink after %.3f s (fast sink %.3f s): publisher %.3f s behind the child\n", cs / cf, cs / f, ps, pf, lag
  printf "    peak RSS %.1f MB with the slow sink, %.1f MB with the fast one; ok=%s\n", hs / 1024, hf / 1024, ok
}'

# 3. The Jenkins double's own decode rate, through the same path.
rm -f "$T/jd.port"
/usr/bin/python3 tests/doubles/jenkins/jenkins_double.py --port 0 --port-file "$T/jd.port" \
  --users agent:agent-token > "$T/jd.out" 2>&1 &
PIDS+=($!); JD_PID=$!
for _ in $(seq 1 100); do [ -s "$T/jd.port" ] && break; sleep 0.05; done
[ -s "$T/jd.port" ] || { cat "$T/jd.out" >&2; echo "bench_log.sh: the Jenkins double did not start" >&2; exit 1; }
JURL="http://127.0.0.1:$(cat "$T/jd.port")"
curl -sS -u agent:agent-token -H 'Content-Type: application/xml' -o /dev/null \
  --data-binary '<com.cloudbees.hudson.plugins.folder.Folder/>' "$JURL/createItem?name=Bench"
curl -sS -u agent:agent-token -H 'Content-Type: application/xml' -o /dev/null \
  --data-binary '<hudson.model.ExternalJob/>' "$JURL/job/Bench/createItem?name=Log-runs"
dbl=$(through_agent "$JURL" Bench/Log-runs "$DOUBLE_BYTES" 65536 --user agent --token agent-token)
# What the double made of it: the run's result and log size (its log also has "Started"... lines).
run=$(curl -sS "$JURL/_double/state?logs=false" | /usr/bin/python3 -c 'import json,sys
r = json.load(sys.stdin)["jobs"]["Bench/Log-runs"]["runs"][-1]; print(r["result"], r["logSize"])')
kill "$JD_PID" 2>/dev/null || true
awk -v mib="$(mb "$DOUBLE_BYTES")" -v b="$DOUBLE_BYTES" -v p="$(kv publish_s "$dbl")" \
    -v c="$(kv child_s "$dbl")" -v ok="$(kv ok "$dbl")" -v run="$run" 'BEGIN {
  printf "  Jenkins double (Python), %d MiB: in it after %.3f s = %.1f MB/s of log, %.1f MB/s of hex (child %.3f s); ok=%s, run %s log bytes\n", mib, p, b / p / 1e6, 2 * b / p / 1e6, c, ok, run
}'
