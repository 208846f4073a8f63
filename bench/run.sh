#!/usr/bin/env bash
# Benchmarks, each reported as a ratio against a baseline run in the same
# invocation (never as a pass/fail timing). Usage: bench/run.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
bin=$B/dataops-agent
[ -x "$bin" ] || { echo "build first: cmake -S . -B $B && cmake --build $B" >&2; exit 2; }
T=$(mktemp -d /tmp/da-bench-XXXXXX)
trap 'rm -rf "$T"' EXIT
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@b

ms() { date +%s%N | cut -c1-13; }
time_loop() { # N CMD... -> total ms
  local n=$1; shift; local s; s=$(ms)
  for _ in $(seq "$n"); do "$@" >/dev/null; done
  echo $(( $(ms) - s ))
}

# 1. Start-up: --version against /bin/true.
n=200
a=$(time_loop $n "$bin" --version)
b=$(time_loop $n /bin/true)
awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "start-up (--version): %.2f ms/run, /bin/true %.2f ms/run, ratio %.2f\n", a/n, b/n, a/(b?b:1) }'

# 2. Tag resolution in a warm mirror of 10 000 tags.
R=$T/repo
git -c init.defaultBranch=main init -q "$R"
echo x > "$R/f"; git -C "$R" add f; git -C "$R" commit -qm x
head=$(git -C "$R" rev-parse HEAD)
for i in $(seq 1 10000); do echo "create refs/tags/rel-$i $head"; done | git -C "$R" update-ref --stdin
git -C "$R" pack-refs --all
"$B/bench/bench_resolve" "$T/cache" "$R" rel-5000 500

# 3. Six parallel branches of 1 s each against one step of 1 s.
mkdir -p "$T/jobs"
cat > "$T/jobs/p.xml" <<'XML'
<?xml version="1.0"?>
<operation path="Bench/Parallel">
  <steps><parallel name="pods" count="6"><branch name="prep{n}">
    <step name="wait"><arg>sleep</arg><arg>1</arg></step>
  </branch></parallel></steps>
</operation>
XML
cat > "$T/jobs/s.xml" <<'XML'
<?xml version="1.0"?>
<operation path="Bench/Single">
  <steps><step name="wait"><arg>sleep</arg><arg>1</arg></step></steps>
</operation>
XML
run() { "$bin" --catalog "$T/jobs" --state-dir "$T/state" run "$1" >/dev/null 2>&1; }
p=$(time_loop 1 run Bench/Parallel)
s=$(time_loop 1 run Bench/Single)
awk -v p="$p" -v s="$s" 'BEGIN { printf "6 parallel branches of 1 s: %d ms, one 1 s step: %d ms, ratio %.2f\n", p, s, p/s }'

# 3b. What a cgroup per step costs (mkdir, the move, cgroup.kill, rmdir): runs
#     of twenty /bin/true steps with [agent] cgroup = auto against cgroup = off.
#     Per run, auto also probes once that a process can be moved (the agent
#     does that once at start); the per-step figure is what the steps add.
{
  printf '<?xml version="1.0"?>\n<operation path="Bench/True">\n  <steps>\n'
  for i in $(seq 1 20); do printf '    <step name="t%d"><arg>true</arg></step>\n' "$i"; done
  printf '  </steps>\n</operation>\n'
} > "$T/jobs/t.xml"
printf '[agent]\ncgroup = auto\n' > "$T/auto.conf"
printf '[agent]\ncgroup = off\n' > "$T/off.conf"
runc() { "$bin" --config "$1" --catalog "$T/jobs" --state-dir "$T/state" run "$2" >/dev/null 2>&1; }
cg=$("$bin" --config "$T/auto.conf" --catalog "$T/jobs" --state-dir "$T/state" check 2>/dev/null |
     sed -n 's/^cgroups: //p')
n=30
a=$(time_loop $n runc "$T/auto.conf" Bench/True)
o=$(time_loop $n runc "$T/off.conf" Bench/True)
awk -v a="$a" -v o="$o" -v n="$n" -v cg="$cg" 'BEGIN { printf "20 steps with a cgroup each: %.1f ms/run, without: %.1f ms/run, ratio %.2f, %.2f ms more per step (cgroups: %s)\n", a/n, o/n, a/(o?o:1), (a-o)/n/20, cg }'

# 4. Data refresh (issue 4): six pods of one 1 s engine job each against one
#    pod, through the Delphix engine double (bench/bench_data_refresh.sh).
bench/bench_data_refresh.sh "$B" 3

# ---- Jenkins: claim latency and log throughput (bench/README.md, "Jenkins") ----
# 5. Claim latency and live-log latency of the real agent against the Jenkins
#    double, polling every 2 s and every 200 ms, against a minimal poller.
/usr/bin/python3 bench/bench_claim.py "$bin"
# 6. Log throughput through the agent's path into a byte-counting sink, against
#    the same child alone; a slow sink; the Jenkins double's own decode rate.
bench/bench_log.sh "$B"
# 7. The idle agent: 2 s poll, 100 foreign items; private dirty memory and RSS
#    against a program of the same four libraries after one request; CPU.
bench/bench_idle.sh "$B" 60
