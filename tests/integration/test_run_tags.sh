# Release-tag resolution through the real binary: annotated and lightweight
# tags, a branch with the tag's name at another commit, a missing tag and an
# invalid one refused before anything runs.
. "$(dirname "$0")/lib.sh"

R=$T/repo
make_repo "$R"
git_q -C "$R" tag -a v1.0 -m "annotated one"
commit_version "$R" second
git_q -C "$R" tag light-2
commit_version "$R" third
git_q -C "$R" tag release-2.8.0
git_q -C "$R" checkout -b release-2.8.0 HEAD~2     # branch of the same name, other commit
commit_version "$R" on-the-branch
git_q -C "$R" checkout main

cat > "$T/jobs/show.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Deploy/{env}/DataPipeline/Show" display-name="Show">
  <repository url="file://$R"/>
  <parameters>
    <param name="github_release_tag" default="release-2.8.0" ref="true"/>
  </parameters>
  <steps>
    <step name="show" workdir="scripts"><arg>sh</arg><arg>-c</arg><arg>cd .. &amp;&amp; scripts/show.sh &amp;&amp; touch "\$STATE_DIR/ran"</arg></step>
  </steps>
</operation>
XML
write_config

da run Deploy/dev/DataPipeline/Show -p github_release_tag=v1.0
assert_eq 0 "$rc" "exit code for annotated tag"
assert_contains "$T/out" "version first"
assert_contains "$T/out" "annotated tag"
assert_contains "$T/out" "Finished: SUCCESS"
pass "annotated tag checks out its commit"

da run Deploy/dev/DataPipeline/Show -p github_release_tag=light-2
assert_eq 0 "$rc" "exit code for lightweight tag"
assert_contains "$T/out" "version second"
assert_contains "$T/out" "lightweight tag"
pass "lightweight tag"

da run Deploy/dev/DataPipeline/Show
assert_eq 0 "$rc" "exit code for the default tag"
assert_contains "$T/out" "version third"
assert_not_contains "$T/out" "on-the-branch"
assert_contains "$T/out" "both a tag"
pass "tag wins over the branch of the same name, and the log says so"

da run Deploy/dev/DataPipeline/Show -p github_release_tag=refs/heads/release-2.8.0
assert_eq 0 "$rc" "exit code for an explicit branch"
assert_contains "$T/out" "version on-the-branch"
pass "refs/heads/ picks the branch"

rm -f "$T/state/ran"
da run Deploy/dev/DataPipeline/Show -p github_release_tag=release-2.8.9
assert_eq 65 "$rc" "exit code for a missing tag"
assert_contains "$T/out" "file://$R"
assert_contains "$T/out" "release-2.8.0"
assert_contains "$T/out" "Finished: FAILURE"
[ ! -e "$T/state/ran" ] || fail "a step ran although the tag was missing"
pass "missing tag refused, naming the repository and the nearest tags"

for bad in '-rf' 'a..b' 'x y' '$(touch pwned)'; do
  da run Deploy/dev/DataPipeline/Show -p "github_release_tag=$bad"
  assert_eq 65 "$rc" "exit code for bad ref '$bad'"
  assert_contains "$T/out" "not a valid git ref name"
  [ ! -e "$T/state/ran" ] || fail "a step ran for bad ref '$bad'"
  [ ! -e pwned ] && [ ! -e "$T/pwned" ] || fail "bad ref '$bad' was executed"
done
# Nothing was created for them: no run log, no workspace.
[ -z "$(ls "$T/state/workspaces" 2>/dev/null)" ] || fail "workspaces left behind"
pass "invalid ref names refused before anything runs"

da run Deploy/prod/DataPipeline/Show
assert_eq 64 "$rc" "exit code for an env not served"
assert_contains "$T/out" "'prod' is not served"
pass "an environment the agent does not serve is refused"
