#!/usr/bin/env bash
# Installs what building and testing ftpfs need on Debian/Ubuntu (apt-get).
# Idempotent: prints one line and changes nothing when everything is present.
set -euo pipefail

packages=(
    libfuse3-dev fuse3           # build against libfuse3; fusermount3 for mounts
    libssl-dev pkg-config        # FTPS through the system's OpenSSL
    vsftpd                       # test server (LIST only, real accounts)
    python3 python3-pyftpdlib    # test server with quirks (Tests/Servers/ftp_server.py)
    python3-openssl              # pyftpdlib's TLS handler
    openssl                      # test certificates
    curl                         # tests check the servers with curl
    passwd                       # useradd/chpasswd for vsftpd's test account
    coreutils                    # sha256sum for data set manifests
    rsync tar vim-tiny           # tools the mount tests run on the mountpoint
    dpkg-dev binutils            # Packaging/build-deb.sh: dpkg-shlibdeps, strip
    man-db bsdextrautils         # packaging tests: man -w, man | col -b
    systemd                      # packaging tests: systemd-analyze verify (no running systemd needed)
    util-linux procps            # mount --fstab, unshare, setpriv; pgrep
)

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$package")
done

if (( ${#missing[@]} > 0 )); then
    if ! command -v apt-get >/dev/null; then
        echo "install-deps: apt-get not found; install these yourself: ${missing[*]}" >&2
        exit 1
    fi
    sudo=()
    if (( EUID != 0 )); then
        command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
        sudo=(sudo)
    fi
    vsftpd_was_installed=$(dpkg-query -W -f='${db:Status-Status}' vsftpd 2>/dev/null || true)
    echo "install-deps: installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    # The tests start their own vsftpd on loopback; do not leave the system
    # service we just installed listening on port 21.
    if [[ $vsftpd_was_installed != installed ]] && command -v systemctl >/dev/null \
        && [[ -d /run/systemd/system ]]; then
        "${sudo[@]}" systemctl disable --now vsftpd >/dev/null 2>&1 || true
        echo "install-deps: disabled the vsftpd system service (the tests run their own)"
    fi
fi

if ! command -v swift >/dev/null; then
    cat >&2 <<'MSG'
install-deps: `swift` is not in PATH. ftpfs needs Swift 6:
  install swiftly (https://www.swift.org/install/linux/) and run `swiftly install latest`,
  or unpack a toolchain from https://www.swift.org/download/ (e.g. to /opt/swift)
  and add its usr/bin to PATH.
MSG
    exit 1
fi

echo "install-deps: all build and test dependencies are present"
