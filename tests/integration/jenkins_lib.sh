# jenkins_lib.sh - the Jenkins double for integration tests that need one.
# Source it after lib.sh. The double listens on 127.0.0.1 only and is killed
# when the test exits; every wait here is bounded.

JD_PY=/usr/bin/python3
JD_SCRIPT="${DA_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tests/doubles/jenkins/jenkins_double.py"
JD_PIDS=()
trap 'for p in "${JD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.2; vg_check || { rm -rf "$T"; exit 1; }; [ -n "${KEEP_T:-}" ] || rm -rf "$T"' EXIT

# start_jenkins [double options...]: sets $JURL (port $JD_PORT, default any free one). The agent's user is "agent"
# with token "agent-token" (in $T/token); "alice" (token alice-token) triggers jobs; $JD_USERS
# adds more (user:token[:perm+perm],...).
start_jenkins() {
  rm -f "$T/jd.port"
  "$JD_PY" "$JD_SCRIPT" --port "${JD_PORT:-0}" --port-file "$T/jd.port" \
      --users "agent:agent-token,alice:alice-token${JD_USERS:+,$JD_USERS}" --state "$T/jd-state.json" "$@" \
      > "$T/jd.out" 2>&1 &
  JD_PIDS+=($!)
  for _ in $(seq 1 100); do [ -s "$T/jd.port" ] && break; sleep 0.1; done
  [ -s "$T/jd.port" ] || { cat "$T/jd.out" >&2; fail "the Jenkins double did not start"; }
  JURL="http://127.0.0.1:$(cat "$T/jd.port")"
  printf 'agent-token\n' > "$T/token"
  chmod 600 "$T/token"
}

# free_port: a loopback port nobody listens on (for now).
free_port() {
  "$JD_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# jcurl METHOD PATH [curl args...] as alice; prints the body.
jcurl() {
  local m=$1 p=$2; shift 2
  curl -sS --max-time 10 -u alice:alice-token -X "$m" "$JURL$p" "$@"
}

# jstate: the double's state as JSON on stdout (logs included).
jstate() { curl -sS --max-time 10 "$JURL/_double/state"; }

# jpy EXPR: evaluate a Python expression over the state ("s"), print it.
jpy() {
  jstate | "$JD_PY" -c 'import json,sys; s=json.load(sys.stdin); print('"$1"')'
}

# create_job_tree JOB...: folders, a trigger job and its -runs External Job
# for each full name, with the string parameters named in $JOB_PARAMS
# (default github_release_tag).
create_job_tree() {
  local job parent name acc seg defs="" p
  for p in ${JOB_PARAMS:-github_release_tag}; do
    defs="$defs<hudson.model.StringParameterDefinition><name>$p</name><defaultValue></defaultValue></hudson.model.StringParameterDefinition>"
  done
  for job in "$@"; do
    acc=""
    IFS=/ read -ra segs <<< "$job"
    for ((i = 0; i < ${#segs[@]} - 1; i++)); do
      seg=${segs[$i]}
      jcurl POST "$acc/createItem?name=$seg" -H 'Content-Type: application/xml' \
        --data-binary '<com.cloudbees.hudson.plugins.folder.Folder/>' -o /dev/null
      acc="$acc/job/$seg"
    done
    name=${segs[-1]}
    jcurl POST "$acc/createItem?name=$name" -H 'Content-Type: application/xml' --data-binary \
      "<project><properties><hudson.model.ParametersDefinitionProperty><parameterDefinitions>$defs</parameterDefinitions></hudson.model.ParametersDefinitionProperty></properties><quietPeriod>0</quietPeriod><canRoam>false</canRoam><assignedNode>dataops-agent</assignedNode><concurrentBuild>true</concurrentBuild><builders><hudson.tasks.Shell><command>exit 1</command></hudson.tasks.Shell></builders></project>" -o /dev/null
    jcurl POST "$acc/createItem?name=$name-runs" -H 'Content-Type: application/xml' \
      --data-binary '<hudson.model.ExternalJob/>' -o /dev/null
  done
}

# trigger JOB NAME=VALUE...: buildWithParameters as alice; prints the queue id.
trigger() {
  local job=$1 path="" seg args=(); shift
  IFS=/ read -ra segs <<< "$job"
  for seg in "${segs[@]}"; do path="$path/job/$seg"; done
  for a in "$@"; do args+=(--data-urlencode "$a"); done
  curl -sS --max-time 10 -u alice:alice-token -o /dev/null -D - \
    -X POST "$JURL$path/buildWithParameters?delay=0sec" "${args[@]}" |
    sed -n 's|^[Ll]ocation: .*/queue/item/\([0-9]*\)/.*|\1|p'
}

# rec Q: a Python expression, the records among $RUNS of queue item Q (named "#Q ...").
rec() { echo "[r for r in $RUNS if (r['displayName'] or '').startswith('#$1 ')]"; }

# wait_for SECONDS PYTHON-EXPR: until the expression over the state is True.
wait_for() {
  local secs=$1 expr=$2 i
  for ((i = 0; i < secs * 10; i++)); do
    [ "$(jpy "$expr" 2>/dev/null)" = "True" ] && return 0
    sleep 0.1
  done
  return 1
}

# start_agent [flags]: the agent in the background, its log in $T/agent.log.
start_agent() {
  "$DA_BIN" --config "$T/agent.conf" agent "$@" > "$T/agent.log" 2>&1 &
  AGENT_PID=$!
  JD_PIDS+=($AGENT_PID)
}

# stop_agent: SIGTERM, and wait (bounded) for it to exit; $agent_rc.
stop_agent() {
  kill -TERM "$AGENT_PID" 2>/dev/null || true
  within 30 gone "$AGENT_PID" ||
    { kill -KILL "$AGENT_PID"; cat "$T/agent.log" >&2; fail "the agent did not stop within 30 s"; }
  set +e; wait "$AGENT_PID"; agent_rc=$?; set -e
}

# agent_config [extra agent.conf lines...]: a config for the agent against
# $JURL (set by start_jenkins, or JURL set by hand), polling fast.
agent_config() {
  write_config "url = $JURL" "user = agent" "token_file = $T/token" "labels = dataops-agent"
  printf '[agent]\npoll_interval = 200ms\nexecutors = 2\n' >> "$T/agent.conf"
  [ $# -eq 0 ] || printf '%s\n' "$@" >> "$T/agent.conf"
}

# faults JSON: set the double's fault switches.
faults() { curl -sS --max-time 10 -X POST "$JURL/_double/faults" -d "$1" -o /dev/null; }

# wait_log SECONDS TEXT: until the agent's log has TEXT.
wait_log() {
  local i
  for ((i = 0; i < $1 * 10; i++)); do grep -qF -- "$2" "$T/agent.log" && return 0; sleep 0.1; done
  cat "$T/agent.log" >&2
  fail "the agent's log did not say '$2' within $1 s"
}

# talk_operation: Provision/{env}/DataPipeline/Talk, whose step prints
# "run $n line $i" for i in 1..$lines (0.1 s apart), each line also appended
# to $STATE_DIR/printed-$n (what the child printed, for check_record), with a
# helper left in the background of its group (its pid in $STATE_DIR/bg-$n).
talk_operation() {
cat > "$T/jobs/talk.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Provision/{env}/DataPipeline/Talk" display-name="Talk">
  <parameters><param name="n" default="0"/><param name="lines" default="40"/></parameters>
  <steps><step name="talk" shell="true"><script>
    # A helper in the background of the step's group, as a careless script leaves one.
    sleep 300 &amp;
    echo $! > "$STATE_DIR/bg-$n"
    for i in $(seq 1 "$lines"); do
      echo "run $n line $i" | tee -a "$STATE_DIR/printed-$n"
      sleep 0.1
    done
  </script></step></steps>
</operation>
XML
}

# check_record N Q RESULT: one finished record of queue Q; its log's child lines are
# what the child printed, and its log ends with the spool's bytes exactly.
check_record() {
  local n=$1 q=$2 want=$3
  jstate > "$T/state.json"
  /usr/bin/python3 - "$T/state.json" "$q" "$T/state/printed-$n" "$want" "$T/state/runs" <<'PY' || fail "record of run $1"
import glob, json, os, sys
s = json.load(open(sys.argv[1])); q, want = sys.argv[2], sys.argv[4]
# Killed before the child printed anything, there is no file: nothing was printed.
printed = open(sys.argv[3]).read().splitlines() if os.path.exists(sys.argv[3]) else []
runs = s["jobs"]["Provision/dev/DataPipeline/Talk-runs"]["runs"]
mine = [r for r in runs if (r["displayName"] or "").startswith("#%s " % q)]
assert len(mine) == 1, "%d complete records of queue %s: %s" % (len(mine), q, [r["displayName"] for r in runs])
r = mine[0]
assert r["result"] == want and not r["building"], (r["result"], r["building"])
got = [l for l in r["log"].splitlines() if l.startswith("run ")]
if want == "SUCCESS":
    assert got == printed, "log lines differ from what the child printed:\n%s\n---\n%s" % (got, printed)
else:
    # Killed with the agent: what was still in the pipe when the agent died was
    # never read. Everything read is there, once, in order: a prefix of what was printed.
    assert got == printed[:len(got)] and len(printed) - len(got) <= 3, \
        "log lines are not what the child printed, in order:\n%s\n---\n%s" % (got, printed)
spool = [p for p in glob.glob(sys.argv[5] + "/*-q%s-*.log" % q)]
assert len(spool) == 1, spool
body = open(spool[0], "rb").read().decode()
log = r["log"]
# The record is Jenkins' two lines, our note, then the spool; Jenkins adds "Finished: X".
assert body in log, "the spool is not in the record whole"
PY
}

# echo_operation: Provision/{env}/DataPipeline/Echo, one step printing "item $n".
echo_operation() {
cat > "$T/jobs/echo.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Provision/{env}/DataPipeline/Echo" display-name="Echo">
  <parameters><param name="n" default="0"/></parameters>
  <steps><step name="say"><arg>echo</arg><arg>item ${n}</arg></step></steps>
</operation>
XML
}
