# dddp.sh - the Delphix engine double for the integration tests. Source it
# after tests/integration/lib.sh:
#   dddp_start [double options...]   start it on 127.0.0.1 (killed by the EXIT trap);
#                                    sets DDDP_URL and writes [dddp] into $T/dddp.conf
#   dddp_ctl METHOD WHAT [JSON]      a control endpoint (/_double/WHAT)
#   dddp_py 'python code'            run code with `reqs` (the request log) and `state`
# The engine user's password is $DDDP_PASSWORD; the agent's password file is
# $T/dddp-password (mode 0600), which a test may overwrite.
DDDP_DOUBLE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/dddp_double.py"
DDDP_PASSWORD="pw-$$-engine"
DDDP_PID=

dddp_stop() {
  if [ -n "$DDDP_PID" ]; then kill "$DDDP_PID" 2>/dev/null || true; wait "$DDDP_PID" 2>/dev/null || true; fi
  DDDP_PID=
}

dddp_start() {
  printf '%s\n' "$DDDP_PASSWORD" > "$T/dddp-double-password"
  rm -f "$T/dddp.port"
  /usr/bin/python3 "$DDDP_DOUBLE" --port 0 --port-file "$T/dddp.port" \
    --password-file "$T/dddp-double-password" --log "$T/dddp.jsonl" "$@" 2>"$T/dddp.err" &
  DDDP_PID=$!
  # Kill the double first, then whatever the test's EXIT trap already does.
  local prev
  prev=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
  case "$prev" in *dddp_stop*) ;; *) trap "dddp_stop; ${prev:-rm -rf \"\$T\"}" EXIT;; esac
  local i
  for i in $(seq 1 200); do
    [ -s "$T/dddp.port" ] && break
    kill -0 "$DDDP_PID" 2>/dev/null || { cat "$T/dddp.err" >&2; fail "the engine double died at start"; }
    sleep 0.05
  done
  [ -s "$T/dddp.port" ] || fail "the engine double did not start within 10 s"
  DDDP_URL="http://127.0.0.1:$(cat "$T/dddp.port")"
  ( umask 077; printf '%s\n' "$DDDP_PASSWORD" > "$T/dddp-password" )
  cat > "$T/dddp.conf" <<CONF
[dddp]
url = $DDDP_URL
user = delphix_admin
password_file = $T/dddp-password
CONF
}

dddp_ctl() { # METHOD WHAT [JSON]
  curl -sS --fail --max-time 10 -X "$1" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "$DDDP_URL/_double/$2"
}

dddp_py() { # CODE: reqs (request log), state (/_double/state), fail(msg) are defined
  dddp_ctl GET state > "$T/dddp-state.json"
  dddp_ctl GET requests > "$T/dddp-requests.json"
  /usr/bin/python3 - "$T/dddp-requests.json" "$T/dddp-state.json" <<PY
import json, sys
reqs = json.load(open(sys.argv[1]))
state = json.load(open(sys.argv[2]))
def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)
def calls(part, method=None):
    return [r for r in reqs if part in r["path"] and (method is None or r["method"] == method)]
$1
PY
}

# The real Data Pipeline operation, in the test's own catalog.
dddp_catalog() {
  cp "${DA_SOURCE_DIR:?}/jobs/data-refresh-data-pipeline.xml" "$T/jobs/"
}
