# The Data Pipeline against the engine double: sync, masked refresh, then
# six pods that really run at once (the double holds their refresh jobs
# until all six exist, so only parallel branches get past), each spun up,
# subset and bookmarked, and the template's Full Dataset bookmark beside.
. "$(dirname "$0")/data_refresh_lib.sh"

data_refresh_setup
dddp_ctl POST faults '{"hold": {"action_type": "JETSTREAM_USER_CONTAINER_REFRESH", "count": 6, "timeout": 8}}' >/dev/null

da run DataRefresh/DataPipeline
assert_eq 0 "$rc" "exit code of the pipeline"
assert_contains "$T/out" "Finished: SUCCESS"
# stages in order, each with the engine's progress
assert_contains "$T/out" "==> [1/3] snapshot-production: Delphix engine: sync"
assert_contains "$T/out" "==> [2/3] refresh-masked-master: Delphix engine: refresh"
assert_contains "$T/out" "DB_REFRESH  50%  Running configure-clone operation \"Masking Job\"."
assert_contains "$T/out" "==> [3/3] parallel 'pods': 7 branches"
for n in 1 2 3 4 5 6; do
  assert_contains "$T/out" "[prep$n] ==> [1/3] spin-up: Delphix engine: container-refresh"
  grep -qE "^\[prep$n\]     JOB-[0-9]+ JETSTREAM_USER_CONTAINER_REFRESH +[0-9]+%" "$T/out" ||
    fail "no progress line of prep$n's refresh"
  assert_contains "$T/out" "[prep$n] subset of prep$n done"
  grep -qE "^ +prep$n +SUCCESS .* bookmark prep$n [0-9-]+ [0-9]{6} \(shared\)$" "$T/out" ||
    fail "the table has no SUCCESS row with a bookmark for prep$n"
done
grep -qE "^ +full-dataset +SUCCESS .* bookmark [0-9-]+ [0-9]{6} FULL \(shared\)$" "$T/out" ||
  fail "the table has no Full Dataset bookmark"
assert_not_contains "$T/out" "$DDDP_PASSWORD"
logs=("$T/state/runs/"*.log)
[ -f "${logs[0]}" ] || fail "no spool in $T/state/runs"
for f in "${logs[@]}"; do assert_not_contains "$f" "$DDDP_PASSWORD"; done
pass "the pipeline succeeds with a table of pods and bookmarks"

dddp_py '
jobs = state["jobs"]
def of(kind): return [j for j in jobs if j["actionType"] == kind]
sync, refresh = of("DB_SYNC"), of("DB_REFRESH")
pods = of("JETSTREAM_USER_CONTAINER_REFRESH")
if len(sync) != 1 or len(refresh) != 1 or len(pods) != 6:
    fail("jobs: %d sync, %d refresh, %d pod refreshes" % (len(sync), len(refresh), len(pods)))
if not sync[0]["_end"] <= refresh[0]["_start"] or not refresh[0]["_end"] <= min(p["_start"] for p in pods):
    fail("the stages overlapped: production, masked master and pods must follow each other")
# the six waits overlap: every pod refresh started before any of them ended
if max(p["_start"] for p in pods) >= min(p["_end"] for p in pods):
    fail("the six pod refreshes did not overlap")
if sorted(p["targetName"] for p in pods) != ["prep%d" % i for i in range(1, 7)]:
    fail("pods refreshed: %r" % sorted(p["targetName"] for p in pods))
# each bookmark holds the masked data of the latest production snapshot
objs = {o["reference"]: o for o in state["objects"]}
marks = [o for o in state["objects"] if o["type"] == "JSBookmark"]
if sorted(b["containerName"] or "FULL" for b in marks) != ["FULL"] + ["prep%d" % i for i in range(1, 7)]:
    fail("bookmarks: %r" % [b["name"] for b in marks])
for b in marks:
    if not (b["shared"] and b["usable"]):
        fail("bookmark %s is not shared and usable" % b["name"])
    if state["versions"][b["reference"]] != state["prod_version"]:
        fail("bookmark %s holds data version %s, not the latest snapshot %s" % (
            b["name"], state["versions"][b["reference"]], state["prod_version"]))
# one session per branch, each logged in once; every call checked, none refused
logins = calls("/login", "POST")
if len(logins) != 8 or any(r["status"] != 200 for r in logins):
    fail("expected 8 logins (the run, six pods, the Full Dataset), got %d" % len(logins))
if [r for r in reqs if r["status"] != 200]:
    fail("refused calls: %r" % [r for r in reqs if r["status"] != 200][:3])
if not all(r.get("version") == "1.10.0" for r in calls("/session", "POST")):
    fail("sessions not at API 1.10.0")
if calls("/jetstream/") or not calls("/selfservice/container"):
    fail("API 1.10 must use the selfservice/ paths")
if len(calls("/logout", "POST")) != 8:
    fail("every session is logged out at the end")
'
pass "stages in order, six pod refreshes overlapping, bookmarks of the latest masked data, a session per branch"
