import Foundation
import Testing
import TestSupport

/// Changing files through the mount with ordinary tools, checked on the server's disk.
///
/// One writable server of each kind; every test works in a directory of its own.
enum WriteFixture {
    static let pyftpdlib = shared(.pyftpdlib)
    static let vsftpd = shared(.vsftpd)

    private static func shared(_ kind: StandardServer) -> SharedTestServer {
        SharedTestServer {
            let root = try TestDirectory.make("write-\(kind)")
            return try kind.start(root: root)
        }
    }

    static func server(_ kind: StandardServer) throws -> FTPTestServer {
        try TestRequirements.require(kind.requirement, .fuse)
        return try (kind == .pyftpdlib ? pyftpdlib : vsftpd).get()
    }

    /// Runs a bash script with `$M` set to `directory` under the mountpoint (created first) and
    /// `$S` to the same directory on the server's disk; fails the test with the script's stderr.
    @discardableResult
    static func script(_ body: String, mount: TestMount, server: FTPTestServer, directory: String,
                       timeout: Duration = .seconds(300), sourceLocation: SourceLocation = #_sourceLocation) throws -> ShellResult
    {
        // The ERR trap names the step that failed: a failing `test` prints nothing of its own.
        let script = "set -eEuo pipefail\ntrap 'echo \"line $((LINENO - 5)) of the script failed: $BASH_COMMAND\" >&2' ERR\n"
            + "M=\(Shell.quote(mount.path(directory)))\nS=\(Shell.quote(server.path(directory)))\n"
            + "mkdir -p \"$M\"\n" + body
        let result = try Shell.run(["bash", "-c", script], timeout: timeout)
        #expect(result.status == 0, "script failed (\(result.status)):\n\(result.stderr)", sourceLocation: sourceLocation)
        return result
    }
}

@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib, .vsftpd)))
struct WriteMountTests {
    @Test(arguments: StandardServer.allCases)
    func redirectionsCreateAndAppend(_ kind: StandardServer) throws {
        let server = try WriteFixture.server(kind)
        try TestMount.withMount(url: server.url()) { mount in
            try WriteFixture.script("""
                echo hello > "$M/new.txt"
                test "$(cat "$S/new.txt")" = hello
                echo world >> "$M/new.txt"
                test "$(stat -c %s "$M/new.txt")" = 12        # no stale size after >>
                test "$(cat "$S/new.txt")" = "$(printf 'hello\\nworld')"
                printf 'a\\tb %s\\n' x y > "$M/printf.txt"
                cmp "$S/printf.txt" <(printf 'a\\tb %s\\n' x y)
                : > "$M/empty.txt"
                test -f "$S/empty.txt" && test ! -s "$S/empty.txt"
                ls "$M" | grep -qx new.txt
                """, mount: mount, server: server, directory: "redirect")
        }
    }

    @Test(arguments: StandardServer.allCases)
    func copyingAOneGibibyteFile(_ kind: StandardServer) throws {
        let server = try WriteFixture.server(kind)
        let source = try TestDirectory.make("big-source")
        defer { TestDirectory.cleanUp(source) }
        try TestDataSet.writeRandomFile(at: source + "/big.bin", size: 1 << 30)
        let expected = try TestDataSet.sha256(ofFile: source + "/big.bin")
        // A cache directory far too small to stage the file: the copy must stream.
        let cache = try TestDirectory.make("tiny-cache")
        // mode=0700: a cache directory must be the user's alone (tmpfs mounts default to 1777).
        try Shell.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", cache], timeout: .seconds(30)).check()
        defer {
            _ = try? Shell.run(["umount", cache], timeout: .seconds(30))
            TestDirectory.cleanUp(cache)
        }
        try TestMount.withMount(url: server.url(), options: ["cache_dir=" + cache]) { mount in
            try WriteFixture.script("""
                cp \(Shell.quote(source + "/big.bin")) "$M/big.bin"
                test "$(stat -c %s "$M/big.bin")" = \(1 << 30)
                """, mount: mount, server: server, directory: "big")
            // Memory did not grow with the file either.
            let status = try String(contentsOfFile: "/proc/\(mount.pid)/status", encoding: .utf8)
            let peak = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
                .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? Int.max
            #expect(peak < 128 * 1024, "ftpfs peaked at \(peak) KiB while copying 1 GiB")
            #expect(try TestDataSet.sha256(ofFile: server.path("big/big.bin")) == expected)
            #expect(try leftovers(in: server.path("big")).isEmpty)
            try WriteFixture.script("rm \"$M/big.bin\"", mount: mount, server: server, directory: "big")
        }
    }

    @Test(arguments: StandardServer.allCases)
    func truncationShrinksAndGrows(_ kind: StandardServer) throws {
        let server = try WriteFixture.server(kind)
        try TestMount.withMount(url: server.url()) { mount in
            try WriteFixture.script("""
                seq 1 10000 > "$M/numbers.txt"
                seq 1 10000 > /tmp/ftpfs-tests-numbers.$$
                truncate -s 1000 "$M/numbers.txt"
                test "$(stat -c %s "$S/numbers.txt")" = 1000
                cmp "$S/numbers.txt" <(head -c 1000 /tmp/ftpfs-tests-numbers.$$)
                truncate -s 5000 "$M/numbers.txt"
                test "$(stat -c %s "$S/numbers.txt")" = 5000
                cmp <(head -c 1000 "$S/numbers.txt") <(head -c 1000 /tmp/ftpfs-tests-numbers.$$)
                test "$(tail -c 4000 "$S/numbers.txt" | tr -d '\\0' | wc -c)" = 0   # the new part reads as zeros
                truncate -s 0 "$M/numbers.txt"
                test -f "$S/numbers.txt" && test ! -s "$S/numbers.txt"
                test "$(stat -c %s "$M/numbers.txt")" = 0
                rm /tmp/ftpfs-tests-numbers.$$
                """, mount: mount, server: server, directory: "truncate")
        }
    }

    @Test(arguments: StandardServer.allCases)
    func ddNotruncAndReadWriteEditsChangeOnlyTheirBytes(_ kind: StandardServer) throws {
        let server = try WriteFixture.server(kind)
        try TestMount.withMount(url: server.url()) { mount in
            try WriteFixture.script("""
                head -c 3000000 /dev/urandom > /tmp/ftpfs-tests-dd.$$
                cp /tmp/ftpfs-tests-dd.$$ "$M/data.bin"
                printf 'PATCHED' | dd of="$M/data.bin" bs=1 seek=1500000 conv=notrunc status=none
                printf 'PATCHED' | dd of=/tmp/ftpfs-tests-dd.$$ bs=1 seek=1500000 conv=notrunc status=none
                cmp "$S/data.bin" /tmp/ftpfs-tests-dd.$$
                # O_RDWR: read, seek back, overwrite, read again through the same descriptor.
                /usr/bin/python3 - "$M/data.bin" <<'PY'
                import sys
                with open(sys.argv[1], "r+b") as f:
                    head = f.read(10)
                    f.seek(2)
                    f.write(b"rw")
                    f.seek(0)
                    assert f.read(10) == head[:2] + b"rw" + head[4:], "read-back after write"
                PY
                printf 'rw' | dd of=/tmp/ftpfs-tests-dd.$$ bs=1 seek=2 conv=notrunc status=none
                cmp "$S/data.bin" /tmp/ftpfs-tests-dd.$$
                rm /tmp/ftpfs-tests-dd.$$
                """, mount: mount, server: server, directory: "dd")
        }
    }

    @Test(arguments: StandardServer.allCases)
    func editorSaves(_ kind: StandardServer) throws {
        let server = try WriteFixture.server(kind)
        try TestMount.withMount(url: server.url()) { mount in
            try WriteFixture.script("""
                printf 'line one\\nline two\\n' > "$M/notes.txt"
                # vi: edit and save in place (ex mode, no terminal).
                vi -e -s "$M/notes.txt" <<'EX'
                %s/two/2/
                wq
                EX
                test "$(cat "$S/notes.txt")" = "$(printf 'line one\\nline 2')"
                # The pattern most editors use: write a temporary file, rename it over the original.
                printf 'new content\\n' > "$M/.notes.txt.swp"
                mv "$M/.notes.txt.swp" "$M/notes.txt"
                test "$(cat "$S/notes.txt")" = "new content"
                test ! -e "$S/.notes.txt.swp"
                sed -i 's/new/sed/' "$M/notes.txt"
                test "$(cat "$S/notes.txt")" = "sed content"
                test "$(cat "$M/notes.txt")" = "sed content"
                test "$(ls -A "$S")" = notes.txt                   # no leftovers of sed or vi
                """, mount: mount, server: server, directory: "editors")
        }
    }

    /// A name unlinked or renamed over while a program still holds the old file open names
    /// nothing, or the new file, at once: vim's swap-file probing unlinks a file another handle
    /// is still closing, then looks the name up again.
    @Test(arguments: StandardServer.allCases)
    func aNameUnlinkedOrReplacedWhileOpenNoLongerShowsTheOldFile(_ kind: StandardServer) throws {
        let server = try WriteFixture.server(kind)
        // attr_timeout=0: every stat asks ftpfs, not the kernel's copy of the renamed file.
        try TestMount.withMount(url: server.url(), options: ["attr_timeout=0"]) { mount in
            try WriteFixture.script("""
                /usr/bin/python3 - "$M" "$S" <<'PY'
                import os, sys
                m, s = sys.argv[1], sys.argv[2]
                fd = os.open(m + "/gone.txt", os.O_CREAT | os.O_RDWR, 0o644)
                os.write(fd, b"first")
                os.fsync(fd)
                assert os.path.exists(s + "/gone.txt"), "fsync uploads"
                os.unlink(m + "/gone.txt")
                assert not os.path.exists(m + "/gone.txt"), "an unlinked name still stats"
                assert "gone.txt" not in os.listdir(m), "an unlinked name is still listed"
                os.write(fd, b" more")
                os.close(fd)
                assert not os.path.exists(s + "/gone.txt") and not os.path.exists(m + "/gone.txt")

                fd = os.open(m + "/target.txt", os.O_CREAT | os.O_RDWR, 0o644)
                os.write(fd, b"the old content, longer")
                os.fsync(fd)
                with open(m + "/new.tmp", "wb") as f:
                    f.write(b"new")
                os.rename(m + "/new.tmp", m + "/target.txt")
                assert os.stat(m + "/target.txt").st_size == 3, "stat shows the file renamed over the name"
                with open(m + "/target.txt", "rb") as f:
                    assert f.read() == b"new", "reads the file renamed over the name"
                os.close(fd)
                with open(s + "/target.txt", "rb") as f:
                    assert f.read() == b"new", "the server keeps the renamed file"
                assert os.stat(m + "/target.txt").st_size == 3
                assert sorted(os.listdir(m)) == ["target.txt"], os.listdir(m)
                PY
                """, mount: mount, server: server, directory: "unlinked-open")
        }
    }

    @Test(arguments: StandardServer.allCases)
    func rsyncKeepsTimesSoASecondRunTransfersNothing(_ kind: StandardServer) throws {
        let server = try WriteFixture.server(kind)
        let source = try TestDirectory.make("rsync-source")
        defer { TestDirectory.cleanUp(source) }
        // 300 files in nested directories, with varied sizes and old and recent times.
        for index in 0..<300 {
            let directory = source + "/d\(index % 6)/e\(index % 4)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try TestDataSet.writeRandomFile(at: directory + "/f\(index).bin", size: (index * 977) % 70_000)
            let time = Date(timeIntervalSince1970: index % 2 == 0 ? 981_173_106 + Double(index) : Date().timeIntervalSince1970 - Double(index * 7))
            try FileManager.default.setAttributes([.modificationDate: time], ofItemAtPath: directory + "/f\(index).bin")
        }
        // Old directory times too: rsync -a sets them, and servers often refuse directory times.
        try Shell.run(["bash", "-c", "find \(Shell.quote(source)) -type d -exec touch -d 2003-01-02 {} +"], timeout: .seconds(30)).check()
        try TestMount.withMount(url: server.url()) { mount in
            try WriteFixture.script("rsync -a \(Shell.quote(source + "/")) \"$M/\"", mount: mount, server: server,
                                    directory: "rsync")
            let original = try TestDataSet.manifest(of: source)
            let uploaded = try TestDataSet.manifest(of: server.path("rsync"))
            #expect(uploaded == original, "differences: \(uploaded.differences(from: original))")
            // Times arrived on the server, to the second.
            let times = try Shell.run(["bash", "-c", "cd \(Shell.quote(source)) && find . -type f -printf '%T@ %p\\n' | sed 's/\\.[0-9]* / /' | sort"], timeout: .seconds(60)).check().stdout
            let serverTimes = try Shell.run(["bash", "-c", "cd \(Shell.quote(server.path("rsync"))) && find . -type f -printf '%T@ %p\\n' | sed 's/\\.[0-9]* / /' | sort"], timeout: .seconds(60)).check().stdout
            #expect(times == serverTimes)
            let second = try WriteFixture.script("rsync -a --itemize-changes \(Shell.quote(source + "/")) \"$M/\"",
                                                 mount: mount, server: server, directory: "rsync")
            #expect(second.stdout.isEmpty, "the second rsync transferred:\n\(second.stdout)")
        }
    }

    @Test(arguments: StandardServer.allCases)
    func tarExtractsAnArchive(_ kind: StandardServer) throws {
        let server = try WriteFixture.server(kind)
        let source = try TestDirectory.make("tar-source")
        defer { TestDirectory.cleanUp(source) }
        try TestDataSet.generate(at: source + "/tree", bigFileSize: 3_000_000, includeDotfiles: true)
        // Directories with times of their own: tar sets them after filling each directory.
        try Shell.run(["bash", "-c", "find \(Shell.quote(source + "/tree")) -type d -exec touch -d 2005-06-07 {} +"], timeout: .seconds(30)).check()
        try Shell.run(["tar", "-C", source, "-cf", source + "/tree.tar", "tree"], timeout: .seconds(60)).check()
        try TestMount.withMount(url: server.url()) { mount in
            try WriteFixture.script("tar -C \"$M\" -xf \(Shell.quote(source + "/tree.tar"))", mount: mount,
                                    server: server, directory: "tar")
            let original = try TestDataSet.manifest(of: source + "/tree")
            let extracted = try TestDataSet.manifest(of: server.path("tar/tree"))
            #expect(extracted == original, "differences: \(extracted.differences(from: original))")
        }
    }

    @Test(arguments: StandardServer.allCases)
    func directories(_ kind: StandardServer) throws {
        let server = try WriteFixture.server(kind)
        try TestMount.withMount(url: server.url()) { mount in
            try WriteFixture.script("""
                mkdir -p "$M/a/b/c"
                test -d "$S/a/b/c"
                echo x > "$M/a/b/c/file.txt"
                mv "$M/a" "$M/moved"
                test -f "$S/moved/b/c/file.txt" && test ! -e "$S/a"
                test "$(cat "$M/moved/b/c/file.txt")" = x
                ! rmdir "$M/moved/b" 2> /tmp/ftpfs-tests-rmdir.$$
                grep -q 'Directory not empty' /tmp/ftpfs-tests-rmdir.$$
                rm /tmp/ftpfs-tests-rmdir.$$
                ! mkdir "$M/moved" 2>/dev/null                        # EEXIST
                echo y > "$M/other.txt"
                mv "$M/other.txt" "$M/moved/b/c/file.txt"              # rename replaces
                test "$(cat "$S/moved/b/c/file.txt")" = y
                rm -r "$M/moved"
                test ! -e "$S/moved" && test ! -e "$M/moved"
                echo keep > "$M/keep.txt"; echo other > "$M/other2.txt"
                mv -n "$M/other2.txt" "$M/keep.txt"                    # RENAME_NOREPLACE
                test "$(cat "$S/keep.txt")" = keep
                /usr/bin/python3 -c 'import os, sys, errno
                try:
                    os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    sys.exit(0)
                sys.exit("O_EXCL on an existing name did not fail")' "$M/keep.txt"
                """, mount: mount, server: server, directory: "dirs")
        }
    }

    @Test(arguments: StandardServer.allCases)
    func timesAndModesReachTheServer(_ kind: StandardServer) throws {
        let server = try WriteFixture.server(kind)
        try TestMount.withMount(url: server.url()) { mount in
            try WriteFixture.script("""
                echo data > "$M/f.txt"
                touch -d 2001-02-03 "$M/f.txt"
                test "$(date -u -r "$S/f.txt" +%F)" = 2001-02-03
                test "$(date -u -r "$M/f.txt" +%F)" = 2001-02-03
                touch -d '2011-12-13 14:15:16' "$M/new-with-time.txt"
                test "$(date -u -r "$S/new-with-time.txt" '+%F %T')" = '2011-12-13 14:15:16'
                # cp -p of a file this user owns (ftpfs shows every file as the mounting user's,
                # and refuses an owner it cannot show, as vfat does).
                cp -p "$S/f.txt" /tmp/ftpfs-tests-times.$$ && chown "$(id -u):$(id -g)" /tmp/ftpfs-tests-times.$$
                cp -p /tmp/ftpfs-tests-times.$$ "$M/preserved.txt"
                rm /tmp/ftpfs-tests-times.$$
                test "$(date -u -r "$S/preserved.txt" +%F)" = 2001-02-03
                chmod 600 "$M/f.txt"
                test "$(stat -c %a "$S/f.txt")" = 600
                test "$(stat -c %a "$M/f.txt")" = 600
                chmod 755 "$M/f.txt"
                test "$(stat -c %a "$S/f.txt")" = 755
                """, mount: mount, server: server, directory: "times")
        }
    }

    @Test(arguments: StandardServer.allCases)
    func twoProcessesAppendToDifferentFilesAtOnce(_ kind: StandardServer) throws {
        let server = try WriteFixture.server(kind)
        try TestMount.withMount(url: server.url()) { mount in
            try WriteFixture.script("""
                (for i in $(seq 1 200); do echo "one $i" >> "$M/one.log"; done) &
                (for i in $(seq 1 200); do echo "two $i" >> "$M/two.log"; done) &
                wait
                cmp "$S/one.log" <(for i in $(seq 1 200); do echo "one $i"; done)
                cmp "$S/two.log" <(for i in $(seq 1 200); do echo "two $i"; done)
                test "$(stat -c %s "$M/one.log")" = "$(stat -c %s "$S/one.log")"
                """, mount: mount, server: server, directory: "append")
        }
    }

    @Test(arguments: StandardServer.allCases)
    func writesAreRefusedOnAReadOnlyMount(_ kind: StandardServer) throws {
        let server = try WriteFixture.server(kind)
        try TestMount.withMount(url: server.url(), options: ["ro"]) { mount in
            let result = try Shell.run(["bash", "-c", "echo x > \(Shell.quote(mount.path("ro.txt")))"], timeout: .seconds(30))
            #expect(result.status != 0)
            #expect(result.stderr.contains("Read-only file system"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: server.path("ro.txt")))
        }
    }
}

/// What the pyftpdlib quirks bring out: refused and corrupted uploads, HASH, server-side copies,
/// symlinks, and servers that will not rename over an existing file.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib)))
struct WriteQuirkMountTests {
    func withQuirkyServer(_ quirks: [String], _ body: (FTPTestServer, TestMount) throws -> Void) throws {
        try TestRequirements.require(.pyftpdlib, .fuse)
        let root = try TestDirectory.make("quirks")
        defer { TestDirectory.cleanUp(root) }
        try "old content\n".write(toFile: root + "/existing.txt", atomically: true, encoding: .utf8)
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard], quirks: quirks)
        defer { server.stop() }
        try TestMount.withMount(url: server.url()) { mount in try body(server, mount) }
    }

    @Test func aRefusedUploadFailsTheCopyAndLeavesNothingBehind() throws {
        try withQuirkyServer(["stor-552"]) { server, mount in
            let source = try TestDirectory.make("refused-source")
            defer { TestDirectory.cleanUp(source) }
            try TestDataSet.writeRandomFile(at: source + "/file.bin", size: 5_000_000)
            let copy = try Shell.run(["cp", source + "/file.bin", mount.path("file.bin")], timeout: .seconds(60))
            #expect(copy.status != 0)
            #expect(copy.stderr.contains("No space left on device"), "\(copy.stderr)")
            #expect(!FileManager.default.fileExists(atPath: server.path("file.bin")))
            #expect(try leftovers(in: server.root).isEmpty)
            let listing = try Shell.run(["ls", "-A", mount.mountpoint], timeout: .seconds(30)).check()
            #expect(listing.stdout == "existing.txt\n", "the mount shows: \(listing.stdout)")
            // Replacing an existing file fails the same way and keeps the old content.
            let replace = try Shell.run(["bash", "-c", "echo new > \(Shell.quote(mount.path("existing.txt")))"], timeout: .seconds(30))
            #expect(replace.status != 0)
            #expect(try String(contentsOfFile: server.path("existing.txt"), encoding: .utf8) == "old content\n")
            #expect(try leftovers(in: server.root).isEmpty)
        }
    }

    /// Writes `mebibytes` MiB of random data to `path` with one write(2) per MiB, then closes it;
    /// prints "ok" or the errno of the first call that failed, as "write N: ERRNO" or "close: ERRNO".
    func writeAndClose(_ path: String, mebibytes: Int) throws -> String {
        let result = try Shell.run(["/usr/bin/python3", "-c", """
            import os, sys
            fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            for i in range(int(sys.argv[2])):
                try:
                    os.write(fd, os.urandom(1 << 20))
                except OSError as error:
                    print("write %d: %d" % (i, error.errno))
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                    sys.exit(0)
            try:
                os.close(fd)
            except OSError as error:
                print("close: %d" % error.errno)
                sys.exit(0)
            print("ok")
            """, path, String(mebibytes)], timeout: .seconds(120)).check()
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aQuotaReachedInTheMiddleOfAStreamedUploadFailsWithENOSPC() throws {
        try withQuirkyServer(["stor-quota=3000000"]) { server, mount in
            // Writes return before their bytes reach the server: the refusal comes from a
            // later write or from close, never nowhere.
            let outcome = try writeAndClose(mount.path("big.bin"), mebibytes: 24)
            #expect(outcome.hasPrefix("write ") || outcome.hasPrefix("close"), "\(outcome)")
            #expect(outcome.hasSuffix(": \(ENOSPC)"), "\(outcome)")
            #expect(!FileManager.default.fileExists(atPath: server.path("big.bin")))
            #expect(try leftovers(in: server.root).isEmpty)
            #expect(server.log().contains("cutting the upload at the quota"))
            // The mount goes on working.
            try Shell.run(["bash", "-c", "echo small > \(Shell.quote(mount.path("small.txt")))"], timeout: .seconds(30)).check()
            #expect(try String(contentsOfFile: server.path("small.txt"), encoding: .utf8) == "small\n")
        }
    }

    @Test func aRefusalAfterTheLastByteIsReportedByClose() throws {
        try withQuirkyServer(["stor-552-at-end"]) { server, mount in
            // Every write is taken; only the server's final reply says the upload is lost.
            let created = try writeAndClose(mount.path("new.bin"), mebibytes: 6)
            #expect(created == "close: \(ENOSPC)")
            #expect(!FileManager.default.fileExists(atPath: server.path("new.bin")))
            let replaced = try writeAndClose(mount.path("existing.txt"), mebibytes: 2)
            #expect(replaced == "close: \(ENOSPC)")
            #expect(try String(contentsOfFile: server.path("existing.txt"), encoding: .utf8) == "old content\n")
            #expect(try leftovers(in: server.root).isEmpty)
        }
    }

    @Test func anUploadWhoseDataConnectionIsCutResumesAndArrivesWhole() throws {
        try withQuirkyServer(["drop-upload-once=5000000"]) { server, mount in
            let source = try TestDirectory.make("cut-source")
            defer { TestDirectory.cleanUp(source) }
            try TestDataSet.writeRandomFile(at: source + "/file.bin", size: 40 << 20)
            try Shell.run(["cp", source + "/file.bin", mount.path("file.bin")], timeout: .seconds(120)).check()
            #expect(try TestDataSet.sha256(ofFile: server.path("file.bin")) == TestDataSet.sha256(ofFile: source + "/file.bin"))
            #expect(server.log().contains("cutting the upload's data connection"))
            #expect(mount.stderr.contains("resumed"), "the cut should have been resumed:\n\(mount.stderr.suffix(2000))")
        }
    }

    @Test func uploadsAreVerifiedWithHASH() throws {
        try withQuirkyServer(["hash"]) { server, mount in
            let source = try TestDirectory.make("hash-source")
            defer { TestDirectory.cleanUp(source) }
            try TestDataSet.writeRandomFile(at: source + "/file.bin", size: 3_000_000)
            try Shell.run(["cp", source + "/file.bin", mount.path("file.bin")], timeout: .seconds(60)).check()
            try Shell.run(["bash", "-c", "echo edited > \(Shell.quote(mount.path("existing.txt")))"], timeout: .seconds(30)).check()
            #expect(try TestDataSet.sha256(ofFile: server.path("file.bin")) == TestDataSet.sha256(ofFile: source + "/file.bin"))
            #expect(try String(contentsOfFile: server.path("existing.txt"), encoding: .utf8) == "edited\n")
            // Every upload (new or replacing) is hashed under its temporary name, before the
            // rename that puts it in place.
            let commands = server.receivedCommands()
            let stored = commands.filter { $0.hasPrefix("STOR") }.map { String($0.dropFirst(5)) }
            #expect(stored.count >= 2 && stored.allSatisfy { $0.hasPrefix("/.ftpfs-up.") }, "\(commands)")
            for target in stored {
                #expect(commands.contains("HASH " + target), "\(target) was not verified: \(commands)")
            }
        }
    }

    @Test func uploadsAreVerifiedWithExtensionHashCommands() throws {
        try withQuirkyServer(["xhash"]) { server, mount in
            try Shell.run(["bash", "-c", "head -c 100000 /dev/urandom > \(Shell.quote(mount.path("x.bin")))"], timeout: .seconds(30)).check()
            #expect(server.receivedCommands().contains { $0.hasPrefix("XSHA256") && $0.contains("/.ftpfs-up.") })
        }
    }

    @Test func timesAreSetWithSITEUTIMEWhenThereIsNoMFMT() throws {
        try withQuirkyServer(["site-utime"]) { server, mount in
            try Shell.run(["touch", "-d", "2004-05-06 07:08:09", mount.path("existing.txt")], timeout: .seconds(30)).check()
            let attributes = try FileManager.default.attributesOfItem(atPath: server.path("existing.txt"))
            #expect((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 == 1_083_827_289)  // 2004-05-06 07:08:09 UTC
            #expect(server.receivedCommands().contains { $0.hasPrefix("SITE UTIME") })
        }
    }

    @Test func aCorruptedUploadIsAnIOErrorAndTheOldFileStays() throws {
        try withQuirkyServer(["hash-corrupt"]) { server, mount in
            let replace = try Shell.run(["bash", "-c", "echo new > \(Shell.quote(mount.path("existing.txt")))"], timeout: .seconds(30))
            #expect(replace.status != 0)
            #expect(replace.stderr.contains("Input/output error"), "\(replace.stderr)")
            #expect(try String(contentsOfFile: server.path("existing.txt"), encoding: .utf8) == "old content\n")
            #expect(try leftovers(in: server.root).isEmpty)
            let create = try Shell.run(["bash", "-c", "echo new > \(Shell.quote(mount.path("new.txt")))"], timeout: .seconds(30))
            #expect(create.status != 0)
            #expect(!FileManager.default.fileExists(atPath: server.path("new.txt")))
        }
    }

    @Test func symlinksUseSITESYMLINKWhereOffered() throws {
        try withQuirkyServer(["site-symlink"]) { server, mount in
            try Shell.run(["ln", "-s", "existing.txt", mount.path("link.txt")], timeout: .seconds(30)).check()
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: server.path("link.txt")) == "existing.txt")
            let target = try Shell.run(["readlink", mount.path("link.txt")], timeout: .seconds(30)).check()
            #expect(target.stdout == "existing.txt\n")
        }
        try withQuirkyServer([]) { server, mount in
            let refused = try Shell.run(["ln", "-s", "existing.txt", mount.path("link.txt")], timeout: .seconds(30))
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("Operation not permitted"), "\(refused.stderr)")
        }
    }

    @Test func copiesWithinTheServerUseSITECPFRWhereOffered() throws {
        try withQuirkyServer(["site-copy"]) { server, mount in
            try TestDataSet.writeRandomFile(at: server.path("source.bin"), size: 2_000_000)
            try Shell.run(["cp", mount.path("source.bin"), mount.path("copy.bin")], timeout: .seconds(60)).check()
            #expect(try TestDataSet.sha256(ofFile: server.path("copy.bin")) == TestDataSet.sha256(ofFile: server.path("source.bin")))
            let commands = server.receivedCommands()
            #expect(commands.contains { $0.hasPrefix("SITE CPFR") }, "\(commands)")
            #expect(!commands.contains { $0.hasPrefix("STOR") && $0.contains("copy.bin") })
            let size = try Shell.run(["stat", "-c", "%s", mount.path("copy.bin")], timeout: .seconds(30)).check()
            #expect(size.stdout == "2000000\n")
        }
        try withQuirkyServer([]) { server, mount in
            // Without it, cp falls back to copying through ftpfs.
            try TestDataSet.writeRandomFile(at: server.path("source.bin"), size: 2_000_000)
            try Shell.run(["cp", mount.path("source.bin"), mount.path("copy.bin")], timeout: .seconds(60)).check()
            #expect(try TestDataSet.sha256(ofFile: server.path("copy.bin")) == TestDataSet.sha256(ofFile: server.path("source.bin")))
        }
    }

    @Test func replacingWorksOnServersThatWillNotRenameOverAFile() throws {
        try withQuirkyServer(["rnto-no-overwrite"]) { server, mount in
            try Shell.run(["bash", "-c", "echo replaced > \(Shell.quote(mount.path("existing.txt")))"], timeout: .seconds(30)).check()
            #expect(try String(contentsOfFile: server.path("existing.txt"), encoding: .utf8) == "replaced\n")
            try Shell.run(["bash", "-c", "echo other > \(Shell.quote(mount.path("other.txt"))) && mv \(Shell.quote(mount.path("other.txt"))) \(Shell.quote(mount.path("existing.txt")))"], timeout: .seconds(30)).check()
            #expect(try String(contentsOfFile: server.path("existing.txt"), encoding: .utf8) == "other\n")
            #expect(try leftovers(in: server.root).isEmpty)
        }
    }

    @Test func withoutAtomicUploadsTheFileIsWrittenInPlace() throws {
        try TestRequirements.require(.pyftpdlib, .fuse)
        let root = try TestDirectory.make("in-place")
        defer { TestDirectory.cleanUp(root) }
        try "old\n".write(toFile: root + "/existing.txt", atomically: true, encoding: .utf8)
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard])
        defer { server.stop() }
        try TestMount.withMount(url: server.url(), options: ["atomic_upload=no"]) { mount in
            try Shell.run(["bash", "-c", "echo new > \(Shell.quote(mount.path("existing.txt")))"], timeout: .seconds(30)).check()
        }
        #expect(try String(contentsOfFile: server.path("existing.txt"), encoding: .utf8) == "new\n")
        #expect(!server.receivedCommands().contains { $0.hasPrefix("RNFR") })
    }
}

/// Names in a directory that an upload must never leave behind: ftpfs's temporaries.
func leftovers(in directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(".ftpfs-") }
}
