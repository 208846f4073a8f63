# Secrets never reach Jenkins, the spool or the agent's log: a step that
# prints a [secrets] value (raw, split across two writes, base64, URL- and
# JSON-encoded) and a parameter marked secret; the record shows **** instead.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jenkins_lib.sh"

SECRET='s3cr3t/Pa55 word+x'
cat > "$T/jobs/leak.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Provision/{env}/DataPipeline/Leak" display-name="Leak">
  <parameters>
    <param name="db_password" default="" secret="true"/>
  </parameters>
  <steps>
    <step name="leak" shell="true">
      <secret name="vault_password" env="VAULT" as="value"/>
      <script>
        echo "raw: $VAULT"
        half=$(( $(printf %s "$VAULT" | wc -c) / 2 ))
        printf 'split: %s' "$(printf %s "$VAULT" | cut -c1-$half)"; sleep 0.3
        printf '%s\n' "$(printf %s "$VAULT" | cut -c$((half + 1))-)"
        echo "b64: $(printf %s "$VAULT" | base64)"
        echo "url: $(printf %s "$VAULT" | /usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote_plus(sys.stdin.read()))')"
        echo "json: $(printf %s "$VAULT" | /usr/bin/python3 -c 'import json, sys; print(json.dumps(sys.stdin.read()))')"
        echo "param: $db_password"
        echo "done"
      </script>
    </step>
  </steps>
</operation>
XML
printf '%s\n' "$SECRET" > "$T/vault"; chmod 600 "$T/vault"
start_jenkins
JOB_PARAMS="db_password" create_job_tree Provision/dev/DataPipeline/Leak
agent_config "[secrets]" "vault_password_file = $T/vault"
start_agent
q=$(trigger Provision/dev/DataPipeline/Leak "db_password=Hunter2Hunter2")
RUNS="s['jobs']['Provision/dev/DataPipeline/Leak-runs']['runs']"
wait_for 20 "len($RUNS) == 1 and not $RUNS[0]['building']" || { cat "$T/agent.log"; fail "no record"; }
jpy "$RUNS[0]['log']" > "$T/record"
stop_agent
assert_contains "$T/record" "done"
for form in "raw: ****" "split: ****" "b64: ****" "url: ****" "json: \"****\"" "param: ****"; do
  assert_contains "$T/record" "$form"
done
b64=$(printf %s "$SECRET" | base64)
url=$(printf %s "$SECRET" | /usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote_plus(sys.stdin.read()))')
spool=$(ls "$T"/state/runs/*-q"$q"-*.log) || fail "no spool of queue item $q"
assert_contains "$spool" "done"
for f in "$T/record" "$T/agent.log" "$spool"; do
  for v in "$SECRET" "$b64" "$url" "Hunter2Hunter2" "s3cr3t"; do
    assert_not_contains "$f" "$v"
  done
done
pass "a secret printed raw, split, base64, URL- and JSON-encoded, and a secret parameter: masked everywhere"
