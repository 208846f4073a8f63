# Pod 3's refresh fails: the other five (and the Full Dataset bookmark)
# still finish, the run is FAILURE, and the table says which pod and why.
. "$(dirname "$0")/data_refresh_lib.sh"

data_refresh_setup
dddp_ctl POST faults '{"fail_pods": ["prep3"]}' >/dev/null

da run DataRefresh/DataPipeline
assert_eq 1 "$rc" "exit code with one failed pod"
assert_contains "$T/out" "Finished: FAILURE"
assert_contains "$T/out" "1 of 7 branches failed"
grep -E '^ +prep3 +FAILURE .*exception.jetstream.container.refresh.failed: Refresh of data container "prep3" failed' "$T/out" >/dev/null ||
  fail "the table does not say why prep3 failed"
for n in 1 2 4 5 6; do
  grep -qE "^ +prep$n +SUCCESS .* bookmark prep$n " "$T/out" || fail "prep$n did not finish with a bookmark"
done
grep -qE '^ +full-dataset +SUCCESS' "$T/out" || fail "the Full Dataset bookmark did not finish"
assert_not_contains "$T/out" "[prep3] ==> [2/3] subset"
assert_not_contains "$T/out" "[prep3] ==> [3/3] bookmark"
pass "pod 3 fails, the other five complete, and the table says which"

dddp_py '
names = sorted(o["containerName"] or "FULL" for o in state["objects"] if o["type"] == "JSBookmark")
if names != ["FULL", "prep1", "prep2", "prep4", "prep5", "prep6"]:
    fail("bookmarks made: %r" % names)
'
pass "no bookmark of the failed pod"

# With fail-fast="true" the first failed pod stops the others: their engine
# jobs are cancelled, and the table shows them ABORTED.
dddp_ctl POST faults '{"fail_pods": ["prep3"], "slow": {"prep1": 20, "prep2": 20, "prep4": 20, "prep5": 20, "prep6": 20}}' >/dev/null
sed -i 's/<parallel name="pods" count="6" fail-fast="false">/<parallel name="pods" count="6" fail-fast="true">/' \
  "$T/jobs/data-refresh-data-pipeline.xml"
dddp_ctl DELETE requests >/dev/null
da run DataRefresh/DataPipeline
assert_eq 1 "$rc" "exit code of a fail-fast block"
assert_contains "$T/out" "==> [3/3] parallel 'pods': 7 branches (fail fast)"
grep -qE '^ +prep3 +FAILURE ' "$T/out" || fail "prep3 is not FAILURE"
for n in 1 2 4 5 6; do
  grep -qE "^ +prep$n +ABORTED .*stopped on request" "$T/out" || fail "prep$n was not stopped"
done
dddp_py '
cancelled = [j for j in state["jobs"] if j["jobState"] == "CANCELED"]
if sorted(j["targetName"] for j in cancelled if j["actionType"] == "JETSTREAM_USER_CONTAINER_REFRESH") != \
        ["prep1", "prep2", "prep4", "prep5", "prep6"]:
    fail("cancelled on the engine: %r" % [(j["targetName"], j["actionType"]) for j in cancelled])
'
pass "fail-fast: the first failed pod stops the others and cancels their engine jobs"
