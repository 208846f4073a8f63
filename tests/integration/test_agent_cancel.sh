# Stopping and cancelling: a user cancels a running run from Jenkins (a build
# of the trigger job with cancel_queue_id), a queued one, a finished one; the
# node marked offline by a person drains the agent and bringing it back
# resumes; SIGTERM lets the running run finish, a second SIGTERM cancels.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jenkins_lib.sh"

cat > "$T/jobs/long.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Provision/{env}/DataPipeline/Long" display-name="Long">
  <parameters><param name="n" default="0"/><param name="secs" default="30"/></parameters>
  <steps><step name="work" shell="true"><script>
    echo $$ > "$STATE_DIR/pid-$n"
    i=0
    while [ "$i" -lt "$(( secs * 10 ))" ]; do echo "run $n tick $i"; sleep 0.1; i=$((i + 1)); done
    echo "run $n done"
  </script></step></steps>
</operation>
XML
start_jenkins
JOB_PARAMS="n secs cancel_queue_id" create_job_tree Provision/dev/DataPipeline/Long
agent_config
sed -i 's/^executors = 2$/executors = 1/' "$T/agent.conf"
start_agent
RUNS="s['jobs']['Provision/dev/DataPipeline/Long-runs']['runs']"

# 1. Cancel a running run.
q=$(trigger Provision/dev/DataPipeline/Long n=1 secs=60)
wait_for 15 "any('run 1 tick 3' in r['log'] for r in $RUNS)" || fail "run 1 did not start"
c=$(trigger Provision/dev/DataPipeline/Long cancel_queue_id=$q)
wait_for 20 "len($(rec $q)) == 1 and len($(rec $c)) == 1" || { cat "$T/agent.log"; fail "cancel of a running run not recorded"; }
assert_eq "ABORTED" "$(jpy "$(rec $q)[0]['result']")" "result of the cancelled run"
assert_eq "True" "$(jpy "'Cancelled by alice (queue item $c).' in $(rec $q)[0]['description']")" "description names who cancelled"
assert_eq "True" "$(jpy "'this run was cancelled by alice' in $(rec $q)[0]['log'] and 'run 1 done' not in $(rec $q)[0]['log']")" "the run's log"
assert_eq "NOT_BUILT" "$(jpy "$(rec $c)[0]['result']")" "result of the request's record"
assert_eq "#$c cancel #$q" "$(jpy "$(rec $c)[0]['displayName']")" "name of the request's record"
pid=$(cat "$T/state/pid-1")
within 5 gone "$pid" || fail "the cancelled run's process $pid is still there"
pass "a running run cancelled from Jenkins: ABORTED, who cancelled it, its processes gone"

# 2. Cancel an item still in the queue (the only executor is busy).
q2=$(trigger Provision/dev/DataPipeline/Long n=2 secs=8)
wait_for 15 "any('run 2 tick 1' in r['log'] for r in $RUNS)" || fail "run 2 did not start"
q3=$(trigger Provision/dev/DataPipeline/Long n=3 secs=1)
c3=$(trigger Provision/dev/DataPipeline/Long cancel_queue_id=$q3)
wait_for 20 "len($(rec $c3)) == 1" || { cat "$T/agent.log"; fail "cancel of a queued item not recorded"; }
assert_eq "True" "$(jpy "'removed from the queue' in $(rec $c3)[0]['description'] and $q3 not in [i['id'] for i in s['queue']]")" "the queued item removed"
wait_for 20 "len($(rec $q2)) == 1" || fail "run 2 did not finish"
sleep 1
assert_eq "0" "$(jpy "len($(rec $q3))")" "records of the removed item"
pass "a queued item cancelled from Jenkins is removed from the queue and never runs"

# 3. Cancel a finished run, and a request that is not a queue id.
c4=$(trigger Provision/dev/DataPipeline/Long cancel_queue_id=$q2)
c5=$(trigger Provision/dev/DataPipeline/Long cancel_queue_id=nonsense)
wait_for 20 "len($(rec $c4)) == 1 and len($(rec $c5)) == 1" || { cat "$T/agent.log"; fail "requests not answered"; }
assert_eq "True" "$(jpy "'already finished (SUCCESS' in $(rec $c4)[0]['description']")" "a finished run's request"
assert_eq "True" "$(jpy "'must be the queue id' in $(rec $c5)[0]['description']")" "a nonsense request"
pass "requests for a finished run or a non-id are answered, nothing else done"

# 4. A person marks the node offline: the agent drains; back online, it resumes.
curl -sS -u alice:alice-token -X POST "$JURL/computer/test-agent/changeOfflineCause?offlineMessage=maintenance" -o /dev/null
wait_log 30 "was marked offline by alice (maintenance)"
q6=$(trigger Provision/dev/DataPipeline/Long n=6 secs=1)
sleep 2
assert_eq "True" "$(jpy "$q6 in [i['id'] for i in s['queue']]")" "the item waits while the node is offline"
assert_eq "maintenance" "$(jpy "s['nodes']['test-agent']['offlineCause'][1]")" "the person's message stays"
curl -sS -u alice:alice-token -X POST "$JURL/computer/test-agent/toggleOffline" -o /dev/null
wait_for 20 "len($(rec $q6)) == 1" || { cat "$T/agent.log"; fail "not resumed"; }
pass "a node marked offline by a person drains the agent; back online, it claims again"

# 5. SIGTERM: the running run finishes, nothing more is claimed; then a second SIGTERM cancels.
q7=$(trigger Provision/dev/DataPipeline/Long n=7 secs=3)
wait_for 15 "any('run 7 tick 2' in r['log'] for r in $RUNS)" || fail "run 7 did not start"
kill -TERM "$AGENT_PID"
q8=$(trigger Provision/dev/DataPipeline/Long n=8 secs=1)
wait_for 20 "len($(rec $q7)) == 1" || fail "run 7 did not finish after SIGTERM"
within 30 gone "$AGENT_PID" || fail "the agent did not exit after its run"
assert_eq "SUCCESS" "$(jpy "$(rec $q7)[0]['result']")" "the run that was going at SIGTERM"
assert_eq "True" "$(jpy "$q8 in [i['id'] for i in s['queue']]")" "nothing claimed after SIGTERM"
assert_contains "$T/agent.log" "stopping: claiming nothing more"
start_agent
wait_for 20 "any('run 8 tick 0' in r['log'] for r in $RUNS)" || fail "run 8 not started by the new agent"
stop_agent   # drains: run 8 lasts 1 s
assert_eq "SUCCESS" "$(jpy "$(rec $q8)[0]['result']")" "run 8 after a drain"
start_agent
q9=$(trigger Provision/dev/DataPipeline/Long n=9 secs=60)
wait_for 15 "any('run 9 tick 2' in r['log'] for r in $RUNS)" || fail "run 9 did not start"
kill -TERM "$AGENT_PID"
wait_log 30 "stopping: claiming nothing more"   # the first is taken: the second is a second, not one merged with it
kill -TERM "$AGENT_PID"
wait_for 20 "len($(rec $q9)) == 1" || { cat "$T/agent.log"; fail "run 9 not recorded after two SIGTERMs"; }
assert_eq "ABORTED" "$(jpy "$(rec $q9)[0]['result']")" "a run cancelled by the second SIGTERM"
within 30 gone "$AGENT_PID" || fail "the agent did not exit after the second SIGTERM"
pass "SIGTERM drains (the run finishes, nothing new is claimed); a second SIGTERM cancels"
