# Steps through the real binary: shell metacharacters in a parameter stay
# inert, failures name the step and give its exit code, timeouts, signals,
# retries, and the environment a step sees.
. "$(dirname "$0")/lib.sh"

cat > "$T/jobs/steps.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Build/Steps" display-name="Steps">
  <parameters>
    <param name="message" default="hello"/>
    <param name="mode" default="ok"><choice>ok</choice><choice>fail</choice><choice>slow</choice><choice>signal</choice><choice>flaky</choice></param>
  </parameters>
  <steps>
    <step name="argv"><arg>printf</arg><arg>argv=[%s]\n</arg><arg>${message}</arg></step>
    <step name="script" shell="true"><script>printf 'env=[%s]\n' "$message"; env | sort > "$STATE_DIR/env.txt"</script></step>
    <step name="act" shell="true" timeout="2" retries="1"><script>
      case "$mode" in
        fail) echo "about to fail"; exit 7 ;;
        slow) sleep 30 ;;
        signal) kill -KILL $$ ;;
        flaky) if [ -e "$STATE_DIR/flaky" ]; then echo second try; else touch "$STATE_DIR/flaky"; exit 3; fi ;;
      esac
    </script></step>
    <step name="after"><arg>echo</arg><arg>after ran</arg></step>
  </steps>
</operation>
XML
write_config
export DATAOPS_JENKINS_TOKEN=agent-secret-token-123

meta='$(touch '"$T"'/pwned1); `touch '"$T"'/pwned2` ; rm -rf / && echo "quoted" '\''single'\'' | cat > '"$T"'/pwned3 * ? [a] ~ \n'
da run Build/Steps -p "message=$meta"
assert_eq 0 "$rc" "exit code with metacharacters"
assert_contains "$T/out" "argv=[$meta]"
assert_contains "$T/out" "env=[$meta]"
for f in pwned1 pwned2 pwned3; do [ ! -e "$T/$f" ] || fail "metacharacters were executed ($f)"; done
pass "a parameter full of shell metacharacters stays inert in argv and in a script"

assert_contains "$T/state/env.txt" "message=$meta"
assert_contains "$T/state/env.txt" "JOB_NAME=Build/Steps"
assert_contains "$T/state/env.txt" "NODE_NAME=test-agent"
assert_not_contains "$T/state/env.txt" "agent-secret-token-123"
assert_not_contains "$T/state/env.txt" "DATAOPS_"
pass "steps see parameters and builtins, never the agent's secrets"

da run Build/Steps -p mode=fail
assert_eq 7 "$rc" "exit code of a failing step"
assert_contains "$T/out" "about to fail"
assert_contains "$T/out" "step 'act' failed: exit code 7"
assert_contains "$T/out" "attempt 2 of 2"
assert_not_contains "$T/out" "after ran"
assert_contains "$T/out" "Finished: FAILURE"
pass "a failing step is named with its exit code, retried, and stops the run"

da run Build/Steps -p mode=slow
assert_eq 124 "$rc" "exit code of a timed-out step"
assert_contains "$T/out" "timed out"
pass "a step past its timeout is ended"

da run Build/Steps -p mode=signal
assert_eq 137 "$rc" "exit code of a killed step"
assert_contains "$T/out" "signal 9"
pass "a step killed by a signal"

da run Build/Steps -p mode=flaky
assert_eq 0 "$rc" "exit code of a step that passes on retry"
assert_contains "$T/out" "second try"
assert_contains "$T/out" "after ran"
pass "a retried step that succeeds lets the run go on"

da run Build/Steps -p mode=other
assert_eq 65 "$rc" "exit code of a bad choice"
assert_contains "$T/out" "must be one of: ok, fail, slow, signal, flaky"
da run Build/Steps -p nosuch=1
assert_eq 65 "$rc" "exit code of an unknown parameter"
assert_contains "$T/out" "Build/Steps has no parameter 'nosuch'; it takes: message, mode"
pass "bad parameters are refused with what is allowed"

# The run log is kept under state_dir and holds what the terminal showed.
# Refused runs made no log: the newest is the flaky run's.
log=$(ls -t "$T"/state/runs/*.log | head -1)
assert_contains "$log" "second try"
assert_contains "$log" "Finished: SUCCESS"
pass "run logs are kept under state_dir/runs"
