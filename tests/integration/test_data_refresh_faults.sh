# The engine's harder days: still booting, a pod busy with someone else's
# job, a pod whose container is gone, a job slower than its step's
# deadline, and an engine too old for selfservice/.
. "$(dirname "$0")/data_refresh_lib.sh"

data_refresh_setup

# 1. The engine answers its first three calls with the "booting" page, and
#    prep4's container is gone.
dddp_ctl POST faults '{"booting_requests": 3}' >/dev/null
dddp_ctl POST delete '{"name": "prep4"}' >/dev/null
da run DataRefresh/DataPipeline
assert_eq 0 "$rc" "exit code on a booting engine with a missing pod"
assert_contains "$T/out" "engine: engine not ready"
assert_contains "$T/out" "the engine is not ready (Delphix Engine / Engine is booting up"
assert_contains "$T/out" "[prep4]     engine: data container 'prep4' does not exist: creating it from template 'Patients'"
assert_contains "$T/out" "[prep4]     data pod 'prep4' created from template 'Patients'"
grep -qE '^ +prep4 +SUCCESS .* bookmark prep4 ' "$T/out" || fail "prep4 was not bookmarked"
dddp_py '
booting = [r for r in reqs if r.get("booting")]
if len(booting) != 3 or any(r["status"] != 502 for r in booting):
    fail("expected three booting answers, got %r" % [r["status"] for r in booting])
creates = [j for j in state["jobs"] if j["actionType"] == "JETSTREAM_ADMIN_CONTAINER_CREATE"]
if len(creates) != 1 or creates[0]["targetName"] != "prep4" or creates[0]["jobState"] != "COMPLETED":
    fail("prep4 was not created: %r" % creates)
body = [r for r in calls("/selfservice/container", "POST") if r["path"].endswith("/container")][0]["body"]
if body["type"] != "JSDataContainerCreateWithRefreshParameters" or body["dataSources"][0]["source"]["name"] != "prep4":
    fail("create body: %r" % body)
'
pass "waits for a booting engine; a missing pod is created from the template"

# 1b. prep2 is busy with another user's job for 4 s: its branch waits, then refreshes.
dddp_ctl POST faults '{"busy": {"prep2": 4}}' >/dev/null
da run DataRefresh/DataPipeline
assert_eq 0 "$rc" "exit code with a busy pod"
grep -qE "^\[prep2\]     engine: 'prep2' is busy with JOB-[0-9]+ \(Refresh \"prep2\" \(started elsewhere\)\.\); waiting up to 150 s" "$T/out" ||
  fail "prep2 did not wait for the other job"
dddp_py '
p2 = [j for j in state["jobs"] if j["targetName"] == "prep2"]
foreign = [j for j in p2 if j["user"] == "USER-1"][0]
ours = [j for j in p2 if j["actionType"] == "JETSTREAM_USER_CONTAINER_REFRESH" and j["user"] != "USER-1"][-1]
if ours["_start"] < foreign["_end"]:
    fail("prep2 was refreshed while the other job still ran")
'
pass "a busy pod waits for the other job"

# 2. The masked master refresh outlasts its step's 2 s: the step fails, the job is cancelled.
dddp_ctl POST faults '{"slow": {"Patients Masked Master": 60}}' >/dev/null
sed 's/<step name="refresh-masked-master" timeout="3600">/<step name="refresh-masked-master" timeout="2">/' \
  "$DA_SOURCE_DIR/jobs/data-refresh-data-pipeline.xml" > "$T/jobs/data-refresh-data-pipeline.xml"
da run DataRefresh/DataPipeline
assert_eq 124 "$rc" "exit code of a step past its deadline"
grep -qE "DB_REFRESH \(Masked Masters/Patients Masked Master\) still RUNNING at [0-9]+% when the step's time ran out" "$T/out" ||
  fail "no deadline message"
assert_contains "$T/out" "engine: cancelled JOB-"
assert_not_contains "$T/out" "parallel 'pods'"
dddp_py '
last = [j for j in state["jobs"] if j["actionType"] == "DB_REFRESH"][-1]
if last["jobState"] != "CANCELED" or last["parentActionState"] != "CANCELED":
    fail("the slow job is %s / %s" % (last["jobState"], last["parentActionState"]))
'
pass "a job past its step's deadline fails the step with 124 and is cancelled on the engine"

# 3. An engine that speaks only API 1.8.0: the agent takes its version and jetstream/.
dddp_stop
data_refresh_setup --max-version 1.8.0
da run DataRefresh/DataPipeline
assert_eq 0 "$rc" "exit code against an API 1.8.0 engine"
assert_contains "$T/out" "engine: the engine does not speak API 1.10.0; using its own 1.8.0"
dddp_py '
if calls("/selfservice/") or not calls("/jetstream/container"):
    fail("API 1.8.0 must use jetstream/ only")
refresh = [r for r in calls("/jetstream/container/") if r["path"].endswith("/refresh")]
if len(refresh) != 6 or any(r.get("body") != {} for r in refresh):
    fail("below 1.9 the container refresh body is {}: %r" % [r.get("body") for r in refresh][:2])
if not calls("/about", "GET"):
    fail("the engine version was not read from GET about")
'
pass "an older engine: its own API version and the jetstream/ paths"
