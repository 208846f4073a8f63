# A masking failure inside the masked master's refresh stops the run before
# any pod is touched: nothing downstream may see unmasked or stale data.
. "$(dirname "$0")/data_refresh_lib.sh"

data_refresh_setup
dddp_ctl POST faults '{"fail_masking": true}' >/dev/null

da run DataRefresh/DataPipeline
assert_eq 1 "$rc" "exit code after a failed masking"
assert_contains "$T/out" "<== snapshot-production: ok"
assert_contains "$T/out" "<== refresh-masked-master: FAILED"
# the engine's own words: id, details, suggested action, command output
assert_contains "$T/out" "exception.double.hook.failed: Script \"Masking Job\" failed with exit code 1 during configure clone. (Check the script output.)"
assert_contains "$T/out" "command output: masking execution 17: FAILED"
assert_contains "$T/out" "Finished: FAILURE"
assert_not_contains "$T/out" "parallel 'pods'"
assert_not_contains "$T/out" "[prep1]"
pass "a failed masking fails the run with the engine's error"

dddp_py '
touched = [r for r in reqs if "/container" in r["path"] or "/bookmark" in r["path"]]
if touched:
    fail("pods were touched after the masking failed: %r" % [r["path"] for r in touched][:3])
pods = [o for o in state["objects"] if o["type"] == "JSDataContainer"]
if any(o["operationCount"] != 1 for o in pods):
    fail("a container changed: %r" % [(o["name"], o["operationCount"]) for o in pods])
if [o for o in state["objects"] if o["type"] == "JSBookmark"]:
    fail("a bookmark was made")
mm = [j for j in state["jobs"] if j["actionType"] == "DB_REFRESH"][0]
if mm["jobState"] != "FAILED":
    fail("the refresh job is %s" % mm["jobState"])
'
pass "no container or bookmark call after the masking failed"
