# How the agent meets a Jenkins that is not there yet, refuses it, is too
# old, or answers garbage: clear messages, retries with backoff where
# retrying can help, and an exit naming user, URL or permission where not.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jenkins_lib.sh"

echo_operation
printf 'agent-token\n' > "$T/token"; chmod 600 "$T/token"

# 1. Jenkins unreachable at start: the agent says so, retries, then serves.
JD_PORT=$(free_port)
JURL="http://127.0.0.1:$JD_PORT"
agent_config "claim_reconcile = 1s"
start_agent
wait_log 30 "retrying in"
assert_contains "$T/agent.log" "$JURL"
start_jenkins
wait_for 30 "'test-agent' in s['nodes']" || { cat "$T/agent.log"; fail "no node after Jenkins came up"; }
pass "an unreachable Jenkins at start is retried with backoff, and said so"

# 2. 503s, an HTML page and a truncated answer while polling: logged, backed off, survived.
JOB_PARAMS=n create_job_tree Provision/dev/DataPipeline/Echo
RUNS="s['jobs']['Provision/dev/DataPipeline/Echo-runs']['runs']"
faults '{"status503": 3, "match": "^/queue/api"}'
wait_log 30 "Jenkins answered 503"
faults '{"html200": 1, "match": "^/queue/api"}'
wait_log 30 "answered an HTML page, not JSON"
faults '{"bad_json": 1, "match": "^/queue/api"}'
wait_log 30 ": not JSON: "   # the truncated answer's (the HTML page's says ", not JSON:")
faults '{}'
q=$(trigger Provision/dev/DataPipeline/Echo n=1)
wait_for 30 "len($RUNS) == 1 and not $RUNS[0]['building']" ||
  { cat "$T/agent.log"; fail "no run after the faults"; }
pass "5xx, HTML and malformed JSON from the queue are logged and survived"

# 3. cancelItem answering 500 for a live item (a stale object): re-read, claimed, recorded once.
curl -sS -X DELETE "$JURL/_double/requests" -o /dev/null
faults '{"cancel_500": 1}'
q=$(trigger Provision/dev/DataPipeline/Echo n=2)
wait_for 30 "len($RUNS) == 2 and not $RUNS[1]['building']" ||
  { cat "$T/agent.log"; fail "the item answered 500 once was not claimed"; }
codes=$(curl -sS "$JURL/_double/requests" | /usr/bin/python3 -c "import json,sys; print(' '.join(str(r['status']) for r in json.load(sys.stdin) if r['path']=='/queue/cancelItem' and r['query']=='id=$q'))")
assert_eq "500 204" "$codes" "cancelItem answers for queue item $q"
assert_eq "#$q (no tag)" "$(jpy "$RUNS[1]['displayName']")" "the re-tried item's record"
pass "a 500 from cancelItem is re-read and the claim tried again"

# 3b. The claim's answer is lost (the item was cancelled, nobody knows by whom): after
# claim_reconcile, with no agent running or recording it, it is triggered again.
faults '{"cancel_lost": 1}'
q=$(trigger Provision/dev/DataPipeline/Echo n=7)
wait_log 20 "queue item $q of Provision/dev/DataPipeline/Echo (by alice): the answer to our claim was lost"
again=$(sed -n "s/.*queue item $q of .*triggered it again with the same parameters as queue item \([0-9]*\).*/\1/p" "$T/agent.log")
[ -n "$again" ] || fail "no new queue item named in the log"
wait_for 20 "len($(rec $again)) == 1 and not $(rec $again)[0]['building']" ||
  { cat "$T/agent.log"; fail "the re-triggered item $again was not recorded"; }
assert_eq "True" "$(jpy "'item 7' in $(rec $again)[0]['log']")" "the re-triggered run has the same parameters"
assert_eq "0" "$(jpy "len($(rec $q))")" "records of the lost claim's item"
journal_empty() { [ -z "$(ls "$T/state/journal")" ]; }
within 10 journal_empty || fail "journal not empty: $(ls "$T/state/journal")"
pass "a claim whose answer was lost is reconciled: triggered again with the same parameters, once"

# 3c. The agent's user may build but lacks Run/Update: Jenkins answers 200 to the record yet
# ends the run FAILURE without its name (jenkins-api.md §7.2). The agent reads the record
# back and says so, naming the permission, instead of logging a success.
curl -sS -X POST "$JURL/_double/users" -d '{"agent": {"token": "agent-token", "perms": ["read", "create", "configure", "build", "computer"]}}' -o /dev/null
q=$(trigger Provision/dev/DataPipeline/Echo n=8)
wait_log 30 "queue item $q: Jenkins answered 200 to its record in Provision/dev/DataPipeline/Echo-runs, but shows no finished run named #$q: naming a run needs the Run/Update permission, which Jenkins user 'agent' seems to lack"
assert_eq "True" "$(jpy "any('item 8' in r['log'] and r['result'] == 'FAILURE' and 'Run/Update' in r['log'] for r in $RUNS)")" "the run Jenkins ended FAILURE for the missing permission"
curl -sS -X POST "$JURL/_double/users" -d '{"agent": {"token": "agent-token", "perms": ["all"]}}' -o /dev/null
pass "a record Jenkins took with 200 but could not name is read back and the missing Run/Update named"
stop_agent
assert_eq 0 "$agent_rc" "exit code after SIGTERM"

# 4. A bad token: exit 77 naming the user and the URL, never the token.
printf 'wrong-token\n' > "$T/token"
da agent
assert_eq 77 "$rc" "exit code for a refused token"
assert_contains "$T/out" "refused the API token of user 'agent'"
assert_contains "$T/out" "$JURL"
assert_not_contains "$T/out" "wrong-token"
pass "a bad token exits naming user and URL"

# 5. A missing permission: named from X-Required-Permission.
printf 'agent-token\n' > "$T/token"
curl -sS -X POST "$JURL/_double/users" -d '{"agent": {"token": "agent-token", "perms": ["read", "build"]}}' -o /dev/null
sed -i 's/^node = test-agent/node = other-node/' "$T/agent.conf"
da agent
assert_eq 77 "$rc" "exit code for a missing permission"
assert_contains "$T/out" "lacks the Jenkins permission hudson.model.Computer"
pass "a missing permission is named"

# 6. A Jenkins older than 2.211: refused with the reason.
curl -sS -X POST "$JURL/_double/mode" -d '{"version": "2.204.1"}' -o /dev/null
da agent
assert_eq 78 "$rc" "exit code for an old Jenkins"
assert_contains "$T/out" "is version 2.204.1; dataops-agent needs 2.211 or later"
pass "a Jenkins older than 2.211 is refused"
