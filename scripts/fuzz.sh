#!/usr/bin/env bash
# Fuzzes the FTPProtocol parsers (replies, PASV/EPSV, LIST, MLSD, MLST, 257, time-vals) with
# libFuzzer for a fixed time, and fails on a crash, a hang or a broken invariant.
#
#   scripts/fuzz.sh [seconds] [extra libFuzzer flags...]     (default: 60 seconds)
#
# The target is the small package in Fuzz/, which compiles the real Sources/FTPProtocol through a
# symlink, so the main package is not touched. It is optimized but built with
# `-assert-config Debug`: Swift then checks every unsafe-buffer subscript, so an out-of-bounds
# read is a crash, not a silent misread.
# Inputs that crash or hang are saved under Fuzz/.build/findings/; reproduce one with
#   SWIFT_BACKTRACE=enable=no Fuzz/.build/release/ProtocolFuzzer Fuzz/.build/findings/crash-<hash>
set -euo pipefail

duration="${1:-60}"
shift || true
case "$duration" in
    '' | *[!0-9]*) echo "usage: $0 [seconds] [libFuzzer flags...]" >&2; exit 2 ;;
esac

fuzz_dir="$(cd "$(dirname "$0")/../Fuzz" && pwd)"
cd "$fuzz_dir"

# ld.gold fails on the libFuzzer runtime ("internal error in format_file_lineno"); lld links it.
swift build -c release -Xswiftc -sanitize=fuzzer -Xswiftc -use-ld=lld \
    -Xswiftc -assert-config -Xswiftc Debug

findings="$fuzz_dir/.build/findings"
mkdir -p "$findings"
# New inputs go to a scratch directory; the stored seed corpus stays small and unchanged.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# libFuzzer exits non-zero on a crash, a failed precondition, a timeout (an input that runs longer
# than -timeout seconds is a hang) or running out of memory; `set -e` passes that on. Swift's own
# backtracer is switched off so that libFuzzer's signal handler sees the crash and saves the input.
SWIFT_BACKTRACE=enable=no "$fuzz_dir/.build/release/ProtocolFuzzer" \
    -max_total_time="$duration" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -max_len=4096 \
    -print_final_stats=1 \
    -artifact_prefix="$findings/" \
    "$@" \
    "$scratch" "$fuzz_dir/corpus"
echo "fuzz.sh: no crash and no hang in ${duration} s"
