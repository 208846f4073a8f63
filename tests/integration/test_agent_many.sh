# Four agents serve one Jenkins: 200 items triggered while they poll are
# each claimed once and recorded once, with the log of their own item.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jenkins_lib.sh"

export N=${N:-200}
echo_operation
start_jenkins
JOB_PARAMS=n create_job_tree Provision/dev/DataPipeline/Echo
pids=()
for a in 1 2 3 4; do
  mkdir -p "$T/a$a"
  cat > "$T/a$a.conf" <<CONF
[agent]
catalog = $T/jobs
state_dir = $T/a$a/state
envs = dev
poll_interval = 100ms
executors = 3
[jenkins]
url = $JURL
user = agent
token_file = $T/token
node = agent-$a
labels = dataops-agent
CONF
  "$DA_BIN" --config "$T/a$a.conf" agent > "$T/a$a.log" 2>&1 &
  pids+=($!); JD_PIDS+=($!)
done
wait_for 20 "len(s['nodes']) == 4" || fail "the four agents did not register"

ids=()
for n in $(seq 1 $N); do ids+=("$(trigger Provision/dev/DataPipeline/Echo n=$n)"); done
RUNS="s['jobs']['Provision/dev/DataPipeline/Echo-runs']['runs']"
wait_for 120 "len($RUNS) >= $N and not any(r['building'] for r in $RUNS) and not s['queue']" ||
  { for f in "$T"/a?.log; do tail -n 5 "$f"; done; fail "not every item was recorded: $(jpy "len($RUNS)") runs"; }
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do
  for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && fail "agent $p did not stop"
done

# Every queue id exactly once, with the log of its own parameter; nothing else.
jstate > "$T/state.json"
/usr/bin/python3 - "$T/state.json" "${ids[@]}" <<'PY'
import collections, json, re, sys
s = json.load(open(sys.argv[1]))
ids = [int(i) for i in sys.argv[2:]]
runs = s["jobs"]["Provision/dev/DataPipeline/Echo-runs"]["runs"]
assert len(ids) == len(set(ids)) == int(__import__("os").environ["N"]), "trigger gave %d distinct ids" % len(set(ids))
seen = collections.Counter()
for r in runs:
    m = re.match(r"#(\d+) ", r["displayName"] or "")
    assert m, "run %d has display name %r" % (r["number"], r["displayName"])
    seen[int(m.group(1))] += 1
    assert r["result"] == "SUCCESS", "run %d: %s" % (r["number"], r["result"])
dups = [i for i, c in seen.items() if c != 1]
assert not dups, "recorded more than once: %s" % dups
assert set(seen) == set(ids), "missing %s, extra %s" % (set(ids) - set(seen), set(seen) - set(ids))
# The item's own parameter is in its log: nothing mixed between runs.
n_of = {}
for n, i in enumerate(ids, 1):
    n_of[i] = n
for r in runs:
    q = int(re.match(r"#(\d+) ", r["displayName"]).group(1))
    assert "item %d\n" % n_of[q] in r["log"], "run of queue %d lacks 'item %d': %r" % (q, n_of[q], r["log"])
assert not s["queue"], "items left in the queue"
PY
served=0
for a in 1 2 3 4; do c=$(grep -c "claimed queue item" "$T/a$a.log" || true); served=$((served + c)); done
assert_eq "$N" "$served" "claims logged by the four agents"
pass "4 agents, $N items: each claimed once and recorded once with its own log"
