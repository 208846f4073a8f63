#!/usr/bin/env bash
# Installs every build, test and demo dependency from Debian's packages.
# Safe to run again: apt-get does nothing for what is already there.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config git ca-certificates curl   # curl: the tests talk to the doubles with it
  libcurl4-openssl-dev libssl-dev libxml2-dev libjansson-dev libgit2-dev libcmocka-dev
  libxml2-utils     # xmllint, for checking the catalog by hand and in tests
  valgrind          # the integration tests run once more under memcheck
  python3           # /usr/bin/python3 runs the test doubles
  python3-pytest python3-jenkins jenkins-job-builder   # tests of the Jenkins double, cross-checked with real clients
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
