#!/usr/bin/env bash
# Benchmarks ftpfs against direct FTP clients on a local vsftpd, in one run, and prints the tables.
#   sudo scripts/bench.sh                 full sizes (1 GiB file, 10,000-file tree, ...) on loopback
#   sudo scripts/bench.sh --rtt 40        WAN mode: every client goes through a delay proxy adding 40 ms of
#                                         round trip (--bandwidth 1G caps it); sizes scale down to minutes
#   sudo scripts/bench.sh --quick         tiny sizes: a smoke run of every workload in well under a minute
#   sudo scripts/bench.sh --help          every option (sizes, --only W1,W8, --ftpfs PATH, --ftpfs-options,
#                                         --repeat N, --keep, --json FILE, --window)
# The ratios' baseline is one persistent ftplib session per connection; curl (one login per transfer)
# is an information column. W8 times single operations in ms, round trips and FTP commands.
# Compare runs saved with --json:  Benchmarks/compare.py BEFORE.json AFTER.json
# Without --ftpfs it builds the release binary first (swift build -c release --product ftpfs).
# The work lives in a temp dir under /tmp/ftpfs-bench, removed at the end unless --keep.
# The driver is Benchmarks/bench.py, the package Benchmarks/ftpbench/ (Python standard library,
# Debian's /usr/bin/python3). It makes what it needs itself (the account ftpfsbench, its PAM
# service, the data set), so it runs on a machine that has never seen the project.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)  # no cd: --ftpfs and --json paths stay relative to here

for arg in "$@"; do
    if [[ $arg == -h || $arg == --help ]]; then exec /usr/bin/python3 "$repo/Benchmarks/bench.py" --help; fi
done
if (( EUID != 0 )); then
    echo "bench.sh: run as root (it starts vsftpd with a local account, mounts, drops the page cache)" >&2
    exit 1
fi

# What the benchmark runs besides ftpfs itself (Debian package names).
declare -A need=([/usr/sbin/vsftpd]=vsftpd [/usr/bin/curl]=curl [/usr/bin/fusermount3]=fuse3
                 [/usr/bin/python3]=python3 [/usr/sbin/useradd]=passwd [/usr/bin/xargs]=findutils
                 [/usr/bin/openssl]=openssl)
missing=()
for path in "${!need[@]}"; do
    [[ -x $path ]] || missing+=("${need[$path]}")
done
if (( ${#missing[@]} > 0 )); then
    echo "bench.sh: installing ${missing[*]}"
    vsftpd_was_installed=$(dpkg-query -W -f='${db:Status-Status}' vsftpd 2>/dev/null || true)
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The benchmark starts its own vsftpd on loopback: do not leave the system service running.
    if [[ $vsftpd_was_installed != installed ]] && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
        systemctl disable --now vsftpd >/dev/null 2>&1 || true
    fi
fi

exec /usr/bin/python3 "$repo/Benchmarks/bench.py" "$@"
