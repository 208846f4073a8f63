# lib.sh - shared by the integration tests: a private temp dir, real git
# repositories, a test catalog and config, and assertions that say what
# they expected. Each test runs the real binary ($DA_BIN).
set -euo pipefail

: "${DA_BIN:?DA_BIN must name the dataops-agent binary}"
T=$(mktemp -d /tmp/da-it-XXXXXX)
[ -z "${KEEP_T:-}" ] || echo "keeping $T" >&2
export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=tester@example.com
export GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=tester@example.com
export GIT_CONFIG_NOSYSTEM=1 HOME="$T/home"
mkdir -p "$HOME" "$T/jobs" "$T/state"
# The agent's own variables must not come from the caller's environment.
unset $(env | sed -n 's/^\(DATAOPS_[A-Z_]*\)=.*/\1/p') 2>/dev/null || true

# DA_VALGRIND=1: every run of the binary goes through valgrind (memcheck);
# any error or definite leak fails the test at exit (vg_check, in the traps).
if [ -n "${DA_VALGRIND:-}" ]; then
  DA_REAL_BIN=$DA_BIN
  DA_BIN=$T/dataops-agent-valgrind
  printf '#!/bin/sh\nexec valgrind -q --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --log-file=%s/valgrind.%%%%p.log "%s" "$@"\n' \
    "$T" "$DA_REAL_BIN" > "$DA_BIN"
  chmod +x "$DA_BIN"
fi
vg_check() {
  local f bad=0
  [ -n "${DA_VALGRIND:-}" ] || return 0
  # "==pid==" lines are memcheck's findings; "--pid--" ones are its notes
  # (pidfd_open is unknown to valgrind 3.19: proc.c then polls with waitid).
  for f in "$T"/valgrind.*.log; do
    grep -q '^==[0-9]*==' "$f" 2>/dev/null || continue
    echo "--- valgrind: $f" >&2; grep '^==[0-9]*==' "$f" >&2; bad=1
  done
  return $bad
}
trap 'vg_check || { rm -rf "$T"; exit 1; }; [ -n "${KEEP_T:-}" ] || rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

assert_contains() { # FILE TEXT
  grep -qF -- "$2" "$1" || { echo "--- $1:" >&2; cat "$1" >&2; fail "expected '$2' in $1"; }
}
assert_not_contains() { # FILE TEXT (a missing FILE fails: it would hold nothing)
  [ -f "$1" ] || fail "no file $1 to look for '$2' in"
  if grep -qF -- "$2" "$1"; then echo "--- $1:" >&2; cat "$1" >&2; fail "did not expect '$2' in $1"; fi
}
assert_eq() { # EXPECTED ACTUAL WHAT
  [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

# within SECS CMD...: CMD succeeds within SECS s (tried every 0.1 s, then once more).
within() {
  local i
  for ((i = 0; i < $1 * 10; i++)); do "${@:2}" && return 0; sleep 0.1; done
  "${@:2}"
}

# gone PID: no such process (a zombie still counts as there: its parent has not reaped it).
gone() { ! kill -0 "$1" 2>/dev/null; }
# dead PID: the process is gone or a zombie (dead, whoever reaps it).
dead() { gone "$1" || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

git_q() { git -c init.defaultBranch=main "$@" >/dev/null 2>&1; }

# A repository at $1 whose README says which commit it is.
make_repo() {
  local dir=$1
  git_q init "$dir"
  echo "first" > "$dir/VERSION"
  mkdir -p "$dir/scripts"
  printf '#!/bin/sh\necho "version $(cat VERSION)"\n' > "$dir/scripts/show.sh"
  chmod +x "$dir/scripts/show.sh"
  git_q -C "$dir" add -A
  git_q -C "$dir" commit -m first
}

commit_version() { # DIR TEXT
  echo "$2" > "$1/VERSION"
  git_q -C "$1" commit -am "$2"
}

write_config() { # extra lines appended
  cat > "$T/agent.conf" <<CONF
[agent]
catalog = $T/jobs
state_dir = $T/state
envs = dev, staging
[git]
cache_dir = $T/cache
[jenkins]
node = test-agent
CONF
  [ $# -eq 0 ] || printf '%s\n' "$@" >> "$T/agent.conf"
}

# Run the agent with $T/agent.conf (or $DA_CONF); stdout+stderr to $T/out, exit code to $rc.
da() {
  set +e
  "$DA_BIN" --config "${DA_CONF:-$T/agent.conf}" "$@" > "$T/out" 2>&1
  rc=$?
  set -e
}
