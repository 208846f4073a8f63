#!/usr/bin/env bash
# The demo: installs what is needed, builds dataops-agent, makes a local
# repository shaped like sunbird-data-pipeline (a lightweight tag
# release-2.8.0 and a branch of the same name at another commit, as
# upstream has), and runs operations from it with `dataops-agent run`:
# a Build that stores its artifact, the Deploy that takes it, a parallel
# data refresh of six pods, and a tag that does not exist.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
bin=$PWD/build/dataops-agent

D=$(mktemp -d /tmp/dataops-demo-XXXXXX)
trap 'rm -rf "$D"' EXIT
export GIT_AUTHOR_NAME=Demo GIT_AUTHOR_EMAIL=demo@example.com
export GIT_COMMITTER_NAME=Demo GIT_COMMITTER_EMAIL=demo@example.com
g() { git -c init.defaultBranch=master "$@" >/dev/null; }
say() { printf '\n\033[1m### %s\033[0m\n' "$*"; }

say "A local repository with release tags"
R=$D/sunbird-data-pipeline
g init "$R"
mkdir -p "$R/replay-scripts" "$R/ansible"
printf '#!/bin/sh\necho "replaying telemetry from $1"\n' > "$R/replay-scripts/replay.sh"
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
g -C "$R" tag -a v2.8 -m "annotated" HEAD~1
git -C "$R" for-each-ref --format='  %(refname)  %(objectname:short)' refs/tags refs/heads

mkdir -p "$D/jobs"
cat > "$D/jobs/build-data-replay.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<!-- Build/DataReplay: replay-scripts/Jenkinsfile zips replay-scripts/* -->
<operation path="Build/DataReplay" display-name="DataReplay">
  <function>Builds replay scripts</function>
  <description>Creates zip file for replay python scripts</description>
  <repository url="file://$R"/>
  <parameters>
    <param name="github_release_tag" default="release-2.8.0" ref="true"/>
  </parameters>
  <steps>
    <step name="package" shell="true" timeout="60">
      <script>tar -cvf replay_scripts.tar replay-scripts
printf '{"artifact_name":"replay_scripts","artifact_version":"%s","node_name":"%s"}\n' "\$github_release_tag" "\$NODE_NAME" > metadata.json
cat metadata.json</script>
    </step>
  </steps>
  <outputs>
    <output name="replay_scripts.tar" path="replay_scripts.tar"/>
    <output name="metadata.json" path="metadata.json"/>
  </outputs>
</operation>
XML
cat > "$D/jobs/deploy-data-replay.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<!-- Deploy/{env}/DataPipeline/DataReplayScript: takes the Build's artifact -->
<operation path="Deploy/{env}/DataPipeline/DataReplayScript" display-name="DataReplayScript">
  <repository url="file://$R"/>
  <parameters>
    <param name="github_release_tag" default="release-2.8.0" ref="true"/>
    <param name="artifact_version" default="release-2.8.0"/>
  </parameters>
  <steps>
    <step name="unpack" workdir="ansible" shell="true"><script>tar -xvf replay_scripts.tar</script></step>
    <step name="deploy" workdir="ansible" shell="true">
      <script>echo "deploying to \$env with ansible tree \$(cat VERSION)"; sh replay-scripts/replay.sh "\$env"</script>
    </step>
  </steps>
  <inputs>
    <input operation="Build/DataReplay" name="replay_scripts.tar" dest="ansible/replay_scripts.tar" version="\${artifact_version}"/>
  </inputs>
</operation>
XML
cat > "$D/jobs/data-refresh.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<!-- The data refresh: six data pods in parallel, each spun up, subset, bookmarked -->
<operation path="DataRefresh/DataPipeline" display-name="Data Pipeline">
  <steps>
    <step name="snapshot-production" shell="true"><script>echo "snapshot of Patients Prod"; sleep 0.3</script></step>
    <parallel name="pods" count="6">
      <branch name="prep{n}">
        <step name="spin-up" shell="true"><script>for p in 25 50 75 100; do echo "spin up $BRANCH: $p%"; sleep 0.25; done</script></step>
        <step name="subset" shell="true"><script>echo "subsetting $BRANCH"</script></step>
        <step name="bookmark" shell="true"><script>echo "bookmark $BRANCH-$(date +%Y%m%d) shared"</script></step>
      </branch>
    </parallel>
  </steps>
</operation>
XML
cat > "$D/agent.conf" <<CONF
[agent]
catalog = $D/jobs
state_dir = $D/state
envs = dev
[jenkins]
node = demo-agent
CONF

run() { say "dataops-agent run $*"; "$bin" --config "$D/agent.conf" run "$@" || echo "(exit code $?)"; }
say "dataops-agent jobs"
"$bin" --config "$D/agent.conf" jobs
run Build/DataReplay
run Deploy/dev/DataPipeline/DataReplayScript
run Build/DataReplay -p github_release_tag=v2.8
run Deploy/dev/DataPipeline/DataReplayScript -p github_release_tag=release-2.8.9
run DataRefresh/DataPipeline
say "Stored artifacts"
find "$D/state/artifacts" -type f | sed "s|$D/||"
say "Demo finished"
