# `dataops-agent sync` against the Jenkins double: the first sync creates
# every folder, trigger job, -runs job and the node; a second changes
# nothing; a re-serialized config is no change; --dry-run shows changes and
# posts nothing; updates keep what sync does not manage; the jobs work
# (buildWithParameters, python-jenkins); errors name the item, the
# permission, the user and the URL.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jenkins_lib.sh"

PY=$JD_PY
JD_USERS=reader:tok-reader:read,nocreate:tok-nocreate:read+configure start_jenkins --version 2.492.1

jd() { # METHOD PATH [curl args...]: the double's control endpoints
  local m=$1 p=$2; shift 2
  curl -sS --max-time 10 -X "$m" "$@" "$JURL$p"
}
state() { jd GET "/_double/state?logs=false" > "$T/state.json"; }
clear_requests() { jd DELETE /_double/requests > /dev/null; }
# The POSTs the double received since the last clear_requests, one "PATH STATUS" a line.
posts() {
  jd GET /_double/requests | "$PY" -c '
import json, sys
for r in json.load(sys.stdin):
    if r["method"] == "POST":
        print(r["path"], r["status"])'
}

write_sync_config() { # extra lines for [jenkins]
  write_config "url = $JURL" "user = agent" "token_file = $T/token" \
    "labels = dataops-agent data-hosts" "$@"
  sed -i 's/^envs = .*/envs = dev, staging\nexecutors = 3/' "$T/agent.conf"
}
write_sync_config

cat > "$T/jobs/kafka-setup.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Deploy/{env}/DataPipeline/KafkaSetup" display-name="Kafka Setup">
  <function>Setup kafka for pipeline</function>
  <description>Creates kafka topics &amp; updates their configurations</description>
  <repository url="https://git.example.invalid/data-pipeline.git"/>
  <parameters>
    <param name="github_release_tag" default="release-2.8.0" ref="true" description="Tag to check out"/>
    <param name="topic_action" default="update" description="What to do with the topics"><choice>create</choice><choice>update</choice><choice>delete</choice></param>
    <param name="vault_token" secret="true" description="never a Jenkins parameter"/>
  </parameters>
  <steps><step name="noop"><arg>true</arg></step></steps>
</operation>
XML
cat > "$T/jobs/beta.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Build/Beta" display-name="Beta">
  <repository url="https://git.example.invalid/beta.git"/>
  <parameters><param name="github_release_tag" default="" ref="true"/></parameters>
  <steps><step name="noop"><arg>true</arg></step></steps>
</operation>
XML

# ---- first sync: everything is created
da sync
assert_eq 0 "$rc" "exit code of the first sync"
for line in "created folder Build" "created folder Deploy" "created folder Deploy/dev" \
    "created folder Deploy/dev/DataPipeline" "created folder Deploy/staging/DataPipeline" \
    "created job Deploy/dev/DataPipeline/KafkaSetup" \
    "created runs job Deploy/dev/DataPipeline/KafkaSetup-runs" \
    "created job Deploy/staging/DataPipeline/KafkaSetup" \
    "created runs job Deploy/staging/DataPipeline/KafkaSetup-runs" \
    "created job Build/Beta" "created runs job Build/Beta-runs" "created node test-agent" \
    "sync: created 13, updated 0, unchanged 0"; do
  assert_contains "$T/out" "$line"
done
# Parents before children: "Deploy" is created before "Deploy/dev".
[ "$(grep -n '^created folder Deploy$' "$T/out" | cut -d: -f1)" -lt \
  "$(grep -n '^created folder Deploy/dev$' "$T/out" | cut -d: -f1)" ] || fail "parent folder after its child"
state
"$PY" - "$T/state.json" <<'EOF' || fail "the items the first sync created (see above)"
import json, sys, xml.etree.ElementTree as ET
st = json.load(open(sys.argv[1]))
jobs, errors = st["jobs"], []
def check(cond, what):
    if not cond:
        errors.append(what)
for f in ["Build", "Deploy", "Deploy/dev", "Deploy/dev/DataPipeline", "Deploy/staging",
          "Deploy/staging/DataPipeline"]:
    check(jobs.get(f, {}).get("type") == "folder", "folder " + f)
for env in ["dev", "staging"]:
    name = "Deploy/%s/DataPipeline/KafkaSetup" % env
    check(jobs.get(name, {}).get("type") == "freestyle", name + " is a FreeStyle project")
    check(jobs.get(name + "-runs", {}).get("type") == "external", name + "-runs is an ExternalJob")
    x = ET.fromstring(jobs[name]["config"])
    check(x.findtext("assignedNode") == "dataops-agent", "assignedNode: %r" % x.findtext("assignedNode"))
    check(x.findtext("canRoam") == "false", "canRoam")
    check(x.findtext("concurrentBuild") == "true", "concurrentBuild")
    check(x.findtext("quietPeriod") == "0", "quietPeriod")
    check(x.findtext("displayName") == "Kafka Setup", "displayName: %r" % x.findtext("displayName"))
    shells = x.findall("builders/hudson.tasks.Shell")
    check(len(shells) == 1 and "must be claimed by a dataops-agent" in shells[0].findtext("command")
          and shells[0].findtext("command").rstrip().endswith("exit 1"), "the failing guard step")
    d = x.findtext("description")
    check('<a href="../KafkaSetup-runs/">' in d, "the description links the runs job: %r" % d)
    check("Creates kafka topics & updates" in d, "the catalog's description: %r" % d)
    pds = list(x.find("properties/hudson.model.ParametersDefinitionProperty/parameterDefinitions"))
    got = [(p.tag, p.findtext("name"), p.findtext("defaultValue"), p.findtext("description"),
            [s.text for s in p.iter("string")]) for p in pds]
    want = [("hudson.model.StringParameterDefinition", "github_release_tag", "release-2.8.0",
             "Tag to check out", []),
            ("hudson.model.ChoiceParameterDefinition", "topic_action", None,
             "What to do with the topics", ["update", "create", "delete"]),
            ("hudson.model.StringParameterDefinition", "cancel_queue_id", "",
             "To cancel a run of this job instead of starting one: its queue id, the number "
             "after # in the run's name in the runs job. Leave it empty to run the job.", [])]
    check(got == want, "parameters of %s: %r" % (name, got))
r = ET.fromstring(jobs["Deploy/dev/DataPipeline/KafkaSetup-runs"]["config"])
check('<a href="../KafkaSetup/">' in r.findtext("description"), "the runs job links its trigger")
check(r.findtext("displayName") == "Kafka Setup runs", "runs displayName")
b = ET.fromstring(jobs["Build/Beta"]["config"])
check(b.find("displayName") is None, "no displayName when the wording is the name")
n = st["nodes"].get("test-agent")
check(n is not None, "node test-agent")
if n:
    check(n["mode"] == "EXCLUSIVE", "node mode %r" % n["mode"])
    check(sorted(n["labels"].split()) == ["data-hosts", "dataops-agent"], "node labels %r" % n["labels"])
    check(n["numExecutors"] == 3, "node executors %r" % n["numExecutors"])
    check("dataops-agent 0." in n["description"], "node description %r" % n["description"])
    check(n["remoteFS"].endswith("/state"), "node remoteFS %r" % n["remoteFS"])
check(len(jobs) == 12, "12 jobs and folders, got %d: %s" % (len(jobs), sorted(jobs)))
for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
pass "the first sync creates folders (parents first), trigger jobs, -runs External Jobs and the node"

# ---- the jobs work: buildWithParameters, python-jenkins
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -u agent:agent-token -X POST \
  "$JURL/job/Deploy/job/dev/job/DataPipeline/job/KafkaSetup/buildWithParameters?github_release_tag=release-2.9.0")
assert_eq 201 "$code" "buildWithParameters on a synced trigger job"
"$PY" - "$JURL" <<'EOF' || fail "python-jenkins does not see the synced jobs as expected"
import sys, jenkins
j = jenkins.Jenkins(sys.argv[1], username="agent", password="agent-token", timeout=10)
info = j.get_job_info("Deploy/dev/DataPipeline/KafkaSetup")
assert info["concurrentBuild"] is True, info
defs = {p["name"]: p["defaultParameterValue"]["value"]
        for p in info["property"][0]["parameterDefinitions"]}
assert defs == {"github_release_tag": "release-2.8.0", "topic_action": "update", "cancel_queue_id": ""}, defs
q = j.get_queue_info()
mine = [i for i in q if i["task"]["name"] == "KafkaSetup"]
assert len(mine) == 1, q
params = {p["name"]: p["value"] for a in mine[0]["actions"] for p in a.get("parameters", [])}
assert params == {"github_release_tag": "release-2.9.0", "topic_action": "update", "cancel_queue_id": ""}, params
node = j.get_node_info("test-agent")
assert node["numExecutors"] == 3, node
assert j.get_job_info("Deploy/dev/DataPipeline/KafkaSetup-runs")["_class"] == "hudson.model.ExternalJob"
EOF
pass "a synced trigger job takes buildWithParameters (201, the choice's default first); python-jenkins agrees"

# ---- a second sync changes nothing
clear_requests
da sync
assert_eq 0 "$rc" "exit code of the second sync"
assert_contains "$T/out" "unchanged job Deploy/dev/DataPipeline/KafkaSetup"
assert_contains "$T/out" "unchanged runs job Build/Beta-runs"
assert_contains "$T/out" "unchanged node test-agent"
assert_contains "$T/out" "sync: nothing to change; 13 items"
assert_not_contains "$T/out" "created"
assert_not_contains "$T/out" "updated"
posts > "$T/posts"
[ ! -s "$T/posts" ] || { cat "$T/posts" >&2; fail "the second sync posted"; }
pass "a second sync changes nothing, posts nothing and says so"

# ---- Jenkins' own serialization is no change; what sync does not manage stays
# Re-serialize a trigger job as Jenkins would (XML 1.1 declaration, <x></x>,
# another indentation, plugin attributes, the choices as a plain list), add a
# build discarder, and disable it, as an administrator might.
jd GET /_double/state?logs=false | "$PY" -c '
import json, sys, re
cfg = json.load(sys.stdin)["jobs"]["Deploy/staging/DataPipeline/KafkaSetup"]["config"]
cfg = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", cfg)
cfg = re.sub(r">\s+<", "><", cfg)
cfg = cfg.replace("<project>", "<project plugin=\"x\">", 1)
cfg = cfg.replace("<actions/>", "<actions></actions>")
cfg = cfg.replace("<choices class=\"java.util.Arrays$ArrayList\"><a class=\"string-array\">", "<choices>")
cfg = cfg.replace("</a></choices>", "</choices>")
cfg = cfg.replace("<disabled>false</disabled>", "<disabled>true</disabled>")
cfg = cfg.replace("<properties>", "<properties><jenkins.model.BuildDiscarderProperty><strategy class=\"hudson.tasks.LogRotator\"><daysToKeep>30</daysToKeep></strategy></jenkins.model.BuildDiscarderProperty>", 1)
sys.stdout.write("<?xml version=\x271.1\x27 encoding=\x27UTF-8\x27?>\n" + cfg)' > "$T/reserialized.xml"
assert_contains "$T/reserialized.xml" "<disabled>true</disabled>"
assert_not_contains "$T/reserialized.xml" "string-array"
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -u agent:agent-token -X POST \
  -H 'Content-Type: application/xml; charset=UTF-8' --data-binary @"$T/reserialized.xml" \
  "$JURL/job/Deploy/job/staging/job/DataPipeline/job/KafkaSetup/config.xml")
assert_eq 200 "$code" "posting the re-serialized config"
clear_requests
da sync
assert_eq 0 "$rc" "exit code of a sync after re-serialization"
assert_contains "$T/out" "unchanged job Deploy/staging/DataPipeline/KafkaSetup"
assert_contains "$T/out" "nothing to change"
posts > "$T/posts"
[ ! -s "$T/posts" ] || { cat "$T/posts" >&2; fail "a re-serialized config was taken for a change"; }
pass "a config re-serialized by Jenkins (and a disabled job) is no change"

# ---- --dry-run after changes in the catalog and the config: shown, nothing posted
sed -i 's/default="release-2.8.0"/default="release-3.0.0"/' "$T/jobs/kafka-setup.xml"
sed 's/Beta/Gamma/g; s/beta\.git/gamma.git/' "$T/jobs/beta.xml" > "$T/jobs/gamma.xml"
write_sync_config
sed -i 's/^executors = 3/executors = 5/' "$T/agent.conf"
state
cp "$T/state.json" "$T/state-before.json"
clear_requests
da sync --dry-run
assert_eq 0 "$rc" "exit code of a dry run"
for line in "update job Deploy/dev/DataPipeline/KafkaSetup (parameters)" \
    "update job Deploy/staging/DataPipeline/KafkaSetup (parameters)" \
    "unchanged runs job Deploy/dev/DataPipeline/KafkaSetup-runs" \
    "unchanged job Build/Beta" "create job Build/Gamma" "create runs job Build/Gamma-runs" \
    "update node test-agent (executors)" \
    "dry run: would create 2, update 3; 10 unchanged; nothing was changed"; do
  assert_contains "$T/out" "$line"
done
posts > "$T/posts"
[ ! -s "$T/posts" ] || { cat "$T/posts" >&2; fail "--dry-run posted"; }
state
cmp -s "$T/state.json" "$T/state-before.json" || fail "--dry-run changed the double's state"
pass "--dry-run shows what changed in the catalog and the config, one line per item, and posts nothing"

# ---- the update: only the changed items are posted; offline cause and admin's changes stay
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -u agent:agent-token -X POST \
  "$JURL/computer/test-agent/changeOfflineCause?offlineMessage=draining")
assert_eq 302 "$code" "taking the node offline"
clear_requests
da sync
assert_eq 0 "$rc" "exit code of the updating sync"
assert_contains "$T/out" "updated job Deploy/staging/DataPipeline/KafkaSetup (parameters)"
assert_contains "$T/out" "created job Build/Gamma"
assert_contains "$T/out" "updated node test-agent (executors)"
assert_contains "$T/out" "sync: created 2, updated 3, unchanged 10"
posts | sort > "$T/posts"
assert_eq "/computer/test-agent/config.xml 200
/job/Build/createItem 200
/job/Build/createItem 200
/job/Deploy/job/dev/job/DataPipeline/job/KafkaSetup/config.xml 200
/job/Deploy/job/staging/job/DataPipeline/job/KafkaSetup/config.xml 200" "$(cat "$T/posts")" "the POSTs of the update"
state
"$PY" - "$T/state.json" <<'EOF' || fail "what the update kept and changed (see above)"
import json, sys, xml.etree.ElementTree as ET
st = json.load(open(sys.argv[1]))
x = ET.fromstring(st["jobs"]["Deploy/staging/DataPipeline/KafkaSetup"]["config"])
tag = [p for p in x.iter("hudson.model.StringParameterDefinition") if p.findtext("name") == "github_release_tag"]
assert tag and tag[0].findtext("defaultValue") == "release-3.0.0", "the new default"
assert x.findtext("disabled") == "true", "the administrator's disabled flag was dropped"
assert x.find("properties/jenkins.model.BuildDiscarderProperty") is not None, "the build discarder was dropped"
assert len(x.findall("properties/hudson.model.ParametersDefinitionProperty")) == 1, "parameters twice"
n = st["nodes"]["test-agent"]
assert n["numExecutors"] == 5, n
assert n["temporarilyOffline"] is True and n["offlineCause"][1] == "draining", \
    "the node's offline cause was lost by the update: %r" % n
EOF
pass "an update posts only what changed, keeps the node's offline cause, a job's other properties and its disabled flag"

# ---- an item of another kind in the way: named, the others still synced, exit 1
cat > "$T/freestyle.xml" <<'XML'
<project><description>somebody else's</description></project>
XML
curl -sS --max-time 10 -o /dev/null -u agent:agent-token -X POST -H 'Content-Type: application/xml' \
  --data-binary @"$T/freestyle.xml" "$JURL/job/Build/createItem?name=Delta-runs"
sed 's/Gamma/Delta/g' "$T/jobs/gamma.xml" > "$T/jobs/delta.xml"
da sync
assert_eq 1 "$rc" "exit code when an item is in the way"
assert_contains "$T/out" "runs job Build/Delta-runs: it is a FreeStyle project (<project>), not an External Job"
assert_contains "$T/out" "created job Build/Delta"
assert_contains "$T/out" "unchanged node test-agent"
assert_contains "$T/out" "1 item failed"
rm "$T/jobs/delta.xml"
pass "an item of another kind in the way is named, the rest is synced, exit 1"

# ---- errors: permission, token, Jenkins down or failing
printf 'tok-reader\n' > "$T/token-reader"; chmod 600 "$T/token-reader"
write_sync_config
sed -i "s|^user = agent|user = reader|; s|^token_file = .*|token_file = $T/token-reader|" "$T/agent.conf"
da sync
assert_eq 77 "$rc" "exit code for a missing permission"
assert_contains "$T/out" "user 'reader' lacks the Jenkins permission hudson.model.Item.Configure"
pass "a missing permission is named (Item.Configure to read a config.xml)"

cat > "$T/jobs/epsilon.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Extra/Epsilon" display-name="Epsilon">
  <steps><step name="noop"><arg>true</arg></step></steps>
</operation>
XML
printf 'tok-nocreate\n' > "$T/token-nocreate"; chmod 600 "$T/token-nocreate"
write_sync_config
sed -i "s|^user = agent|user = nocreate|; s|^token_file = .*|token_file = $T/token-nocreate|" "$T/agent.conf"
da sync
assert_eq 77 "$rc" "exit code without Item.Create"
assert_contains "$T/out" "user 'nocreate' lacks the Jenkins permission hudson.model.Item.Create"
assert_contains "$T/out" "creating Extra"
rm "$T/jobs/epsilon.xml"
pass "a missing Item.Create is named with the item being created"

printf 'not-the-token\n' > "$T/token-bad"; chmod 600 "$T/token-bad"
write_sync_config
sed -i "s|^token_file = .*|token_file = $T/token-bad|" "$T/agent.conf"
da sync
assert_eq 77 "$rc" "exit code for a bad token"
assert_contains "$T/out" "$JURL"
assert_contains "$T/out" "refused the API token of user 'agent'"
assert_not_contains "$T/out" "not-the-token"
pass "a bad token names the user and the URL, never the token"

write_sync_config
faults '{"status503": 1, "match": "/job/Build/job/Beta/config.xml"}'
da sync
assert_eq 75 "$rc" "exit code when Jenkins answers 503 during the sync"
assert_contains "$T/out" "Jenkins answered 503"
assert_contains "$T/out" "/job/Build/job/Beta/config.xml"
faults '{}'
pass "a 5xx during the sync stops it with 75, naming the URL"

# A port that nobody listens on: retried for a bounded time, then 75.
DEAD=$(free_port)
write_sync_config
sed -i "s|^url = .*|url = http://127.0.0.1:$DEAD|" "$T/agent.conf"
da sync
assert_eq 75 "$rc" "exit code when Jenkins is unreachable"
assert_contains "$T/out" "127.0.0.1:$DEAD"
assert_contains "$T/out" "retrying"
assert_contains "$T/out" "Jenkins did not answer within 10 s"
pass "an unreachable Jenkins is retried for a bounded time, then exit 75 naming the URL"

write_sync_config
sed -i "/^token_file/d" "$T/agent.conf"
da sync
assert_eq 78 "$rc" "exit code without a token"
assert_contains "$T/out" "token_file"
pass "a missing token is a config error (78)"
