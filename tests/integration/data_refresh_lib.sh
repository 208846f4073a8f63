# data_refresh_lib.sh - what the test_data_refresh*.sh scripts share (not a
# test itself: CMake runs only test_*.sh). Sourced first by each of them; it
# sources lib.sh and the engine double's helpers (../doubles/dddp/dddp.sh):
#   data_refresh_engine [double options...]  the engine double, with jobs of
#       0.3 s unless the options say otherwise, and the real Data Pipeline
#       operation in the test's catalog; $T/dddp.conf holds its [dddp] lines
#   data_refresh_setup [double options...]   the same, and write_config with
#       that [dddp] section, for a test that runs the agent by itself
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../doubles/dddp/dddp.sh"

data_refresh_engine() {
  dddp_start --job-duration 0.3 "$@"
  dddp_catalog
}

data_refresh_setup() {
  data_refresh_engine "$@"
  write_config "$(cat "$T/dddp.conf")"
}
