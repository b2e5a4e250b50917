#!/usr/bin/env bash
# Installs what building and testing ftpfs need on Debian/Ubuntu (apt-get).
#   scripts/install-deps.sh          everything: build, tests, packaging (scripts/test.sh)
#   scripts/install-deps.sh --try    only building and the demo server (scripts/try.sh)
# Idempotent: prints one line and changes nothing when everything is present.
set -euo pipefail

# What the Swift toolchain itself needs on a Debian 12 that has only the toolchain unpacked
# (swift.org's list adds more, for the REPL and lldb, which building does not use).
toolchain=(
    libcurl4 libxml2 libsqlite3-0 libncurses6  # loaded by swift-build, swift-package, swift-driver
    gcc libc6-dev libstdc++-12-dev binutils    # the linker, crt files, C and C++ libraries swiftc links with
    git ca-certificates                        # SwiftPM clones the package dependencies
)
build=(
    libfuse3-dev fuse3           # build against libfuse3; fusermount3 for mounts
    libssl-dev pkg-config        # FTPS through the system's OpenSSL
)
demo=(
    python3 python3-pyftpdlib    # scripts/try.sh's server and the tests' (Tests/Servers/ftp_server.py)
)
tests=(
    vsftpd                       # test server (LIST only, real accounts)
    python3-openssl              # pyftpdlib's TLS handler
    openssl                      # test certificates
    curl                         # tests check the servers with curl
    passwd                       # useradd/chpasswd for vsftpd's test account
    coreutils                    # sha256sum for data set manifests
    rsync tar vim-tiny           # tools the mount tests run on the mountpoint
    dpkg-dev                     # Packaging/build-deb.sh: dpkg-shlibdeps (strip: binutils, above)
    man-db bsdextrautils         # packaging tests: man -w, man | col -b
    systemd                      # packaging tests: systemd-analyze verify (no running systemd needed)
    util-linux procps            # mount --fstab, unshare, setpriv; pgrep
)

packages=("${toolchain[@]}" "${build[@]}" "${demo[@]}")
case ${1:-} in
    --try) ;;
    "") packages+=("${tests[@]}") ;;
    *) echo "usage: scripts/install-deps.sh [--try]" >&2; exit 64 ;;
esac

installed() { [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]; }

missing=()
for package in "${packages[@]}"; do
    installed "$package" || missing+=("$package")
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
    vsftpd_was_installed=$(installed vsftpd && echo yes || echo no)
    echo "install-deps: installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    # The tests start their own vsftpd on loopback; do not leave the system
    # service we just installed listening on port 21.
    if [[ $vsftpd_was_installed == no ]] && installed vsftpd && command -v systemctl >/dev/null \
        && [[ -d /run/systemd/system ]]; then
        "${sudo[@]}" systemctl disable --now vsftpd >/dev/null 2>&1 || true
        echo "install-deps: disabled the vsftpd system service (the tests run their own)"
    fi
fi

# `command -v` is not enough: an unpacked toolchain is found but does not start without the
# libraries above.
if ! swift --version >/dev/null 2>&1; then
    cat >&2 <<'MSG'
install-deps: `swift` is not in PATH, or does not start. ftpfs needs Swift 6:
  install swiftly (https://www.swift.org/install/linux/) and run `swiftly install latest`,
  or unpack a toolchain from https://www.swift.org/download/ (e.g. to /opt/swift)
  and add its usr/bin to PATH.
MSG
    if [[ -n ${SUDO_USER:-} ]]; then
        echo "  (sudo resets PATH; to keep yours: sudo env \"PATH=\$PATH\" scripts/test.sh)" >&2
    fi
    command -v swift >/dev/null && swift --version >&2 || true
    exit 1
fi

echo "install-deps: everything ${1:+scripts/try.sh needs }is present"
