#!/usr/bin/env bash
# The idle agent (DESIGN.md §5): a 2 s poll with 100 foreign items in the
# queue. Reports the agent's private dirty memory and RSS against a minimal
# program that links the same four libraries and made one HTTP request
# (bench_idle_baseline), and the agent's CPU over a measured window.
# Usage: bench/bench_idle.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
SECS=${2:-30}
bin=$B/dataops-agent
base=$B/bench/bench_idle_baseline
[ -x "$bin" ] && [ -x "$base" ] || { echo "build first (targets dataops-agent, bench_idle_baseline)" >&2; exit 2; }
T=$(mktemp -d /tmp/da-bench-idle-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"' EXIT

/usr/bin/python3 tests/doubles/jenkins/jenkins_double.py --port 0 --port-file "$T/port" \
  --users "agent:tok,alice:tok2" > "$T/jd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || { cat "$T/jd.log" >&2; echo "bench_idle.sh: the Jenkins double did not start" >&2; exit 1; }
J="http://127.0.0.1:$(cat "$T/port")"
# 100 items of a job that is not in the agent's catalog.
curl -sS -u alice:tok2 -X POST "$J/createItem?name=Foreign" -H 'Content-Type: application/xml' \
  --data-binary '<project><properties><hudson.model.ParametersDefinitionProperty><parameterDefinitions><hudson.model.StringParameterDefinition><name>n</name></hudson.model.StringParameterDefinition></parameterDefinitions></hudson.model.ParametersDefinitionProperty></properties><quietPeriod>0</quietPeriod><assignedNode>other</assignedNode><concurrentBuild>true</concurrentBuild></project>' -o /dev/null
for n in $(seq 1 100); do
  curl -sS -u alice:tok2 -X POST "$J/job/Foreign/buildWithParameters?delay=0sec&n=$n" -o /dev/null
done

mkdir -p "$T/jobs" "$T/state"
cat > "$T/jobs/echo.xml" <<'XML'
<?xml version="1.0"?>
<operation path="Provision/{env}/DataPipeline/Echo">
  <steps><step name="say"><arg>echo</arg><arg>hi</arg></step></steps>
</operation>
XML
printf 'tok\n' > "$T/token"; chmod 600 "$T/token"
cat > "$T/agent.conf" <<CONF
[jenkins]
url = $J
user = agent
token_file = $T/token
node = idle-agent
[agent]
catalog = $T/jobs
state_dir = $T/state
envs = dev
poll_interval = 2s
CONF
"$bin" --config "$T/agent.conf" agent > "$T/agent.log" 2>&1 &
agent=$!
pids+=($agent)
"$base" "$J/api/json" $((SECS + 30)) > "$T/base.out" 2>&1 &
pids+=($!)
basepid=$!

kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/smaps_rollup"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

sleep 5   # registered, a few polls behind it
t0=$(ticks $agent); s0=$(date +%s%N)
sleep "$SECS"
t1=$(ticks $agent); s1=$(date +%s%N)
hz=$(getconf CLK_TCK)
a_pd=$(kb $agent Private_Dirty); a_rss=$(kb $agent Rss)
b_pd=$(kb $basepid Private_Dirty); b_rss=$(kb $basepid Rss)
polls=$(curl -sS "$J/_double/requests" | /usr/bin/python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r["path"] == "/queue/api/json"))')
awk -v a_pd="$a_pd" -v a_rss="$a_rss" -v b_pd="$b_pd" -v b_rss="$b_rss" \
    -v dt="$((t1 - t0))" -v hz="$hz" -v ns="$((s1 - s0))" -v polls="$polls" 'BEGIN {
  secs = ns / 1e9
  printf "idle agent, 2 s poll, 100 foreign items (%d queue polls in all):\n", polls
  printf "  Private_Dirty: agent %.2f MB, baseline %.2f MB (ratio %.2f; target < 4 MB)\n", a_pd/1024, b_pd/1024, a_pd/(b_pd?b_pd:1)
  printf "  RSS:           agent %.2f MB, baseline %.2f MB (difference %.2f MB; target within 2 MB)\n", a_rss/1024, b_rss/1024, (a_rss-b_rss)/1024
  printf "  CPU:           %.3f %% over %.0f s (%d ticks at %d Hz; target < 0.2 %%)\n", 100*dt/hz/secs, secs, dt, hz
}'
