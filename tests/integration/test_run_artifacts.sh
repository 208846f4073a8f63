# A Build operation stores its output under state_dir keyed by operation and
# tag with its SHA-256; the Deploy operation for the same tag takes it.
. "$(dirname "$0")/lib.sh"

R=$T/repo
make_repo "$R"
git_q -C "$R" tag release-1.0
commit_version "$R" second
git_q -C "$R" tag release-2.0

cat > "$T/jobs/build.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Build/Thing" display-name="Thing">
  <repository url="$R"/>
  <parameters><param name="github_release_tag" default="release-2.0" ref="true"/></parameters>
  <steps>
    <step name="package" shell="true"><script>tar -cf thing.tar VERSION scripts</script></step>
  </steps>
  <outputs><output name="thing.tar" path="thing.tar"/></outputs>
</operation>
XML
cat > "$T/jobs/deploy.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Deploy/{env}/DataPipeline/Thing" display-name="Thing">
  <repository url="$R"/>
  <parameters>
    <param name="github_release_tag" default="release-2.0" ref="true"/>
    <param name="artifact_version" default="release-2.0"/>
  </parameters>
  <steps>
    <step name="unpack" workdir="incoming" shell="true"><script>tar -xOf thing.tar VERSION</script></step>
  </steps>
  <inputs><input operation="Build/Thing" name="thing.tar" dest="incoming/thing.tar" version="\${artifact_version}"/></inputs>
</operation>
XML
write_config

da run Deploy/dev/DataPipeline/Thing
assert_eq 65 "$rc" "exit code of a deploy before its build"
assert_contains "$T/out" "no artifact 'thing.tar' of Build/Thing for version 'release-2.0'"
pass "a deploy without its build's artifact says which build to run"

da run Build/Thing
assert_eq 0 "$rc" "exit code of the build"
stored=$T/state/artifacts/Build__Thing/release-2.0/thing.tar
[ -f "$stored" ] || fail "artifact not stored at $stored"
sha=$(sha256sum "$stored" | cut -d' ' -f1)
assert_contains "$stored.sha256" "$sha"
assert_contains "$T/out" "sha256 $sha"
pass "the build stores its output with its SHA-256"

da run Build/Thing -p github_release_tag=release-1.0
assert_eq 0 "$rc" "exit code of the older build"
da run Deploy/dev/DataPipeline/Thing
assert_eq 0 "$rc" "exit code of the deploy"
assert_contains "$T/out" "second"
da run Deploy/staging/DataPipeline/Thing -p artifact_version=release-1.0
assert_eq 0 "$rc" "exit code of a rollback deploy"
assert_contains "$T/out" "first"
pass "the deploy takes the build's artifact of the version it asks for"

echo corrupt > "$stored"
da run Deploy/dev/DataPipeline/Thing
assert_eq 65 "$rc" "exit code with a corrupt artifact"
assert_contains "$T/out" "corrupt"
pass "a corrupt artifact is refused"
