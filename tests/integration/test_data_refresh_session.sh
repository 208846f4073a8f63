# Credentials and sessions: a session that expires mid-run costs one new
# login and the call again; a bad password is a clear error after exactly
# one login attempt (the engine locks a user out after three); a missing
# [dddp] section is refused before anything runs. `check` logs in once too.
. "$(dirname "$0")/data_refresh_lib.sh"

data_refresh_setup

# 0. check logs in to the engine with the config's credentials.
da check
assert_contains "$T/out" "dddp: $(sed -n 's/^url = //p' "$T/dddp.conf"): ok (API"
dddp_ctl DELETE requests >/dev/null
pass "check logs in to the engine"

# 1. The 3rd logged-in call (the first look at the sync job) finds its session expired.
dddp_ctl POST faults '{"expire_at_request": 3}' >/dev/null
da run DataRefresh/DataPipeline
assert_eq 0 "$rc" "exit code with a session expiring mid-run"
assert_contains "$T/out" "engine: the engine's session expired"
assert_contains "$T/out" "logging in again"
assert_contains "$T/out" "Finished: SUCCESS"
dddp_py '
bad = [i for i, r in enumerate(reqs) if r["status"] == 403]
if len(bad) != 1 or not reqs[bad[0]].get("expired"):
    fail("expected exactly one call refused for an expired session, got %d" % len(bad))
i = bad[0]
after = [(r["method"], r["path"].rsplit("delphix/", 1)[1], r["status"]) for r in reqs[i + 1:i + 4]]
want = [("POST", "session", 200), ("POST", "login", 200),
        (reqs[i]["method"], reqs[i]["path"].rsplit("delphix/", 1)[1], 200)]
if after != want:
    fail("after the 403: %r, expected %r" % (after, want))
if len(calls("/login", "POST")) != len(calls("/session", "POST")) or len(calls("/login", "POST")) != 9:
    fail("expected 9 logins (8 sessions + 1 re-login), got %d" % len(calls("/login", "POST")))
'
pass "a session expiring mid-run: one new login, the call again, success"

# 2. A wrong password: one LoginRequest, a clear error, no retry, nothing run.
dddp_ctl DELETE requests >/dev/null
dddp_ctl POST faults '{}' >/dev/null
( umask 077; echo "not-the-password" > "$T/dddp-password" )
da run DataRefresh/DataPipeline
assert_eq 77 "$rc" "exit code for refused credentials"
assert_contains "$T/out" "login as 'delphix_admin' refused; not retried"
assert_contains "$T/out" "HTTP 401: engine error exception.webservices.login.failed: Invalid username or password."
assert_contains "$T/out" "Finished: FAILURE"
assert_not_contains "$T/out" "not-the-password"
assert_not_contains "$T/out" "refresh-masked-master"
dddp_py '
logins = calls("/login", "POST")
if len(logins) != 1 or logins[0]["status"] != 401:
    fail("expected exactly one login attempt, got %r" % [r["status"] for r in logins])
if [r for r in reqs if "/database" in r["path"]]:
    fail("calls were made without a login")
'
da check
assert_eq 75 "$rc" "exit code of check with refused engine credentials"
assert_contains "$T/out" "FAILED: "
assert_contains "$T/out" "refused; not retried"
assert_not_contains "$T/out" "not-the-password"
pass "a bad password: a clear error after exactly one login attempt"

# 3. The same with retries="2" on the step: still one attempt (lockout after 3).
dddp_ctl DELETE requests >/dev/null
sed -i 's/<step name="snapshot-production" timeout="3600">/<step name="snapshot-production" timeout="3600" retries="2">/' \
  "$T/jobs/data-refresh-data-pipeline.xml"
da run DataRefresh/DataPipeline
assert_eq 77 "$rc" "exit code for refused credentials with retries"
assert_not_contains "$T/out" "retrying step"
dddp_py '
if len(calls("/login", "POST")) != 1:
    fail("a refused login was retried: %d attempts" % len(calls("/login", "POST")))
'
pass "a refused login is not retried even when the step has retries"

# 4. No [dddp] section: refused before any step, naming what is missing.
write_config
da run DataRefresh/DataPipeline
assert_eq 78 "$rc" "exit code without [dddp]"
assert_contains "$T/out" "DataRefresh/DataPipeline acts on the Delphix engine: set [dddp] url and user in $T/agent.conf"
assert_not_contains "$T/out" "==> [1/3]"
pass "a config without [dddp] is refused before anything runs"
