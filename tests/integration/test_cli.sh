# The command line: jobs, check, errors in config and catalog, --help,
# --version, and secrets from files.
. "$(dirname "$0")/lib.sh"

R=$T/repo
make_repo "$R"
git_q -C "$R" tag v1

cat > "$T/jobs/a.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Deploy/{env}/DataPipeline/Alpha" display-name="Alpha">
  <repository url="$R"/>
  <parameters><param name="github_release_tag" default="v1" ref="true"/></parameters>
  <steps>
    <step name="use-secret" shell="true">
      <secret name="vault_password" env="VAULT_PASSWORD_FILE" as="file"/>
      <script>echo "vault file: \$VAULT_PASSWORD_FILE"; test "\$(wc -c &lt; "\$VAULT_PASSWORD_FILE")" -eq 13</script>
    </step>
  </steps>
</operation>
XML
cat > "$T/jobs/b.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Build/Beta" display-name="Beta">
  <steps><step name="noop"><arg>true</arg></step></steps>
</operation>
XML
printf 's3cr3t-vault\n' > "$T/vault"
chmod 600 "$T/vault"
write_config "[secrets]" "vault_password_file = $T/vault"

"$DA_BIN" --version | grep -qE '^dataops-agent [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
"$DA_BIN" --help | grep -q 'run JOB' || fail "--help does not describe run"
pass "--version and --help"

da jobs
assert_eq 0 "$rc" "exit code of jobs"
assert_eq "Build/Beta
Deploy/dev/DataPipeline/Alpha
Deploy/staging/DataPipeline/Alpha" "$(cat "$T/out")" "jobs output"
pass "jobs lists one Jenkins path a line, {env} expanded for the served envs"

da check
assert_eq 0 "$rc" "exit code of check"
assert_contains "$T/out" "2 operations"
assert_contains "$T/out" "1 of 1 repositories reachable"
assert_contains "$T/out" "every secret the catalog asks for is configured"
grep -qE "^cgroups: (/.*: ok \(each step in a cgroup of its own\)|not used \(.*\): steps run in process groups)$" "$T/out" ||
  fail "check says nothing of cgroups: $(cat "$T/out")"
# Other tests may be running a check right now: only a dead check's cgroup is a leftover.
for d in $(find /sys/fs/cgroup -maxdepth 3 -name "dataops-check-*" 2>/dev/null); do
  kill -0 "${d##*-}" 2>/dev/null || fail "a check left its cgroup $d behind"
done
pass "check validates config, catalog and secrets, says whether steps get cgroups, and reaches the repository"

write_config "[secrets]" "vault_password_file = $T/vault" "[agent]" "cgroup = /nonexistent/cg"
da check
assert_eq 78 "$rc" "exit code of check with a cgroup directory that is not there"
assert_contains "$T/out" "cgroups: FAILED: [agent] cgroup: /nonexistent/cg"
write_config "[secrets]" "vault_password_file = $T/vault"
pass "check refuses a cgroup setting that cannot work, naming it"

write_config
da check
assert_eq 78 "$rc" "exit code of check with a missing secret"
assert_contains "$T/out" "Deploy/{env}/DataPipeline/Alpha step 'use-secret' needs 'vault_password'"
write_config "[secrets]" "vault_password_file = $T/vault"
pass "check names a secret the catalog needs and the config lacks"

da run Deploy/dev/DataPipeline/Alpha
assert_eq 0 "$rc" "exit code with a secret file"
assert_contains "$T/out" "vault file: $T/vault"
assert_not_contains "$T/out" "s3cr3t-vault"
pass "a step gets the secret file it declares"

chmod 644 "$T/vault"
da run Deploy/dev/DataPipeline/Alpha
assert_eq 65 "$rc" "exit code with a group-readable secret"
assert_contains "$T/out" "$T/vault"
assert_not_contains "$T/out" "s3cr3t-vault"
pass "a secret file readable by others is refused"

# Bad config: file, line and key.
printf '[agent]\nexecutors = lots\n' > "$T/bad.conf"
DA_CONF=$T/bad.conf da jobs
assert_eq 78 "$rc" "exit code with a bad config"
assert_contains "$T/out" "bad.conf:2"
assert_contains "$T/out" "executors"
printf '[agent]\ncolour = blue\n' > "$T/bad.conf"
DA_CONF=$T/bad.conf da jobs
assert_eq 78 "$rc" "exit code with an unknown key"
assert_contains "$T/out" "bad.conf:2"
assert_contains "$T/out" "colour"
DA_CONF=$T/missing.conf da jobs
assert_eq 78 "$rc" "exit code with a missing named config"
assert_contains "$T/out" "missing.conf"
pass "config errors name the file, the line and the key"

# Bad catalog: file and line.
printf '<?xml version="1.0"?>\n<operation path="Build/Gamma">\n  <steps>\n    <stepp name="x"/>\n  </steps>\n</operation>\n' > "$T/jobs/c.xml"
da jobs
assert_eq 78 "$rc" "exit code with a bad catalog"
assert_contains "$T/out" "c.xml:4"
rm "$T/jobs/c.xml"
pass "catalog errors name the file and the line"

da run Build/Nope
assert_eq 64 "$rc" "exit code for an unknown job"
assert_contains "$T/out" "no operation 'Build/Nope'"
da frobnicate
assert_eq 64 "$rc" "exit code for an unknown command"
pass "usage errors"

# Flags override the file; environment variables too.
da --envs prod jobs
assert_contains "$T/out" "Deploy/prod/DataPipeline/Alpha"
assert_not_contains "$T/out" "Deploy/dev/DataPipeline/Alpha"
DATAOPS_AGENT_ENVS=qa da jobs
assert_contains "$T/out" "Deploy/qa/DataPipeline/Alpha"
pass "flags and DATAOPS_* variables override the file"
