#!/usr/bin/env bash
# Try ftpfs for real on this machine:
#   scripts/try.sh          install what is needed, build, start a demo FTP server on
#                           127.0.0.1, mount it, and show what to do next
#   scripts/try.sh stop     unmount the demo and stop its server
# Everything lives under ${FTPFS_DEMO_DIR:-/tmp/ftpfs-demo}.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
demo=${FTPFS_DEMO_DIR:-/tmp/ftpfs-demo}
port=${FTPFS_DEMO_PORT:-2121}
user=demo
password=demo-password

# Unmounts the demo and stops its server. Fails when the mount stays (the server is stopped all
# the same), so that neither `stop` nor a new demo over the old mount pretends all went well.
stop_demo() {
    local status=0
    if grep -qs " $demo/mnt fuse" /proc/mounts; then
        if fusermount3 -u "$demo/mnt"; then
            echo "unmounted $demo/mnt"
        else
            echo "try.sh: $demo/mnt is still mounted (fusermount3 -u failed, see above)" >&2
            status=1
        fi
    fi
    if [[ -f $demo/server.pid ]] && kill -0 "$(cat "$demo/server.pid")" 2>/dev/null; then
        kill "$(cat "$demo/server.pid")" && echo "stopped the demo FTP server"
    fi
    rm -f "$demo/server.pid"
    return "$status"
}

if [[ ${1:-} == stop ]]; then
    stop_demo
    exit
fi

# 1. What building and running need (the test servers are not needed for a trial), and Swift.
scripts/install-deps.sh --try

# 2. Build (release: this is a trial of the real thing).
echo "==> building ftpfs (release; the first build takes a few minutes)"
swift build -c release --product ftpfs
ftpfs=$(swift build -c release --show-bin-path)/ftpfs

# 3. A demo server with a sample tree.
stop_demo
mkdir -p "$demo/files/docs/notes" "$demo/files/版本" "$demo/mnt"
echo "Hello from the ftpfs demo server." > "$demo/files/hello.txt"
printf 'Line %d of a longer text file.\n' $(seq 1 2000) > "$demo/files/docs/long.txt"
echo "Notes live here." > "$demo/files/docs/notes/readme.md"
echo "文件内容" > "$demo/files/版本/文件.txt"
[[ -f $demo/files/random-64M.bin ]] || head -c $((64 * 1024 * 1024)) /dev/urandom > "$demo/files/random-64M.bin"
sha256sum "$demo/files/random-64M.bin" | cut -d' ' -f1 > "$demo/random-64M.sha256"
/usr/bin/python3 "$repo/Tests/Servers/ftp_server.py" --host 127.0.0.1 --port "$port" --root "$demo/files" \
    --user "$user:$password" > "$demo/server.log" 2>&1 &
echo $! > "$demo/server.pid"
for _ in $(seq 1 50); do
    grep -q '^PORT' "$demo/server.log" 2>/dev/null && break
    sleep 0.1
done
grep -q '^PORT' "$demo/server.log" || { echo "the demo server did not start:"; cat "$demo/server.log"; exit 1; }

# 4. Mount. The password travels in the environment, not on the command line.
echo "==> mounting ftp://$user@127.0.0.1:$port/ on $demo/mnt"
FTPFS_PASSWORD=$password "$ftpfs" "ftp://$user@127.0.0.1:$port/" "$demo/mnt"

cat <<EOF

ftpfs is mounted on $demo/mnt (served by a local FTP server from $demo/files). Try:

  ls -la $demo/mnt
  ls -lR $demo/mnt
  cat $demo/mnt/hello.txt '$demo/mnt/版本/文件.txt'
  sha256sum $demo/mnt/random-64M.bin     # expect $(cat "$demo/random-64M.sha256")
  dd if=$demo/mnt/random-64M.bin bs=4k skip=5000 count=1 status=none | od -A d -t x1 | head -2
  df -h $demo/mnt; mount | grep ftpfs

Mount any server the same way:  $ftpfs ftp://user@host/path /some/dir   (add -f -d to watch the FTP traffic)
Unmount with:                    fusermount3 -u $demo/mnt
Stop the demo completely:        scripts/try.sh stop
EOF
