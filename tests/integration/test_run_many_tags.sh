# 10 000 tags in one repository: the mirror fetches them and one resolves.
. "$(dirname "$0")/lib.sh"

R=$T/repo
make_repo "$R"
head=$(git -C "$R" rev-parse HEAD)
for i in $(seq 1 10000); do echo "create refs/tags/rel-$i $head"; done | git -C "$R" update-ref --stdin
commit_version "$R" newest
git_q -C "$R" tag rel-10001
git -C "$R" pack-refs --all

cat > "$T/jobs/many.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Build/Many" display-name="Many">
  <repository url="$R"/>
  <parameters><param name="github_release_tag" default="rel-10001" ref="true"/></parameters>
  <steps><step name="show"><arg>cat</arg><arg>VERSION</arg></step></steps>
</operation>
XML
write_config

da run Build/Many
assert_eq 0 "$rc" "exit code with 10 000 tags"
assert_contains "$T/out" "newest"
da run Build/Many -p github_release_tag=rel-5000
assert_eq 0 "$rc" "exit code for an old tag"
assert_contains "$T/out" "first"
da run Build/Many -p github_release_tag=rel-100000
assert_eq 65 "$rc" "exit code for a missing tag among 10 000"
assert_contains "$T/out" "rel-10000"
pass "10 000 tags: fetched, resolved, nearest tags suggested"
