#!/usr/bin/env bash
# The demo: what a Jenkins administrator and a release engineer see.
#
# Installs what is needed and builds dataops-agent; makes a local repository
# shaped like sunbird-data-pipeline (ansible playbooks, a lightweight tag
# release-2.8.0 and a branch of the same name at another commit, as upstream
# has); starts the Jenkins double (tests/doubles/jenkins) on loopback;
# `dataops-agent sync` creates the folders, trigger jobs, -runs jobs and the
# node (a second sync changes nothing); starts `dataops-agent agent`; then a
# "user" (scripts/demo_user.py) clicks Build with Parameters on each job of
# the Provision sequence for dev at release-2.8.0 and follows each console
# live in Jenkins, then one Kafka provision at a tag that does not exist.
# Then the second half: the Delphix engine double (tests/doubles/dddp) runs
# on loopback beside Jenkins, and the user triggers the data refresh
# DataRefresh/DataPipeline, which the same agent runs against the engine
# ([dddp] in its config): snapshot of production, masked master refresh,
# six data pods in parallel with their progress, and the table of pods and
# bookmarks, followed live in Jenkins. The agent is stopped with SIGTERM and
# everything (both doubles included) is cleaned up.
#
# ansible-playbook is not installed here: a stand-in on the agent's PATH
# prints what the playbook would do, from the checked-out tree, so the
# demo shows the real checkout, parameters, secrets-as-files and streaming.
# The data pods' subsetting step needs no stand-in: the catalog simulates it,
# as the workshop did, with a /bin/sh script of echo and sleep; a real
# subsetting command named there would get a stand-in in $D/bin like this one.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target dataops-agent >/dev/null
bin=$PWD/build/dataops-agent

D=$(mktemp -d /tmp/dataops-demo-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$D"
}
trap cleanup EXIT
export GIT_AUTHOR_NAME=Demo GIT_AUTHOR_EMAIL=demo@example.com
export GIT_COMMITTER_NAME=Demo GIT_COMMITTER_EMAIL=demo@example.com
g() { git -c init.defaultBranch=master "$@" >/dev/null; }
say() { printf '\n\033[1m### %s\033[0m\n' "$*"; }

say "A local sunbird-data-pipeline with release tags"
R=$D/sunbird-data-pipeline
g init "$R"
mkdir -p "$R/ansible/inventory/env"
touch "$R/ansible/inventory/env/.keep"
for pb in lpa_api_provision lpa_secor_provision lpa_spark_provision postgres-provision \
          dp_yarn_provision influxdb_provision dp_zookeeper_provision dp_kafka_provision \
          redis_provision; do
  printf -- '- hosts: "{{ remote | default(\x27%s\x27) }}"\n  roles: [%s]\n' "$pb" "${pb%_provision}" \
    > "$R/ansible/$pb.yml"
done
echo "release-2.8.0_RC15" > "$R/ansible/VERSION"
g -C "$R" add -A; g -C "$R" commit -m "release-2.8.0_RC15"
g -C "$R" tag release-2.8.0_RC15
g -C "$R" checkout -b release-2.8.0
echo "release-2.8.0 branch (later fixes)" > "$R/ansible/VERSION"
g -C "$R" commit -am "fix on the release branch"
g -C "$R" checkout master
echo "release-2.8.0" > "$R/ansible/VERSION"
g -C "$R" commit -am "release 2.8.0"
g -C "$R" tag release-2.8.0          # lightweight, as upstream
git -C "$R" for-each-ref --format='  %(refname)  %(objectname:short)' refs/tags refs/heads

# The catalog as shipped, with the upstream repository replaced by the local one.
mkdir -p "$D/jobs"
for f in jobs/*.xml; do
  sed "s|https://github.com/project-sunbird/sunbird-data-pipeline.git|file://$R|" "$f" > "$D/jobs/$(basename "$f")"
done

# The host's side: the private inventory, the vault password, a stand-in ansible-playbook.
mkdir -p "$D/private/ansible/inventory/dev/DataPipeline" "$D/bin"
printf '[all]\n10.0.1.11\n10.0.1.12\n' > "$D/private/ansible/inventory/dev/DataPipeline/hosts"
printf 'demo-vault-password\n' > "$D/vault_password"; chmod 600 "$D/vault_password"
cat > "$D/bin/ansible-playbook" <<'SH'
#!/bin/sh
# Demo stand-in for ansible-playbook: reads the same files the real one would.
pb=""; inv=""; vault=""
while [ $# -gt 0 ]; do
  case $1 in -i) inv=$2; shift;; --vault-password-file) vault=$2; shift;; --extra-vars|-v) [ "$1" = -v ] || shift;; *) pb=$1;; esac
  shift
done
[ -r "$vault" ] || { echo "ERROR! vault password file not readable"; exit 1; }
[ -f "$pb" ] || { echo "ERROR! the playbook: $pb could not be found"; exit 1; }
echo "PLAY [$(sed -n 's/.*hosts: //p' "$pb")] (ansible tree $(cat VERSION)) *****"
for task in "Gathering Facts" "install dependencies" "configure service" "start service"; do
  sleep 0.2
  echo "TASK [$task] ****"
  for h in $(grep -v '^\[' "$inv/hosts"); do echo "ok: [$h]"; done
done
echo "PLAY RECAP *****"
for h in $(grep -v '^\[' "$inv/hosts"); do echo "$h : ok=4 changed=2 unreachable=0 failed=0"; done
SH
chmod +x "$D/bin/ansible-playbook"

say "The Jenkins double on loopback"
token=demo-agent-token
/usr/bin/python3 tests/doubles/jenkins/jenkins_double.py --port 0 --port-file "$D/jd.port" \
  --users "dataops:$token,alice:alice-token" --version 2.479.3 > "$D/jenkins.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$D/jd.port" ] && break; sleep 0.1; done
JURL="http://127.0.0.1:$(cat "$D/jd.port")"
echo "Jenkins 2.479.3 (double) at $JURL"
printf '%s\n' "$token" > "$D/token"; chmod 600 "$D/token"

say "The Delphix engine double on loopback"
# The engine's own password (its side) and the agent's copy, mode 0600 as the agent demands.
printf 'demo-engine-password\n' > "$D/engine-users"
( umask 077; printf 'demo-engine-password\n' > "$D/dddp-password" )
# Short jobs (1 to 4 s, four progress events each) so that the pipeline takes ~12 s;
# the masked master's refresh shows its masking phases.
/usr/bin/python3 tests/doubles/dddp/dddp_double.py --port 0 --port-file "$D/dddp.port" \
  --password-file "$D/engine-users" --pods 6 --job-duration 2 --job-steps 4 > "$D/dddp.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$D/dddp.port" ] && break; sleep 0.1; done
EURL="http://127.0.0.1:$(cat "$D/dddp.port")"
curl -sS --fail --max-time 10 -X POST -H 'Content-Type: application/json' \
  --data '{"durations": {"DB_REFRESH": 4, "JETSTREAM_USER_CONTAINER_REFRESH": 3, "JETSTREAM_USER_BOOKMARK_CREATE": 1}}' \
  "$EURL/_double/mode" >/dev/null
echo "Delphix engine (double) at $EURL: dSource \"Patients Prod\", VDB \"Patients Masked Master\" (masked), template \"Patients\", data pods prep1..prep6"

cat > "$D/agent.conf" <<CONF
[jenkins]
url = $JURL
user = dataops
token_file = $D/token
node = demo-agent
labels = dataops-agent
[agent]
catalog = $D/jobs
state_dir = $D/state
envs = dev
executors = 2
poll_interval = 1s
[dddp]
url = $EURL
user = delphix_admin
password_file = $D/dddp-password
[secrets]
vault_password_file = $D/vault_password
CONF
# The operations' own default for the inventory is the host's /var/lib path.
PARAMS=(github_release_tag=release-2.8.0 "private_inventory=$D/private")

say "dataops-agent sync (creates the Jenkins side)"
"$bin" --config "$D/agent.conf" sync | sed -n '1,12p;$p'
say "dataops-agent sync again (nothing to change)"
"$bin" --config "$D/agent.conf" sync | tail -n 1

say "dataops-agent agent (in the background; its log is shown at the end)"
PATH="$D/bin:$PATH" "$bin" --config "$D/agent.conf" agent > "$D/agent.log" 2>&1 &
agent=$!
pids+=($agent)
sleep 1
/usr/bin/python3 - "$JURL" <<'PY'
import base64, json, sys, urllib.request
r = urllib.request.Request(sys.argv[1] + "/computer/demo-agent/api/json")
r.add_header("Authorization", "Basic " + base64.b64encode(b"alice:alice-token").decode())
n = json.load(urllib.request.urlopen(r))
print("node demo-agent: %s; labels %s; offline reason: %s" % (n["description"],
      " ".join(l["name"] for l in n["assignedLabels"]), n["offlineCauseReason"]))
PY

say "alice runs the Provision sequence for dev at release-2.8.0"
/usr/bin/python3 scripts/demo_user.py "$JURL" alice alice-token "$D/jobs/sequences.xml" provision dev "${PARAMS[@]}"

say "alice provisions Kafka at a tag that does not exist"
kafka=0
/usr/bin/python3 scripts/demo_user.py "$JURL" alice alice-token "$D/jobs/sequences.xml" \
  job:Provision/dev/DataPipeline/Kafka dev github_release_tag=release-2.8.9 "private_inventory=$D/private" || kafka=$?
# demo_user exits 1 for a run that ended other than SUCCESS, as this one must; 2 if it could not follow it.
[ "$kafka" = 1 ] || { echo "the provision at a missing tag should have ended FAILURE (demo_user exited $kafka)" >&2; exit 1; }

say "alice runs the data refresh DataRefresh/DataPipeline (the same agent, against the engine)"
/usr/bin/python3 scripts/demo_user.py "$JURL" alice alice-token "$D/jobs/sequences.xml" \
  job:DataRefresh/DataPipeline - "dsource=Patients Prod" || refresh=$?

say "Stopping the agent (SIGTERM: it drains, then exits)"
kill -TERM "$agent"
for _ in $(seq 1 100); do kill -0 "$agent" 2>/dev/null || break; sleep 0.1; done
wait "$agent" && echo "agent exited 0"
say "The agent's own log"
sed "s|$D|\$DEMO|g" "$D/agent.log"
say "Demo finished (the Jenkins and engine doubles and $D are removed)"
exit "${refresh:-0}"
