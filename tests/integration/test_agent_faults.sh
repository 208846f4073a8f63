# Faults between the agent and Jenkins while runs stream: a Jenkins restart
# (in-progress runs lost), connections reset, a 503 storm while recording,
# an idle timeout shorter than the agent's keep-alive. Each time the run goes
# on, and Jenkins ends up with exactly one complete record of it whose log
# holds every line the child printed, once, in order.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jenkins_lib.sh"

talk_operation
start_jenkins
JOB_PARAMS="n lines" create_job_tree Provision/dev/DataPipeline/Talk
agent_config
start_agent
RUNS="s['jobs']['Provision/dev/DataPipeline/Talk-runs']['runs']"

# 1. Jenkins restarts mid-run (the in-progress run vanishes) and is down for a while.
q=$(trigger Provision/dev/DataPipeline/Talk n=1 lines=30)
wait_for 30 "len($RUNS) >= 1 and 'run 1 line 5' in $RUNS[-1]['log']" || fail "run 1 did not stream"
curl -sS -X POST "$JURL/_double/restart" -d '{"down_ms": 2000}' -o /dev/null
wait_for 40 "len($(rec $q)) == 1" ||
  { cat "$T/agent.log"; fail "run 1 was not recorded after the restart"; }
check_record 1 "$q" SUCCESS
wait_log 10 "live record broke"
jpy "$(rec $q)[0]['log']" > "$T/l1"
assert_contains "$T/l1" "Jenkins kept no partial run of it"
pass "a Jenkins restart mid-run: the run goes on and is recorded once, whole"

# 2. The connection is reset mid-run: the partial run ends FAILURE, the whole one follows.
q=$(trigger Provision/dev/DataPipeline/Talk n=2 lines=30)
wait_for 30 "any('run 2 line 5' in r['log'] for r in $RUNS)" || fail "run 2 did not stream"
curl -sS -X POST "$JURL/_double/drop_streams" -o /dev/null
wait_for 30 "len($(rec $q)) == 1" ||
  { cat "$T/agent.log"; fail "run 2 was not recorded after the reset"; }
check_record 2 "$q" SUCCESS
assert_eq "True" "$(jpy "any('run 2 line 1' in r['log'] and r['result'] == 'FAILURE' for r in $RUNS)")" "the broken partial run is kept, FAILURE"
partial=$(jpy "[r['number'] for r in $RUNS if 'run 2 line 1' in r['log'] and r['result'] == 'FAILURE'][0]")
jpy "$(rec $q)[0]['log']" > "$T/l2"
assert_contains "$T/l2" "the live record of queue item $q broke"
assert_contains "$T/l2" "the partial run is Provision/dev/DataPipeline/Talk-runs #$partial, ended FAILURE"
pass "a reset stream: the partial run is FAILURE, one whole record follows and names the break"

# 3. A 503 storm while the whole record is being posted again: retried until it lands.
# The retries back off with full jitter, doubling from 2 s to a 30 s cap: four
# 503s wait at most 2+4+8+16 = 30 s, well inside the 60 s bound (six could
# wait 2+4+8+16+30+30 s and did, on a loaded CI machine).
q=$(trigger Provision/dev/DataPipeline/Talk n=3 lines=20)
wait_for 30 "any('run 3 line 3' in r['log'] for r in $RUNS)" || fail "run 3 did not stream"
faults '{"status503": 4, "match": "postBuildResult"}'
curl -sS -X POST "$JURL/_double/drop_streams" -o /dev/null
wait_for 60 "len($(rec $q)) == 1" ||
  { cat "$T/agent.log"; fail "run 3 was not recorded through the 503s"; }
check_record 3 "$q" SUCCESS
assert_eq 4 "$(grep -c "queue item $q: recording the run in .* failed: .* 503" "$T/agent.log")" "503s the agent retried through"
pass "503s while recording again: retried with backoff until recorded once"

# 4. An idle timeout shorter than usual (a busy Jetty: 1 s): keep-alives hold the stream.
curl -sS -X POST "$JURL/_double/mode" -d '{"idle_timeout": 1.5}' -o /dev/null
cat > "$T/jobs/quiet.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Provision/{env}/DataPipeline/Quiet" display-name="Quiet">
  <parameters><param name="n" default="0"/></parameters>
  <steps><step name="quiet" shell="true"><script>echo "run $n line 1" | tee -a "$STATE_DIR/printed-$n"; sleep 5; echo "run $n line 2" | tee -a "$STATE_DIR/printed-$n"</script></step></steps>
</operation>
XML
stop_agent
JOB_PARAMS="n" create_job_tree Provision/dev/DataPipeline/Quiet
start_agent
q=$(trigger Provision/dev/DataPipeline/Quiet n=4)
QR="s['jobs']['Provision/dev/DataPipeline/Quiet-runs']['runs']"
wait_for 30 "len($QR) >= 1 and not $QR[-1]['building']" || fail "quiet run not finished"
assert_eq "1" "$(jpy "len($QR)")" "records of the quiet run (no broken stream)"
assert_eq "SUCCESS" "$(jpy "$QR[0]['result']")" "result of the quiet run"
pass "5 s of silence under a 1.5 s idle timeout: keep-alives hold the live stream"
stop_agent
