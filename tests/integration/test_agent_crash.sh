# The agent is SIGKILLed at several points of a run and started again: no
# process of the run survives, and Jenkins ends up with exactly one complete
# record of each claimed item, whose log holds the spool byte for byte, which
# holds every line the child printed (but for what was still in the pipe
# when the agent died, which dies with it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jenkins_lib.sh"

talk_operation
cat > "$T/jobs/escape.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Provision/{env}/DataPipeline/Escape" display-name="Escape">
  <parameters><param name="n" default="0"/><param name="linger" default="0"/></parameters>
  <steps><step name="detach" shell="true"><script>
    # Leaves its process group: the group kill at the step's end cannot reach it.
    setsid /bin/sh -c 'echo $$ > "$STATE_DIR/escaped"; exec sleep 300' >/dev/null 2>&amp;1 &amp;
    for i in $(seq 1 100); do [ -s "$STATE_DIR/escaped" ] &amp;&amp; break; sleep 0.05; done
    echo "detached $(cat "$STATE_DIR/escaped")"
    i=0; while [ "$i" -lt "$linger" ]; do echo "lingering $i"; sleep 0.1; i=$((i + 1)); done
  </script></step></steps>
</operation>
XML
start_jenkins
JOB_PARAMS="n lines" create_job_tree Provision/dev/DataPipeline/Talk
agent_config
RUNS="s['jobs']['Provision/dev/DataPipeline/Talk-runs']['runs']"

crash_at() { # N LINE: SIGKILL the agent once run N has streamed LINE lines
  local n=$1 line=$2 q
  start_agent
  q=$(trigger Provision/dev/DataPipeline/Talk n=$n lines=40)
  if [ "$line" = 0 ]; then
    wait_for 30 "any('claimed queue item $q of' in r['log'] for r in $RUNS)" || fail "run $n not claimed"
  else
    wait_for 30 "any('run $n line $line' in r['log'] for r in $RUNS)" || fail "run $n did not stream"
  fi
  kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
  sleep 0.3
  # The step's leader died with the agent; its background helper is still there.
  bg=$(cat "$T/state/bg-$n" 2>/dev/null || echo "")
  start_agent
  wait_for 30 "len($(rec $q)) == 1" || { cat "$T/agent.log"; fail "run $n was not recorded after the restart"; }
  [ -z "$bg" ] || within 5 dead "$bg" || fail "the background process $bg of run $n survived the restart"
  check_record "$n" "$q" FAILURE
  wait_log 30 "was running when the agent stopped"
  stop_agent
  [ -z "$(ls "$T/state/journal")" ] || fail "journal not empty after run $n: $(ls "$T/state/journal")"
  pass "SIGKILL at line $line of run $n: processes ended, one complete record (FAILURE, interrupted)"
}
crash_at 1 0
crash_at 2 7
crash_at 3 25

# After the run finished, while its record cannot reach Jenkins (down): the restarted
# agent records it with the run's own result and name.
start_agent
q=$(trigger Provision/dev/DataPipeline/Talk n=4 lines=30)   # 3 s: the restart lands while it runs
wait_for 30 "any('run 4 line 3' in r['log'] for r in $RUNS)" || fail "run 4 did not stream"
curl -sS -X POST "$JURL/_double/restart" -d '{"down_ms": 6000}' -o /dev/null
within 30 grep -q "queue item $q (.*): SUCCESS, but its live record broke" "$T/agent.log" ||
  { cat "$T/agent.log"; fail "run 4 did not finish"; }
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
[ -f "$T/state/journal/q$q.json" ] || fail "no journal entry for the unrecorded run"
grep -q '"state":"finished"' "$T/state/journal/q$q.json" || fail "journal entry not finished: $(cat "$T/state/journal/q$q.json")"
sleep 5
start_agent
wait_for 40 "len($(rec $q)) == 1" || { cat "$T/agent.log"; fail "run 4 was not recorded after the restart"; }
check_record 4 "$q" SUCCESS
assert_eq "#$q (no tag)" "$(jpy "$(rec $q)[0]['displayName']")" "name of the recovered finished run"
stop_agent
pass "SIGKILL after the run finished, record not sent: recorded at restart with its own result"

# A process a step detached (setsid) ends with its step where the step has a
# cgroup of its own; without one it comes back to the agent (its subreaper)
# and is ended once no run goes on.
JOB_PARAMS="n linger" create_job_tree Provision/dev/DataPipeline/Escape
start_agent
wait_log 20 "serving "
if grep -q "each step runs in a cgroup of its own" "$T/agent.log"; then cgroups=1; else cgroups=0; fi
q=$(trigger Provision/dev/DataPipeline/Escape n=1)
ER="s['jobs']['Provision/dev/DataPipeline/Escape-runs']['runs']"
wait_for 20 "len($ER) == 1 and not $ER[0]['building']" || { cat "$T/agent.log"; fail "the escape run was not recorded"; }
esc=$(cat "$T/state/escaped")
if [ "$cgroups" = 1 ]; then
  # Killed with the step's cgroup before the record was sent (a SIGKILL lands at once).
  within 1 dead "$esc" || fail "the detached process $esc outlived its step's cgroup"
  pass "a process a step detached with setsid ends with its step (its cgroup)"
else
  within 10 dead "$esc" || fail "the detached process $esc outlived its run"
  wait_log 30 "processes that runs had detached"
  pass "a process a step detached with setsid is ended after its run (subreaper; no cgroups here)"
fi
stop_agent
rm -f "$T/state/escaped"

# The agent is SIGKILLed while a step's detached process runs: with cgroups the
# next start ends it (the registry names the step's cgroup) and records the run.
if [ "$cgroups" = 1 ]; then
  start_agent
  q=$(trigger Provision/dev/DataPipeline/Escape n=2 linger=300)
  wait_for 30 "len($ER) == 2 and 'lingering 3' in $ER[1]['log']" || { cat "$T/agent.log"; fail "the second escape run did not stream"; }
  esc=$(cat "$T/state/escaped")
  kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
  sleep 0.3
  dead "$esc" && fail "the detached process $esc died with the agent: nothing was left to test"
  start_agent
  wait_for 30 "any((r['displayName'] or '').startswith('#$q ') for r in $ER)" ||
    { cat "$T/agent.log"; fail "the second escape run was not recorded after the restart"; }
  within 1 dead "$esc" || { kill -KILL "$esc"; fail "the detached process $esc survived the agent's crash and restart"; }
  wait_log 30 "processes left by an earlier agent's runs"
  stop_agent
  pass "SIGKILL with a detached process running: the restart ends it through its step's cgroup"
else
  echo "skip - SIGKILL with a detached process running: no cgroups here, the restart cannot reach it"
fi

# A second agent on the same state_dir is refused.
start_agent
wait_log 20 "serving "   # it holds the lock from before it says so
da agent
assert_eq 78 "$rc" "exit code of a second agent on one state_dir"
assert_contains "$T/out" "is in use by another dataops-agent"
stop_agent
pass "one agent per state_dir"
