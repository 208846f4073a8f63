#!/usr/bin/env bash
# Six data pods of one second each against one pod, through the engine
# double: each pod is a container refresh whose job runs 1 s on the engine.
# Reported as a ratio against the one pod of the same invocation (about 1.0
# when the pods really run at once, about 6 when they queue). Not a test:
# nothing passes or fails on time. Usage: bench/bench_data_refresh.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
rounds=${2:-3}
bin=$B/dataops-agent
[ -x "$bin" ] || { echo "build first: cmake -S . -B $B && cmake --build $B" >&2; exit 2; }
T=$(mktemp -d /tmp/da-bench-dddp-XXXXXX)
pid=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; rm -rf "$T"' EXIT

echo "bench-pw" > "$T/engine-pw"
( umask 077; echo "bench-pw" > "$T/agent-pw" )
/usr/bin/python3 tests/doubles/dddp/dddp_double.py --port 0 --port-file "$T/port" \
  --password-file "$T/engine-pw" --job-duration 1.0 --job-steps 5 2>/dev/null &
pid=$!
for _ in $(seq 1 200); do [ -s "$T/port" ] && break; sleep 0.05; done
[ -s "$T/port" ] || { echo "the engine double did not start" >&2; exit 1; }

mkdir -p "$T/jobs" "$T/state"
for n in 1 6; do
  cat > "$T/jobs/pods$n.xml" <<XML
<?xml version="1.0"?>
<operation path="Bench/Pods$n">
  <steps><parallel name="pods" count="$n"><branch name="prep{n}">
    <step name="spin-up"><dddp action="container-refresh" template="Patients" container="\${BRANCH}"/></step>
  </branch></parallel></steps>
</operation>
XML
done
cat > "$T/agent.conf" <<CONF
[agent]
catalog = $T/jobs
state_dir = $T/state
[dddp]
url = http://127.0.0.1:$(cat "$T/port")
user = delphix_admin
password_file = $T/agent-pw
CONF

ms() { date +%s%N | cut -c1-13; }
run_ms() { # JOB -> wall ms of one run
  local s; s=$(ms)
  "$bin" --config "$T/agent.conf" run "$1" >"$T/out" 2>&1 || { cat "$T/out" >&2; exit 1; }
  echo $(( $(ms) - s ))
}
one=0; six=0
for _ in $(seq 1 "$rounds"); do
  one=$(( one + $(run_ms Bench/Pods1) ))
  six=$(( six + $(run_ms Bench/Pods6) ))
done
awk -v o="$one" -v s="$six" -v r="$rounds" 'BEGIN {
  printf "data refresh: 6 pods of 1 s: %d ms, 1 pod of 1 s: %d ms (mean of %d), ratio %.2f\n", s/r, o/r, r, s/o }'
