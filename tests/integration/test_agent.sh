# The agent against the Jenkins double: it registers its node, claims a
# triggered run, its log is in Jenkins while the run still goes on, and the
# finished record has the result, display name and description; a failing
# step is FAILURE and named; a missing tag's error is in the console; items
# of other jobs and of environments it does not serve are left alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jenkins_lib.sh"

R=$T/repo
make_repo "$R"
git_q -C "$R" tag release-2.8.0
commit_version "$R" second
git_q -C "$R" tag release-2.9.0

cat > "$T/jobs/kafka.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Provision/{env}/DataPipeline/Kafka" display-name="Kafka">
  <repository url="file://$R"/>
  <parameters>
    <param name="github_release_tag" ref="true"/>
  </parameters>
  <steps>
    <step name="show"><arg>scripts/show.sh</arg></step>
    <step name="slow" shell="true"><script>
      echo "first line of the slow step"
      # Hold the run open until the test has seen the line in Jenkins (at most 60 s).
      for i in \$(seq 1 1200); do [ -e "\$STATE_DIR/go" ] &amp;&amp; break; sleep 0.05; done
      echo "after the go"
      [ "\$(cat VERSION)" != second ] || { echo "refusing the second version"; exit 3; }
    </script></step>
  </steps>
</operation>
XML
start_jenkins
agent_config
create_job_tree Provision/dev/DataPipeline/Kafka Provision/prod/DataPipeline/Kafka Build/Other

# systemd's notify socket, as a datagram listener that writes what it hears.
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode() + "\n---\n"); f.flush()
' "$T/notify.sock" "$T/notify.log" &
JD_PIDS+=($!)
within 5 test -S "$T/notify.sock" || fail "the notify socket listener did not start"
export NOTIFY_SOCKET=$T/notify.sock
start_agent
unset NOTIFY_SOCKET
wait_for 30 "s['nodes'].get('test-agent',{}).get('offlineCause') is not None" ||
  { cat "$T/agent.log"; fail "the node was not registered with a status"; }
assert_eq "True" "$(jpy "s['nodes']['test-agent']['labels'] == 'dataops-agent' and s['nodes']['test-agent']['mode'] == 'EXCLUSIVE'")" "node labels and mode"
assert_eq "idle" "$(jpy "s['nodes']['test-agent']['offlineCause'][1]")" "node message when idle"
da check
assert_eq 0 "$rc" "exit code of check"
assert_contains "$T/out" "jenkins: $JURL: ok (Jenkins 2.426.3, user agent)"
assert_contains "$T/out" "jenkins: node test-agent: ok (idle)"
assert_contains "$T/out" "dddp: not configured"
pass "the node is registered and says idle; check reaches Jenkins and sees the node"

other=$(trigger Build/Other github_release_tag=x)
prod=$(trigger Provision/prod/DataPipeline/Kafka github_release_tag=release-2.8.0)
q=$(trigger Provision/dev/DataPipeline/Kafka github_release_tag=release-2.8.0)
[ -n "$q" ] || fail "no queue id for the trigger"
RUNS="s['jobs']['Provision/dev/DataPipeline/Kafka-runs']['runs']"
wait_for 15 "len($RUNS) == 1 and 'first line of the slow step' in $RUNS[0]['log']" ||
  { cat "$T/agent.log"; jpy "$RUNS"; fail "the log did not reach Jenkins while the run was going"; }
assert_eq "True" "$(jpy "$RUNS[0]['building']")" "the run is in progress while its log is visible"
wait_for 20 "'running Provision/dev/DataPipeline/Kafka for queue $q' == s['nodes']['test-agent']['offlineCause'][1]" ||
  fail "node message while running: $(jpy "s['nodes']['test-agent']['offlineCause']")"
touch "$T/state/go"
wait_for 15 "not $RUNS[0]['building']" || fail "the run did not finish"
assert_eq "SUCCESS" "$(jpy "$RUNS[0]['result']")" "result"
assert_eq "#$q release-2.8.0" "$(jpy "$RUNS[0]['displayName']")" "display name"
desc=$(jpy "$RUNS[0]['description']")
commit=$(git -C "$R" rev-parse release-2.8.0)
for want in "Queue item $q of Provision/dev/DataPipeline/Kafka" "triggered by alice" \
            "Tag release-2.8.0" "commit $commit" "node test-agent"; do
  case "$desc" in *"$want"*) ;; *) fail "description '$desc' lacks '$want'";; esac
done
jpy "$RUNS[0]['log']" > "$T/log1"
assert_contains "$T/log1" "claimed queue item $q of Provision/dev/DataPipeline/Kafka, triggered by alice"
assert_contains "$T/log1" "version first"
assert_contains "$T/log1" "after the go"
# One "Finished:" line, Jenkins' own; the agent's last line says "Result:".
assert_contains "$T/log1" "Result: SUCCESS ("
assert_eq 1 "$(grep -c '^Finished:' "$T/log1")" "Finished: lines in the record"
# Items of other jobs and of environments not served stay queued.
assert_eq "True" "$(jpy "sorted(i['id'] for i in s['queue']) == sorted([$other, $prod])")" "foreign items left in the queue"
pass "a claimed run streams its log live and ends with result, display name and description"

rm -f "$T/state/go"
q2=$(trigger Provision/dev/DataPipeline/Kafka github_release_tag=release-2.9.0)
touch "$T/state/go"
wait_for 20 "len($RUNS) == 2 and not $RUNS[1]['building']" || { cat "$T/agent.log"; fail "second run not recorded"; }
assert_eq "FAILURE" "$(jpy "$RUNS[1]['result']")" "result of a failing step"
jpy "$RUNS[1]['log']" > "$T/log2"
assert_contains "$T/log2" "refusing the second version"
assert_contains "$T/log2" "slow"
assert_eq "#$q2 release-2.9.0" "$(jpy "$RUNS[1]['displayName']")" "display name of the failed run"
pass "a failing step gives FAILURE with the step in the console"

q3=$(trigger Provision/dev/DataPipeline/Kafka github_release_tag=release-7.7.7)
wait_for 20 "len($RUNS) == 3 and not $RUNS[2]['building']" || { cat "$T/agent.log"; fail "third run not recorded"; }
assert_eq "FAILURE" "$(jpy "$RUNS[2]['result']")" "result for a missing tag"
jpy "$RUNS[2]['log']" > "$T/log3"
assert_contains "$T/log3" "release-7.7.7"
assert_contains "$T/log3" "release-2.9.0"    # the nearest tags are suggested
pass "a missing tag is an error in the console (record opened before resolution)"

stop_agent
assert_eq 0 "$agent_rc" "exit code after SIGTERM"
assert_eq "stopped" "$(jpy "s['nodes']['test-agent']['offlineCause'][1]")" "node message after stop"
assert_contains "$T/notify.log" "READY=1"
assert_contains "$T/notify.log" "STATUS=running Provision/dev/DataPipeline/Kafka for queue $q"
assert_contains "$T/notify.log" "STOPPING=1"
pass "SIGTERM stops the agent cleanly; systemd hears READY, STATUS and STOPPING"
