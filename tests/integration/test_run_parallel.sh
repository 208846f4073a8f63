# Parallel branches really run at the same time, their lines are prefixed,
# and one failing branch fails the run while the others finish.
. "$(dirname "$0")/lib.sh"

cat > "$T/jobs/pods.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<operation path="DataRefresh/Pods" display-name="Pods">
  <parameters>
    <param name="failing" default="none"/>
  </parameters>
  <steps>
    <step name="prepare" shell="true"><script>mkdir -p "$STATE_DIR/marks"</script></step>
    <parallel name="pods" count="4">
      <branch name="prep{n}">
        <step name="spin-up" shell="true"><script>
          # Written whole, then renamed: another branch must never count a start
          # whose time is not in it yet.
          date +%s%N > "$STATE_DIR/marks/$BRANCH.tmp"
          mv "$STATE_DIR/marks/$BRANCH.tmp" "$STATE_DIR/marks/$BRANCH.start"
          echo "spinning up $BRANCH (index $BRANCH_INDEX)"
          # Wait until every branch has started: only true parallelism gets past this
          # (at most 20 s: under valgrind the agent starts the branches slowly).
          for i in $(seq 1 400); do
            [ "$(ls "$STATE_DIR/marks" | grep -c start)" -ge 4 ] &amp;&amp; break
            sleep 0.05
          done
          date +%s%N > "$STATE_DIR/marks/$BRANCH.end"
          [ "$BRANCH" != "$failing" ] || { echo "pod broke"; exit 5; }
        </script></step>
        <step name="bookmark"><arg>echo</arg><arg>bookmarked ${BRANCH}</arg></step>
      </branch>
    </parallel>
  </steps>
</operation>
XML
write_config

da run DataRefresh/Pods
assert_eq 0 "$rc" "exit code of the parallel run"
for n in 1 2 3 4; do
  assert_contains "$T/out" "[prep$n] spinning up prep$n (index $n)"
  assert_contains "$T/out" "[prep$n] bookmarked prep$n"
done
# Every branch started before any branch ended: they overlapped.
latest_start=$(cat "$T"/state/marks/*.start | sort -n | tail -1)
earliest_end=$(cat "$T"/state/marks/*.end | sort -n | head -1)
[ "$latest_start" -le "$earliest_end" ] || fail "branches did not overlap"
pass "four branches run at once with prefixed lines"

rm -rf "$T/state/marks"
da run DataRefresh/Pods -p failing=prep3
assert_eq 5 "$rc" "exit code with one failed branch"
assert_contains "$T/out" "[prep3] pod broke"
for n in 1 2 4; do assert_contains "$T/out" "[prep$n] bookmarked prep$n"; done
assert_not_contains "$T/out" "[prep3] bookmarked"
assert_contains "$T/out" "1 of 4 branches failed"
grep -E '^ +prep3 +FAILURE' "$T/out" >/dev/null || fail "results table does not show prep3 FAILURE"
pass "a failing branch fails the run; the others finish"
