# Disk space: below [agent] min_free_mb the agent claims nothing and says
# so; when the disk fills during a run, the run fails with a clear message
# in its record, and the agent claims nothing more until there is room.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jenkins_lib.sh"

cat > "$T/jobs/big.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<operation path="Provision/{env}/DataPipeline/Big" display-name="Big">
  <parameters><param name="n" default="0"/><param name="kib" default="1"/></parameters>
  <steps><step name="print" shell="true"><script>
    echo "run $n starts"
    head -c "$(( kib * 1024 ))" /dev/zero | tr '\0' 'x' | fold -w 100
    echo "run $n ends"
  </script></step></steps>
</operation>
XML
start_jenkins
JOB_PARAMS="n kib" create_job_tree Provision/dev/DataPipeline/Big
RUNS="s['jobs']['Provision/dev/DataPipeline/Big-runs']['runs']"

# 1. min_free_mb larger than the disk: nothing is claimed, the node says why.
agent_config "min_free_mb = 1048576"
start_agent
q=$(trigger Provision/dev/DataPipeline/Big n=1)
wait_log 10 "claiming nothing until there is room"
sleep 1
assert_eq "True" "$(jpy "$q in [i['id'] for i in s['queue']]")" "the item stays queued without room"
wait_for 10 "s['nodes']['test-agent']['offlineCause'][1] == 'idle: waiting for disk space in state_dir'" ||
  fail "node message without room: $(jpy "s['nodes']['test-agent']['offlineCause']")"
stop_agent
sed -i 's/^min_free_mb = .*/min_free_mb = 1/' "$T/agent.conf"
start_agent
wait_for 20 "len($(rec $q)) == 1" || fail "not claimed once there was room"
assert_eq "SUCCESS" "$(jpy "$(rec $q)[0]['result']")" "result once there was room"
stop_agent
pass "below min_free_mb nothing is claimed and the node says why"

# 1b. Spool space is bounded: with keep_runs_mb = 0 a recorded run's spool goes at the next pass.
printf 'keep_runs_mb = 0\nclaim_reconcile = 1s\n' >> "$T/agent.conf"
start_agent
q=$(trigger Provision/dev/DataPipeline/Big n=11 kib=64)
wait_for 20 "len($(rec $q)) == 1" || fail "run 11 not recorded"
no_spool() { ! ls "$T"/state/runs/*-q"$1"-*.log >/dev/null 2>&1; }
within 10 no_spool "$q" || fail "the spool of a recorded run was kept: $(ls "$T"/state/runs/*-q"$q"-*.log)"
wait_log 10 "removed the spools of"
stop_agent
sed -i '/^keep_runs_mb = 0$/d; /^claim_reconcile = 1s$/d' "$T/agent.conf"
pass "the spools of recorded runs are removed beyond keep_runs_mb"

# 2. The disk fills during a run (a 4 MiB tmpfs state_dir; needs mount, else skipped).
mkdir -p "$T/small"
if ! mount -t tmpfs -o size=4m tmpfs "$T/small" 2>/dev/null; then
  echo "skip - disk full during a run: cannot mount a tmpfs here"
  exit 0
fi
trap 'for p in "${JD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; umount -l "$T/small" 2>/dev/null; vg_check || { rm -rf "$T"; exit 1; }; [ -n "${KEEP_T:-}" ] || rm -rf "$T"' EXIT
sed -i "s|^state_dir = .*|state_dir = $T/small/state|" "$T/agent.conf"
start_agent
q=$(trigger Provision/dev/DataPipeline/Big n=2 kib=8192)
wait_for 30 "len($(rec $q)) == 1" || { cat "$T/agent.log"; fail "the run on a full disk was not recorded"; }
assert_eq "FAILURE" "$(jpy "$(rec $q)[0]['result']")" "result of a run that filled the disk"
jpy "$(rec $q)[0]['log']" > "$T/log2"
assert_contains "$T/log2" "run 2 starts"
assert_contains "$T/log2" "the run's log could not be written on node test-agent"
assert_contains "$T/log2" "No space left on device"
q3=$(trigger Provision/dev/DataPipeline/Big n=3)
wait_log 10 "claiming nothing until there is room"
sleep 1   # a few polls (200 ms) after the trigger: time enough to claim it wrongly
assert_eq "True" "$(jpy "$q3 in [i['id'] for i in s['queue']]")" "nothing claimed on a full disk"
rm -f "$T"/small/state/runs/*q"$q"-*.log
wait_for 20 "len($(rec $q3)) == 1" || { cat "$T/agent.log"; fail "not claimed again after room was made"; }
stop_agent
pass "a run that fills the disk fails with the reason in its record; claims wait for room"
