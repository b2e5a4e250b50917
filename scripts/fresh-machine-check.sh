#!/usr/bin/env bash
# Runs the README's two commands on a Debian 12 that has never seen ftpfs: a throw-away chroot
# made from a cached debootstrap, with only the Swift toolchain (and the local copies of the
# Swift packages) brought in from this machine, and a fresh clone of the repository.
#
#   sudo scripts/fresh-machine-check.sh [options] [-- test.sh arguments...]
#
#   --only try|test    run one of the two commands (default: both, each on its own fresh root)
#   --ref COMMIT       what to clone (default: HEAD of the repository this script is in)
#   --repo PATH        the repository to clone from (default: the one this script is in)
#   --dir DIR          where the cache, the roots and the logs live (default: /var/tmp/ftpfs-fresh)
#   --keep             keep the root(s) for inspection (chroot DIR/runs/ID/NAME-root bash)
#   --refresh          debootstrap the pristine root again instead of using the cached one
#   --variant V        debootstrap variant: minbase (default; like a container image) or
#                      important (like a minimal installation)
#   --timeout S        seconds each command may take (default: 5400, CI's limit)
#   --sudo             run the test as the README has it, by newuser with sudo (sudo resets
#                      PATH), instead of as CI runs it, as root
#   -- ARGS            passed to scripts/test.sh (e.g. -- --filter MountTests: a quick check;
#                      test.sh then skips the benchmark smoke run)
#
# For each command: a copy of the pristine root (debootstrap with sudo and a first user,
# newuser, in the sudo group), with /proc, /sys, /dev, /dev/pts bind-mounted, /dev/fuse as
# Debian has it (0666), /etc/resolv.conf copied, /opt/swift and /opt/swift-packages
# bind-mounted read-only (git in the root reads github.com from the packages' copies, as on
# this machine), a clone of the repository in the home of the account that runs the command,
# then, with no standard input:
#   try:  as newuser (the README runs it without sudo; sudo needs no password here):
#         scripts/try.sh, a look at the demo mount, scripts/try.sh stop (the mount must be gone)
#   test: as root, as CI runs it: CI=true scripts/test.sh ARGS (--sudo: as newuser,
#         sudo CI=true scripts/test.sh ARGS)
# Logs go to DIR/runs/ID/ (outside the root); a summary is printed at the end and the exit
# status is non-zero when a command failed. Whatever happens (a failure, Ctrl-C), the processes
# running inside the root are ended and everything mounted under it is unmounted.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$script_dir/.." && pwd)
base=/var/tmp/ftpfs-fresh
ref=HEAD
only=""
keep=false
refresh=false
variant=minbase
timeout_seconds=5400
test_with_sudo=false
test_args=()
mirror=http://deb.debian.org/debian
suite=bookworm

# What is brought in from this machine: the toolchain a new user installs by hand, and the
# copies SwiftPM resolves github.com from (this machine's and CI's git say so in /etc/gitconfig).
swift_dir=/opt/swift
packages_dir=/opt/swift-packages
# Debian's PATH for root and for other users (/etc/profile), with the toolchain added at the end
# as a user does in ~/.profile.
root_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$swift_dir/usr/bin
user_path=/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games:$swift_dir/usr/bin
# The account of the new user who runs scripts/try.sh, as the README says, without sudo; a
# fresh installation gives the first user sudo (here without a password: there is no one to
# type it).
user=newuser

usage() { sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }
log() { echo "fresh-machine-check: $*" >&2; }
die() { log "$*"; exit 1; }

parse_arguments() {
    while (( $# > 0 )); do
        case $1 in
            --only) only=$2; [[ $only == try || $only == test ]] || die "--only takes try or test"; shift 2 ;;
            --ref) ref=$2; shift 2 ;;
            --repo) repo=$(cd "$2" && pwd); shift 2 ;;
            --dir) base=$2; shift 2 ;;
            --keep) keep=true; shift ;;
            --refresh) refresh=true; shift ;;
            --variant) variant=$2; [[ $variant == minbase || $variant == important ]] \
                           || die "--variant takes minbase or important"; shift 2 ;;
            --timeout) timeout_seconds=$2; shift 2 ;;
            --sudo) test_with_sudo=true; shift ;;
            --) shift; test_args=("$@"); break ;;
            -h|--help) usage; exit 0 ;;
            *) die "unknown argument $1 (see --help)" ;;
        esac
    done
    [[ $base == /* ]] || base=$(pwd)/$base
}

check_host() {
    (( EUID == 0 )) || die "run as root (debootstrap, chroot and mounts need it)"
    [[ -x $swift_dir/usr/bin/swift ]] || die "no Swift toolchain at $swift_dir (command -v swift: $(command -v swift || echo none))"
    [[ -d $packages_dir ]] || die "no $packages_dir (the local copies of the Swift packages)"
    [[ -c /dev/fuse ]] || die "no /dev/fuse on this machine"
    command -v debootstrap >/dev/null || install_debootstrap
}

install_debootstrap() {
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}

# ---- mounts and processes under a root --------------------------------------------------------

# Mount points at or below $1, deepest first (mountinfo escapes blanks as \040 and so on).
mounts_under() {
    local root=$1 mountpoint
    awk '{ print $5 }' /proc/self/mountinfo | while read -r mountpoint; do
        mountpoint=$(printf '%b' "$mountpoint")
        [[ $mountpoint == "$root" || $mountpoint == "$root"/* ]] && echo "$mountpoint"
    done | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-
}

# PIDs of processes whose root directory is $1 or below it: everything started in the chroot.
pids_in_root() {
    local root=$1 proc pid_root
    for proc in /proc/[0-9]*; do
        pid_root=$(readlink "$proc/root" 2>/dev/null) || continue
        [[ $pid_root == "$root" || $pid_root == "$root"/* ]] && echo "${proc#/proc/}"
    done
    return 0
}

# One line per process in the root, for the report of what a command left running.
describe_pids() {
    local pid
    for pid in "$@"; do
        echo "  $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)"
    done
}

# Ends every process in the root, by PID: TERM, then KILL after 10 s.
stop_processes() {
    local root=$1 signal pids waited
    for signal in TERM KILL; do
        mapfile -t pids < <(pids_in_root "$root")
        (( ${#pids[@]} > 0 )) || return 0
        kill -"$signal" "${pids[@]}" 2>/dev/null || true
        for (( waited = 0; waited < 100; waited++ )); do
            [[ -z $(pids_in_root "$root") ]] && return 0
            sleep 0.1
        done
    done
    log "processes still running in $root after SIGKILL:"
    describe_pids $(pids_in_root "$root") >&2
    return 1
}

# Unmounts everything at or below the root, deepest first; FUSE mounts with fusermount3 when
# it is here, anything that resists lazily.
unmount_all() {
    local root=$1 mountpoint fstype
    while read -r mountpoint; do
        [[ -n $mountpoint ]] || continue
        fstype=$(findmnt -n -o FSTYPE --mountpoint "$mountpoint" 2>/dev/null | tail -n 1 || true)
        if [[ $fstype == fuse* ]] && command -v fusermount3 >/dev/null; then
            fusermount3 -u -z "$mountpoint" 2>/dev/null || umount -l "$mountpoint" 2>/dev/null || true
        else
            umount "$mountpoint" 2>/dev/null || umount -l "$mountpoint" 2>/dev/null || true
        fi
    done < <(mounts_under "$root")
    if [[ -n $(mounts_under "$root") ]]; then
        log "still mounted under $root:"; mounts_under "$root" >&2
        return 1
    fi
}

# Deletes a root, but never through a mount (a bound /dev or /opt/swift): refuses while
# anything is mounted below it, and rm stays on one file system in any case.
remove_root() {
    local root=$1
    [[ -d $root ]] || return 0
    if [[ -n $(mounts_under "$root") ]]; then
        log "not removing $root: something is still mounted there"
        return 1
    fi
    rm -rf --one-file-system -- "$root"
}

# Refuses a root outside our directory: the functions that write into a root's /etc must never
# write into this machine's.
inside() {
    [[ $2 == "$1"/?* && $2 != *..* ]] || die "refusing to work on $2: not inside $1"
}

# Binds $1 onto $2 (made first), private so that mounts inside never propagate to the host.
bind() {
    local source=$1 target=$2; shift 2
    mkdir -p "$target"
    mount --bind --make-private "$@" "$source" "$target"
}

# ---- the pristine root ------------------------------------------------------------------------

# debootstrap's own default is the important priority.
debootstrap_variant() { [[ $variant == important ]] || echo "--variant=$variant"; }

pristine_tarball() { echo "$base/pristine/$suite-$variant.tar"; }

# What the cached tarball was made with: a change here makes a new one.
pristine_recipe() {
    echo "debootstrap $(debootstrap_variant) --include=sudo $suite $mirror"
    declare -f configure_like_an_installed_system
}

# Debootstraps Debian once and keeps it as a tarball: later runs unpack it in seconds.
make_pristine() {
    local tarball tree
    tarball=$(pristine_tarball)
    mkdir -p "$base/pristine"
    exec 8>"$tarball.lock"
    flock 8
    if [[ -f $tarball ]] && ! $refresh && [[ $(cat "$tarball.recipe" 2>/dev/null) == "$(pristine_recipe)" ]]; then
        return 0
    fi
    tree=$base/pristine/$suite-$variant.tree
    cleanup_paths+=("$tree")
    stop_processes "$tree" || true; unmount_all "$tree" || true; remove_root "$tree"
    log "debootstrap $suite ($variant) from $mirror into $tree (a few minutes, once)"
    debootstrap $(debootstrap_variant) --include=sudo "$suite" "$tree" "$mirror" >"$base/pristine/debootstrap.log" 2>&1 \
        || { tail -n 30 "$base/pristine/debootstrap.log" >&2; die "debootstrap failed (log: $base/pristine/debootstrap.log)"; }
    stop_processes "$tree" || true
    unmount_all "$tree"
    configure_like_an_installed_system "$tree"
    tar -C "$tree" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    pristine_recipe >"$tarball.recipe"
    remove_root "$tree"
    log "pristine root cached in $tarball"
}

# What an installed Debian 12 has and a bare debootstrap does not: the updates and security
# suites, /etc/hosts, and a first user with sudo. Package lists are left out (as in Debian's
# container images), so the project's scripts must run apt-get update themselves.
configure_like_an_installed_system() {
    local tree=$1
    inside "$base/pristine" "$tree"
    cat >"$tree/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${mirror%/debian}/debian-security $suite-security main
EOF
    printf '%s\n' "127.0.0.1	localhost" "::1	localhost ip6-localhost ip6-loopback" \
        "ff02::1	ip6-allnodes" "ff02::2	ip6-allrouters" >"$tree/etc/hosts"
    chroot "$tree" useradd --create-home --shell /bin/bash --groups sudo "$user"
    echo "$user ALL=(ALL) NOPASSWD: ALL" >"$tree/etc/sudoers.d/$user"
    chmod 0440 "$tree/etc/sudoers.d/$user"
    rm -rf "$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/archives/*.deb
}

# ---- one run ----------------------------------------------------------------------------------

# Unpacks the pristine root into $1 and brings in what a new user has besides Debian.
prepare_root() {
    local root=$1
    inside "$base/runs" "$root"
    mkdir -p "$root"
    tar -C "$root" --numeric-owner -xf "$(pristine_tarball)"
    # On a real machine / is a mount point; `unshare --propagation private` (the tests use it)
    # fails with EINVAL in a chroot whose root is a plain directory.
    bind "$root" "$root"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # The chroot shares this machine's host name (sudo looks it up).
    printf '127.0.1.1\t%s\n' "$(hostname)" >>"$root/etc/hosts"
    bind /proc "$root/proc"
    bind /sys "$root/sys"
    bind /dev "$root/dev"
    bind /dev/pts "$root/dev/pts"
    mount --make-private -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
    # What booting makes (systemd-tmpfiles): /run, a tmpfs with /run/lock in it, and /etc/mtab
    # (fusermount3 -u reads it, and fails for a user without it).
    mount --make-private -t tmpfs -o mode=755,nosuid,nodev run "$root/run"
    install -d -m 1777 "$root/run/lock"
    ln -sfn ../proc/self/mounts "$root/etc/mtab"
    # The new user put the toolchain on their PATH, as swift.org says, in ~/.profile.
    echo "PATH=\"\$PATH:$swift_dir/usr/bin\"" >>"$root/home/$user/.profile"
    bind_fuse_device "$root"
    bind "$swift_dir" "$root$swift_dir" -o ro
    bind "$packages_dir" "$root$packages_dir" -o ro
    touch "$root$swift_dir/.fresh-machine-check" 2>/dev/null && die "$root$swift_dir is writable"
    # git is not installed yet: the project's scripts must bring it. Its system configuration
    # is there already, as on this machine and CI's. The copies stand in for GitHub, so the new
    # user may read them though root owns them (git refuses "dubious ownership" otherwise).
    cat >"$root/etc/gitconfig" <<EOF
[url "$packages_dir/"]
	insteadOf = https://github.com/
	insteadOf = git@github.com:
	insteadOf = ssh://git@github.com/
[safe]
	directory = *
EOF
}

# /dev/fuse as Debian has it, crw-rw-rw- (this machine's may be root's only, which would keep
# the new user from mounting): a node of our own, bound over the chroot's /dev/fuse.
bind_fuse_device() {
    local root=$1 node=$run_dir/fuse-device
    [[ -c /dev/fuse ]] || die "no /dev/fuse on this machine"
    [[ -c $node ]] || mknod -m 0666 "$node" c "$(( 0x$(stat -c %t /dev/fuse) ))" "$(( 0x$(stat -c %T /dev/fuse) ))"
    mount --bind --make-private "$node" "$root/dev/fuse"
}

# The home of the account a command runs as, in the root.
home_of() { if [[ $1 == root ]]; then echo /root; else echo "/home/$1"; fi; }

# A fresh clone of the commit under test (not a copy of a work tree: nothing untracked comes),
# in the home of the account that runs the command.
clone_into() {
    local root=$1 commit=$2 account=$3 checkout
    checkout=$root$(home_of "$account")/ftpfs
    git clone --quiet --no-checkout "$repo" "$checkout"
    git -C "$checkout" checkout --quiet --detach "$commit"
    chroot "$root" chown -R "$account:" "$(home_of "$account")/ftpfs"
}

# chroot's arguments to run as $2 in root $1 with the environment a login gives (no LANG: a
# fresh system has no locale set).
chroot_as() {
    local root=$1 account=$2 path=$root_path
    if [[ $account != root ]]; then
        path=$user_path
        echo "--userspec=$account:$account --groups=$account,sudo"
    fi
    echo "$root /usr/bin/env -i HOME=$(home_of "$account") USER=$account LOGNAME=$account"
    echo "SHELL=/bin/bash TERM=dumb PATH=$path"
}

# Runs "$@" in the root as root with no standard input, its output appended to $2, within the
# time limit. In the background with `wait`, so that Ctrl-C or a TERM reaches our trap at once
# (bash runs traps only after a foreground command ends); the cleanup then ends what it left.
run_logged() {
    local root=$1 account=$2 log_file=$3; shift 3
    local status=0 offset
    touch "$log_file"
    offset=$(( $(stat -c %s "$log_file") + 1 ))
    # shellcheck disable=SC2046  # chroot_as gives words by design
    timeout --kill-after=30 "$timeout_seconds" chroot $(chroot_as "$root" "$account") "$@" \
        </dev/null >>"$log_file" 2>&1 &
    command_pid=$!
    # Progress: test.sh's step lines as they come; the rest is in the log.
    tail --pid="$command_pid" -c +"$offset" -f "$log_file" | grep --line-buffered -E '^==> ' \
        | sed -u 's/^/    /' >&2 &
    wait "$command_pid" || status=$?
    command_pid=""
    wait
    return "$status"
}

# Reports, then ends, what a command left running or mounted in the root.
check_leftovers() {
    local root=$1 log_file=$2 what=$3 pids mounts waited
    # Processes the command told to stop may take a few seconds (the tests' guards wait 3 s
    # between TERM and KILL); whatever runs after 15 s was left behind.
    for (( waited = 0; waited < 150; waited++ )); do
        [[ -z $(pids_in_root "$root") ]] && break
        sleep 0.1
    done
    mapfile -t pids < <(pids_in_root "$root")
    mounts=$(mounts_under "$root" | grep -vxE "$root(/(proc|sys|dev|dev/pts|dev/shm|dev/fuse|run|opt/swift|opt/swift-packages))?" || true)
    if (( ${#pids[@]} > 0 )); then
        { echo "LEFT RUNNING after $what:"; describe_pids "${pids[@]}"; } | tee -a "$log_file" >&2
        leftovers+=("$what left ${#pids[@]} process(es) running")
    fi
    if [[ -n $mounts ]]; then
        { echo "LEFT MOUNTED after $what:"; sed 's/^/  /' <<<"$mounts"; } | tee -a "$log_file" >&2
        leftovers+=("$what left $(wc -l <<<"$mounts") mount(s)")
    fi
}

# As the new user: scripts/try.sh, then a look at the mount as its message suggests, then
# scripts/try.sh stop.
run_try() {
    local root=$1 log_file=$2
    run_logged "$root" "$user" "$log_file" bash -c 'cd ~/ftpfs && scripts/try.sh' || return
    echo "==> fresh-machine-check: looking at the demo mount" >>"$log_file"
    run_logged "$root" "$user" "$log_file" bash -c '
        set -euo pipefail
        mnt=/tmp/ftpfs-demo/mnt
        grep -q " $mnt fuse" /proc/mounts || { echo "no FUSE mount on $mnt"; exit 1; }
        ls -la "$mnt"
        ls -lR "$mnt" >/dev/null
        cat "$mnt/hello.txt" "$mnt/版本/文件.txt"
        expected=$(cat /tmp/ftpfs-demo/random-64M.sha256)
        actual=$(sha256sum "$mnt/random-64M.bin" | cut -d" " -f1)
        [[ $actual == "$expected" ]] || { echo "random-64M.bin: sha256 $actual, expected $expected"; exit 1; }
        echo "written through the mount" >"$mnt/written.txt"
        cmp "$mnt/written.txt" /tmp/ftpfs-demo/files/written.txt
        echo "demo mount: listing, reads, checksum and a write are right"' || return
    echo "==> fresh-machine-check: scripts/try.sh stop" >>"$log_file"
    run_logged "$root" "$user" "$log_file" bash -c 'cd ~/ftpfs && scripts/try.sh stop' || return
    if grep -q " $root/tmp/ftpfs-demo/mnt " /proc/self/mountinfo; then
        echo "FAILED: scripts/try.sh stop left $root/tmp/ftpfs-demo/mnt mounted" | tee -a "$log_file" >&2
        return 1
    fi
    sleep 1  # the server and ftpfs exit after their signal and the unmount
    check_leftovers "$root" "$log_file" "scripts/try.sh stop"
}

# As CI runs it: as root, CI=true, no standard input; or as the README has it, with sudo.
run_test() {
    local root=$1 log_file=$2 sudo=""
    $test_with_sudo && sudo="sudo"
    run_logged "$root" "$(account_of test)" "$log_file" \
        bash -c 'cd ~/ftpfs && exec '"$sudo"' env CI=true scripts/test.sh "$@"' test.sh "${test_args[@]}"
}

# Who runs each command.
account_of() { if [[ $1 == try ]] || $test_with_sudo; then echo "$user"; else echo root; fi; }

# One command on its own fresh root: prepare, clone, run, record, clean up.
check_command() {
    local name=$1 commit=$2 root=$run_dir/$1-root log_file=$run_dir/$1.log
    local started=$SECONDS status=0 account
    account=$(account_of "$name")
    current_root=$root
    log "$name: preparing $root"
    prepare_root "$root"
    clone_into "$root" "$commit" "$account"
    log "$name: running as $account (log: $log_file)"
    {
        echo "==> fresh-machine-check: $name as $account on a fresh $suite ($variant) root, commit $commit"
        # shellcheck disable=SC2046
        echo "==> swift, before the project's scripts: $(chroot $(chroot_as "$root" "$account") swift --version \
            </dev/null 2>&1 | head -n 1)"
    } >>"$log_file"
    "run_$name" "$root" "$log_file" || status=$?
    [[ $name == test ]] && check_leftovers "$root" "$log_file" "scripts/test.sh"
    results+=("$(printf '%-5s %-8s %6s s  %s' "$name" "$( (( status == 0 )) && echo passed || describe_status "$status")" \
        "$(( SECONDS - started ))" "$log_file")")
    (( status == 0 )) || failed=true
    teardown "$root"
    current_root=""
}

describe_status() {
    case $1 in
        124|137) echo "TIMEOUT" ;;
        *) echo "FAILED($1)" ;;
    esac
}

teardown() {
    local root=$1
    [[ -n $root && -d $root ]] || return 0
    stop_processes "$root" || true
    unmount_all "$root" || return 1
    if $keep; then
        log "kept $root (chroot $root bash; remove it with rm -rf --one-file-system)"
    else
        remove_root "$root"
    fi
}

# On any exit, Ctrl-C included: end what runs in the current root and unmount everything.
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    set +e
    [[ -n ${command_pid:-} ]] && kill "$command_pid" 2>/dev/null
    if [[ -n ${current_root:-} ]]; then
        log "stopped (exit $status) while running in $current_root; its log is in ${run_dir:-$base}"
        teardown "$current_root"
    fi
    for path in "${cleanup_paths[@]}"; do
        stop_processes "$path"; unmount_all "$path"
    done
    [[ -n ${run_dir:-} ]] && rm -f "$run_dir/fuse-device"
    exit "$status"
}

print_summary() {
    local line
    {
        echo
        echo "fresh-machine-check: $suite ($variant), commit $commit, $(date -u '+%Y-%m-%d %H:%M UTC')"
        for line in "${results[@]}"; do echo "  $line"; done
        for line in "${leftovers[@]}"; do echo "  leftover: $line"; done
        echo "  logs: $run_dir"
    } | tee "$run_dir/summary.txt"
}

main() {
    parse_arguments "$@"
    check_host
    commit=$(git -C "$repo" rev-parse --verify "$ref^{commit}") || die "no commit $ref in $repo"
    current_root=""
    command_pid=""
    cleanup_paths=()
    results=()
    leftovers=()
    failed=false
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    make_pristine
    run_dir=$base/runs/$(date '+%Y%m%d-%H%M%S')-${commit:0:10}
    mkdir -p "$run_dir"
    local name
    for name in try test; do
        [[ -z $only || $only == "$name" ]] || continue
        check_command "$name" "$commit"
    done
    print_summary
    ! $failed
}

main "$@"
