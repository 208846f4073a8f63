# End to end through both doubles: a user triggers DataRefresh/DataPipeline
# in Jenkins, the agent claims it, runs the pipeline against the engine
# double, and Jenkins holds the live log with every pod's progress and the
# table; a failing pod makes the Jenkins run FAILURE and the table says which.
. "$(dirname "$0")/data_refresh_lib.sh"
. "$(dirname "$0")/jenkins_lib.sh"

data_refresh_engine
start_jenkins
agent_config "$(cat "$T/dddp.conf")"
JOB_PARAMS="dsource" create_job_tree DataRefresh/DataPipeline
start_agent
RUNS="s['jobs']['DataRefresh/DataPipeline-runs']['runs']"

q=$(trigger DataRefresh/DataPipeline "dsource=Patients Prod")
[ -n "$q" ] || fail "no queue id for the trigger"
wait_for 30 "len($RUNS) == 1 and not $RUNS[0]['building']" ||
  { cat "$T/agent.log"; jpy "$RUNS" | head -c 3000; fail "the pipeline's run did not end in Jenkins"; }
jpy "$RUNS[0]['consoleText']" > "$T/log1"
assert_eq "SUCCESS" "$(jpy "$RUNS[0]['result']")" "Jenkins result of the pipeline"
assert_contains "$T/log1" "claimed queue item $q of DataRefresh/DataPipeline, triggered by alice"
assert_contains "$T/log1" "DB_REFRESH  50%  Running configure-clone operation \"Masking Job\"."
for n in 1 2 3 4 5 6; do
  grep -qE "^\[prep$n\]     JOB-[0-9]+ JETSTREAM_USER_CONTAINER_REFRESH +[0-9]+%" "$T/log1" ||
    fail "no progress of prep$n in Jenkins"
  grep -qE "^ +prep$n +SUCCESS .* bookmark prep$n " "$T/log1" || fail "no table row for prep$n in Jenkins"
done
assert_not_contains "$T/log1" "$DDDP_PASSWORD"
pass "triggered in Jenkins, run by the agent against the engine, logged live with progress and the table"

dddp_ctl POST faults '{"fail_pods": ["prep3"]}' >/dev/null
q2=$(trigger DataRefresh/DataPipeline "dsource=Patients Prod")
wait_for 30 "len($RUNS) == 2 and not $RUNS[1]['building']" ||
  { cat "$T/agent.log"; fail "the second run did not end in Jenkins"; }
jpy "$RUNS[1]['consoleText']" > "$T/log2"
assert_eq "FAILURE" "$(jpy "$RUNS[1]['result']")" "Jenkins result with a failed pod"
grep -qE '^ +prep3 +FAILURE .*Refresh of data container "prep3" failed' "$T/log2" || fail "the table in Jenkins does not name prep3"
for n in 1 2 4 5 6; do grep -qE "^ +prep$n +SUCCESS" "$T/log2" || fail "prep$n did not finish"; done
pass "a failed pod is a FAILURE in Jenkins, with the table naming it (queue $q2)"

stop_agent
assert_eq 0 "$agent_rc" "the agent's exit code after SIGTERM"
