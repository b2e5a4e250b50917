#!/usr/bin/env bash
# Fetches ProFTPD with mod_tls from Debian and unpacks it into a directory, without installing
# it: proftpd-core conflicts with vsftpd (both provide ftp-server), and the tests need both.
# The shared libraries it links against are installed with apt-get (they conflict with nothing).
#
#   Tests/Servers/fetch-proftpd.sh [DIR]      (default: /var/cache/ftpfs-tests/proftpd)
#
# Prints DIR on success; DIR/usr/sbin/proftpd is the server, DIR/usr/lib/proftpd its modules.
# Idempotent, and safe to run from several test processes at once (flock). Needs root and
# Debian's package mirrors.
set -euo pipefail

dir=${1:-${FTPFS_PROFTPD_DIR:-/var/cache/ftpfs-tests/proftpd}}
ready() { [[ -x $dir/usr/sbin/proftpd && -f $dir/usr/lib/proftpd/mod_tls.so ]]; }
missing_libraries() { ldd "$dir/usr/sbin/proftpd" "$dir/usr/lib/proftpd/mod_tls.so" 2>/dev/null | grep -c "not found" || true; }

if ready && [[ $(missing_libraries) == 0 ]]; then
    echo "$dir"
    exit 0
fi
if (( EUID != 0 )); then
    echo "fetch-proftpd: run as root (apt-get installs ProFTPD's libraries)" >&2
    exit 1
fi

mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock -w 600 9 || { echo "fetch-proftpd: another fetch holds $dir.lock" >&2; exit 1; }

packages=(proftpd-core proftpd-mod-crypto)  # mod_tls.so is in proftpd-mod-crypto
if ! ready; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    chmod 755 "$work"  # apt-get download runs as _apt when it can
    cd "$work"
    if ! apt-get download "${packages[@]}" >download.log 2>&1; then
        # A fresh container may have no package lists yet.
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        apt-get download "${packages[@]}" >download.log 2>&1 || { cat download.log >&2; exit 1; }
    fi
    rm -rf unpacked
    for deb in ./*.deb; do dpkg -x "$deb" unpacked; done
    # The libraries the packages depend on (libssl3, libsodium23, libmemcached11, ...), not the
    # packages' other dependencies (adduser, ucf: for installing, which we do not do).
    libraries=$(for deb in ./*.deb; do dpkg-deb -f "$deb" Depends; done | tr ',' '\n' \
        | sed -E 's/\(.*\)//; s/\|.*//; s/^ +//; s/ +$//' | grep -E '^(lib|zlib)' | sort -u)
    missing=()
    for library in $libraries; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$library" 2>/dev/null || true)
        [[ $status == installed ]] || missing+=("$library")
    done
    if (( ${#missing[@]} > 0 )); then
        echo "fetch-proftpd: installing ${missing[*]}" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    rm -rf "$dir.new"
    mv unpacked "$dir.new"
    rm -rf "$dir"
    mv "$dir.new" "$dir"
fi

if [[ $(missing_libraries) != 0 ]]; then
    echo "fetch-proftpd: libraries still missing:" >&2
    ldd "$dir/usr/sbin/proftpd" "$dir/usr/lib/proftpd/mod_tls.so" | grep "not found" >&2
    exit 1
fi
echo "$dir"
