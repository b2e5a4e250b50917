#!/usr/bin/env bash
# Installs dependencies, builds, builds the Debian package (FTPFS_DEB), runs every test suite,
# then a smoke run of the benchmark (scripts/bench.sh --quick).
#   scripts/test.sh [swift test arguments...]     e.g. --filter MountTests
# In CI (CI=true) missing prerequisites make tests fail instead of skipping.
# FTPFS_TEST_KEEP=1 keeps the tests' temporary files under /tmp/ftpfs-tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CI="${CI:-}"
started=$SECONDS
step() { echo; echo "==> $*"; }
# Only a run that reached the last line passed: one ended by a signal (Ctrl-C, a CI time limit)
# runs this trap with the last command's status, often 0.
current="setup"
summary() {
    local status=$? how
    how=$( (( status != 0 )) && echo "exit $status" || echo "stopped by a signal")
    echo
    if [[ -z $current ]]; then
        echo "==> test.sh: all steps passed in $(( SECONDS - started )) s (CI=${CI:-unset})"
    else
        echo "==> test.sh: FAILED during: $current ($how) after $(( SECONDS - started )) s" >&2
    fi
}
trap summary EXIT

# sudo resets PATH (Debian's sudoers has secure_path), and with it a toolchain the user put on
# their own PATH (swiftly's, /opt/swift/usr/bin, ...): ask that user's shell where swift is.
find_swift_of_sudo_user() {
    [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]] || return 0
    command -v swift >/dev/null && return 0
    local swift
    swift=$(timeout 20 runuser -u "$SUDO_USER" -- bash -lic 'command -v swift' </dev/null 2>/dev/null \
        | tail -n 1) || true
    if [[ $swift == /* && -x $swift ]]; then
        PATH=$PATH:${swift%/*}
        echo "test.sh: $swift, from $SUDO_USER's PATH (sudo reset PATH)"
    fi
}
find_swift_of_sudo_user

current="install-deps"; step "$current"
scripts/install-deps.sh

current="swift build"; step "$current"
swift build

# The Debian package the packaging tests install (Tests/MountTests/PackagingTests.swift).
current="Packaging/build-deb.sh"; step "$current"
FTPFS_DEB=$(Packaging/build-deb.sh --output .build-release/dist | tail -n 1)
export FTPFS_DEB

current="swift test"; step "$current"
# CI shows only the end of a run, so a failure's own lines are repeated after the last one.
test_log=$(mktemp /tmp/ftpfs-test-log.XXXXXX)
if ! swift test "$@" 2>&1 | tee "$test_log"; then
    echo
    echo "==> what failed (repeated from above):"
    scripts/test-failures.awk "$test_log" | head -n 200
    rm -f "$test_log"
    exit 1
fi
rm -f "$test_log"

# A smoke run of the benchmark with tiny sizes (about 30 s): every workload must run and check
# out against the server; then (about 15 s) the WAN mode's delay proxy, its self-check and the
# single operations behind it. Figures are not judged here. Skipped when only some tests were
# asked for.
if (( $# == 0 )); then
    current="scripts/bench.sh --quick"; step "$current"
    scripts/bench.sh --quick --ftpfs "$(swift build --show-bin-path)/ftpfs"
    current="scripts/bench.sh --quick --rtt 10 --only W1,W8"; step "$current"
    scripts/bench.sh --quick --rtt 10 --only W1,W8 --ftpfs "$(swift build --show-bin-path)/ftpfs"
fi
current=""
