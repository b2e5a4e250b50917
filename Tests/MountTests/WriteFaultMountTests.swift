import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The write path's fault matrix through a real mount, against pyftpdlib made to fail on cue,
/// checked on the server's disk: either the data arrived exactly, or the program heard of it
/// and the old content is intact. Then a killed ftpfs, files unlinked while open, sizes the
/// server does not keep to, and an upload-only directory.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib)))
struct WriteFaultMountTests {
    static let old = "old content\n"

    /// A pyftpdlib with `quirks`, holding `existing.txt`, mounted with `options`.
    func withQuirkyMount(_ quirks: [String], options: [String] = [], cacheDirectory: String? = nil,
                         _ body: (FTPTestServer, TestMount) throws -> Void) throws
    {
        try TestRequirements.require(.pyftpdlib, .fuse)
        let root = try TestDirectory.make("write-faults")
        defer { TestDirectory.cleanUp(root) }
        try Self.old.write(toFile: root + "/existing.txt", atomically: true, encoding: .utf8)
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard], quirks: quirks)
        defer { server.stop() }
        var all = options
        if let cacheDirectory { all.append("cache_dir=" + cacheDirectory) }
        try TestMount.withMount(url: server.url(), options: all) { mount in try body(server, mount) }
    }

    /// Replaces `existing.txt` by `echo`; returns bash's exit status and stderr.
    func replaceExisting(_ mount: TestMount, with text: String = "new") throws -> ShellResult {
        try Shell.run(["bash", "-c", "echo \(text) > \(Shell.quote(mount.path("existing.txt")))"], timeout: .seconds(60))
    }

    func content(_ server: FTPTestServer, _ name: String) -> String? {
        try? String(contentsOfFile: server.path(name), encoding: .utf8)
    }

    // MARK: - Refusals

    /// The report that started it: a server answering RNFR with "502 Command not
    /// implemented". The replacement fails with EPERM (never ENOSYS, which the kernel would
    /// latch for the whole mount), the old content stays, and a later open-truncate-write-close
    /// fails too instead of "succeeding" with the old content still on the server.
    @Test func aServerThatCannotRenameNeverGetsItsFilesSilentlyLost() throws {
        try withQuirkyMount(["refuse=RNFR:502"]) { server, mount in
            let replace = try replaceExisting(mount)
            #expect(replace.status != 0)
            #expect(replace.stderr.contains("Operation not permitted"), "\(replace.stderr)")
            #expect(!replace.stderr.contains("Function not implemented"))
            #expect(content(server, "existing.txt") == Self.old)
            let program = try Shell.run(["/usr/bin/python3", "-c", """
                import os, sys
                fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
                try:
                    os.write(fd, b"fourteen bytes")
                    os.close(fd)
                except OSError as error:
                    print("error", error.errno)
                    sys.exit(0)
                print("ok")
                """, mount.path("existing.txt")], timeout: .seconds(60)).check()
            #expect(program.stdout.hasPrefix("error"), "close() reported success: \(program.stdout)")
            #expect(content(server, "existing.txt") == Self.old)
            // New files still work: without renames they go in place.
            try Shell.run(["bash", "-c", "echo fresh > \(Shell.quote(mount.path("fresh.txt")))"], timeout: .seconds(60)).check()
            #expect(content(server, "fresh.txt") == "fresh\n")
            #expect(try leftovers(in: server.root).isEmpty)
        }
    }

    @Test(arguments: ["RNFR:550", "RNFR:553", "RNTO:550", "RNTO:553", "RNTO:502"])
    func aRefusedRenameKeepsTheOldFileAndLeavesNothing(_ refusal: String) throws {
        try withQuirkyMount(["refuse=" + refusal]) { server, mount in
            let replace = try replaceExisting(mount)
            if replace.status == 0 {
                #expect(content(server, "existing.txt") == "new\n")
            } else {
                #expect(content(server, "existing.txt") == Self.old, "\(replace.stderr)")
            }
            #expect(!replace.stderr.contains("Function not implemented"))
            #expect(try leftovers(in: server.root).isEmpty)
            // A new file gets there all the same (copied into place when it cannot be renamed).
            try Shell.run(["bash", "-c", "echo fresh > \(Shell.quote(mount.path("fresh.txt")))"], timeout: .seconds(60)).check()
            #expect(content(server, "fresh.txt") == "fresh\n")
            #expect(try leftovers(in: server.root).isEmpty)
            #expect(try Shell.run(["cat", mount.path("existing.txt")], timeout: .seconds(30)).check().stdout.isEmpty == false)
        }
    }

    @Test(arguments: [("452", "No space left on device"), ("553", "Permission denied"), ("502", "Operation not permitted"),
                      ("450", "Device or resource busy"), ("501", "Invalid argument")])
    func anUploadRefusedAtTheStartFailsAndTheOldFileStays(_ code: String, _ message: String) throws {
        try withQuirkyMount(["refuse=STOR:" + code]) { server, mount in
            let replace = try replaceExisting(mount)
            #expect(replace.status != 0)
            #expect(replace.stderr.contains(message), "\(replace.stderr)")
            #expect(content(server, "existing.txt") == Self.old)
            #expect(try leftovers(in: server.root).isEmpty)
        }
    }

    @Test func aServerThatWillNotDeleteKeepsTheOldFileWhenAnUploadFails() throws {
        try withQuirkyMount(["refuse=DELE:550", "stor-552-at-end"]) { server, mount in
            let replace = try replaceExisting(mount)
            #expect(replace.status != 0)
            #expect(replace.stderr.contains("No space left on device"), "\(replace.stderr)")
            #expect(content(server, "existing.txt") == Self.old)
        }
    }

    @Test func aHashAnsweredWith501IsCheckedBySizeInstead() throws {
        try withQuirkyMount(["hash", "refuse=HASH:501"]) { server, mount in
            try replaceExisting(mount).check()
            #expect(content(server, "existing.txt") == "new\n")
            #expect(server.receivedCommands().contains { $0.hasPrefix("SIZE /.ftpfs-up.") })
        }
    }

    // MARK: - Lost replies

    /// The final 226 never comes, or the control connection drops right after the data: ftpfs
    /// finds out on a new connection what arrived, completes it, and the file lands exactly.
    @Test(arguments: ["withhold-226", "drop-control-after-stor"])
    func anUploadWhoseFinalReplyIsLostStillLandsExactly(_ quirk: String) throws {
        let source = try TestDirectory.make("lost-reply-source")
        defer { TestDirectory.cleanUp(source) }
        try TestDataSet.writeRandomFile(at: source + "/file.bin", size: 5_000_000)
        try withQuirkyMount([quirk], options: ["timeout=3"]) { server, mount in
            try Shell.run(["cp", source + "/file.bin", mount.path("file.bin")], timeout: .seconds(120)).check()
            #expect(try TestDataSet.sha256(ofFile: server.path("file.bin")) == TestDataSet.sha256(ofFile: source + "/file.bin"))
            #expect(try leftovers(in: server.root).isEmpty)
        }
    }

    /// The control connection drops in the middle of an upload while the server has not yet
    /// written all it received (its disk lags): the resume waits until the server's file stops
    /// growing, so no byte is sent twice, and the file is exact, by hash on disk.
    @Test func aResumeWhileTheServerIsStillWritingEndsWithExactlyTheBytesWritten() throws {
        let source = try TestDirectory.make("late-writes-source")
        defer { TestDirectory.cleanUp(source) }
        try TestDataSet.writeRandomFile(at: source + "/file.bin", size: 48 << 20)
        try withQuirkyMount(["drop-control-once=20000000", "delay-writes=0.3"]) { server, mount in
            try Shell.run(["cp", source + "/file.bin", mount.path("file.bin")], timeout: .seconds(180)).check()
            #expect(try TestDataSet.sha256(ofFile: server.path("file.bin")) == TestDataSet.sha256(ofFile: source + "/file.bin"))
            #expect(server.log().contains("dropping the control connection mid-upload"))
            #expect(mount.stderr.contains("resumed"), "\(mount.stderr.suffix(2000))")
        }
    }

    // MARK: - A killed ftpfs

    enum KilledWrite: String, CaseIterable, Sendable {
        case newFile, replacement, append
    }

    /// ftpfs killed with SIGKILL in the middle of a 200 MiB write: the final name holds the old
    /// content (or nothing, for a new file), never a partial file. The next mount (same cache
    /// directory) removes the temporary the dead process left, and works.
    @Test(arguments: KilledWrite.allCases)
    func aKilledFtpfsNeverLeavesAPartialFileUnderTheFinalName(_ write: KilledWrite) throws {
        let cache = try TestDirectory.make("killed-cache")
        defer { TestDirectory.cleanUp(cache) }
        chmod(cache, 0o700)
        try TestRequirements.require(.pyftpdlib, .fuse)
        let root = try TestDirectory.make("killed")
        defer { TestDirectory.cleanUp(root) }
        try Self.old.write(toFile: root + "/existing.txt", atomically: true, encoding: .utf8)
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard])
        defer { server.stop() }
        let target = write == .newFile ? "new.bin" : "existing.txt"
        let mount = try TestMount.mount(url: server.url(), options: ["cache_dir=" + cache])
        defer { try? mount.unmount() }
        // One open, paced writes (about 50 MB/s, so the kill lands in the middle), no early
        // close: what is on the server under the final name must be what was there before.
        let writer = try ChildProcess(arguments: ["/usr/bin/python3", "-c", """
            import os, sys, time
            flags = os.O_WRONLY | (os.O_APPEND if sys.argv[2] == "append" else os.O_CREAT | os.O_TRUNC)
            fd = os.open(sys.argv[1], flags, 0o644)
            chunk = os.urandom(1 << 20)
            for _ in range(200):
                os.write(fd, chunk)
                time.sleep(0.02)
            os.close(fd)
            """, mount.path(target), write.rawValue], killWithTestProcess: true)
        defer { _ = writer.terminate(grace: .seconds(5)) }
        // Wait until a good part of the upload is on the server, under its temporary name.
        let deadline = ContinuousClock.now + .seconds(120)
        var temporary: String?
        while ContinuousClock.now < deadline {
            if let name = try leftovers(in: root).first,
               let size = (try? FileManager.default.attributesOfItem(atPath: root + "/" + name))?[.size] as? Int,
               size > 20 << 20
            {
                temporary = name
                break
            }
            usleep(20_000)
        }
        #expect(temporary != nil, "no temporary grew on the server")
        mount.signal(SIGKILL)
        #expect(mount.waitForExit(timeout: .seconds(10)) != nil)
        _ = writer.terminate(grace: .seconds(5))
        // auto_unmount's helper takes the dead mount away.
        let unmounted = ContinuousClock.now + .seconds(10)
        while mount.isMounted && ContinuousClock.now < unmounted { usleep(20_000) }
        try mount.unmount()
        switch write {
        case .newFile:
            #expect(!FileManager.default.fileExists(atPath: root + "/new.bin"), "a partial file under the final name")
        case .replacement, .append:
            #expect(content(server, "existing.txt") == Self.old, "the old content must survive the crash")
        }
        #expect(!(try leftovers(in: root)).isEmpty, "the dead process's temporary is still there")

        // The next mount cleans up after the dead one, and works.
        try TestMount.withMount(url: server.url(), options: ["cache_dir=" + cache]) { next in
            let cleaned = ContinuousClock.now + .seconds(20)
            while try !leftovers(in: root).isEmpty && ContinuousClock.now < cleaned {
                usleep(50_000)
            }
            let left = try leftovers(in: root)
            #expect(left.isEmpty, "left: \(left)")
            while !next.stderr.contains("ended abruptly") && ContinuousClock.now < cleaned { usleep(50_000) }
            #expect(next.stderr.contains("ended abruptly"), "\(next.stderr.suffix(1000))")
            let listing = try Shell.run(["ls", next.mountpoint], timeout: .seconds(30)).check()
            #expect(listing.stdout.contains("existing.txt"))
            try Shell.run(["bash", "-c", "echo after > \(Shell.quote(next.path("after.txt")))"], timeout: .seconds(30)).check()
            #expect(content(server, "after.txt") == "after\n")
        }
    }

    // MARK: - Unlinked while open, sizes, drop boxes

    /// Python's TemporaryFile pattern and a reader whose file is deleted under it: the data
    /// stays readable through the open descriptors, the name is gone at once, and nothing is
    /// left on the server after the last close.
    @Test func filesUnlinkedWhileOpenKeepWorkingAndLeaveNothing() throws {
        try withQuirkyMount([]) { server, mount in
            try TestDataSet.writeRandomFile(at: server.path("shared.bin"), size: 3_000_000)
            let script = try Shell.run(["/usr/bin/python3", "-c", """
                import hashlib, os, sys
                m, s = sys.argv[1], sys.argv[2]
                # Create, unlink, then use: the program's own data, never uploaded.
                fd = os.open(m + "/scratch.tmp", os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
                os.unlink(m + "/scratch.tmp")
                assert "scratch.tmp" not in os.listdir(m), "the unlinked name is still listed"
                data = os.urandom(2_000_000)
                os.write(fd, data)
                os.lseek(fd, 0, os.SEEK_SET)
                back = b""
                while len(back) < len(data):
                    piece = os.read(fd, 1 << 20)
                    assert piece, "short read of the unlinked file"
                    back += piece
                assert back == data, "the unlinked file's data did not read back (zeros?)"
                os.close(fd)
                # A reader whose file another process deletes reads on to the end.
                expected = hashlib.sha256(open(s + "/shared.bin", "rb").read()).hexdigest()
                with open(m + "/shared.bin", "rb", buffering=0) as reader:
                    first = reader.read(100_000)
                    os.unlink(m + "/shared.bin")
                    assert not os.path.exists(m + "/shared.bin")
                    assert not os.path.exists(s + "/shared.bin"), "the name stays on the server"
                    rest = b""
                    while True:
                        piece = reader.read(1 << 20)
                        if not piece:
                            break
                        rest += piece
                assert hashlib.sha256(first + rest).hexdigest() == expected, "the reader lost its file"
                print("ok")
                """, mount.mountpoint, server.root], timeout: .seconds(120))
            #expect(script.stdout == "ok\n", "\(script.stderr)")
            let deadline = ContinuousClock.now + .seconds(10)
            while (try? FileManager.default.contentsOfDirectory(atPath: server.root))?.count != 1 && ContinuousClock.now < deadline {
                usleep(50_000)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: server.root) == ["existing.txt"])
        }
    }

    /// A server whose SIZE and listings promise 1000 bytes more than RETR sends: `cat` never
    /// prints bytes the server did not send. It may fail (EIO) where the file ends early; the
    /// size is then corrected, and the next `cat` reads the file exactly.
    @Test func aFileShorterThanTheServerSaysIsNeverPaddedWithZeros() throws {
        try withQuirkyMount(["size-lies=1000"]) { server, mount in
            try TestDataSet.writeRandomFile(at: server.path("data.bin"), size: 300_000)
            let real = try Data(contentsOf: URL(fileURLWithPath: server.path("data.bin")))
            let copy = mount.workDirectory + "/copy.bin"
            let first = try Shell.run(["bash", "-c", "cat \(Shell.quote(mount.path("data.bin"))) > \(Shell.quote(copy))"],
                                      timeout: .seconds(60))
            let got = try Data(contentsOf: URL(fileURLWithPath: copy))
            if first.status == 0 {
                #expect(got == real, "cat printed \(got.count) bytes; the server has \(real.count)")
            } else {
                #expect(first.stderr.contains("Input/output error"), "\(first.stderr)")
                #expect(real.starts(with: got), "cat printed bytes the server never sent")
            }
            usleep(300_000)  // the kernel drops its copy of the old size
            let second = try Shell.run(["bash", "-c", "cat \(Shell.quote(mount.path("data.bin"))) > \(Shell.quote(copy))"],
                                       timeout: .seconds(60))
            #expect(second.status == 0, "\(second.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == real)
        }
    }

    /// An upload-only directory: `cp` into it works, `ls` of it is "Permission denied".
    @Test func filesCanBeCopiedIntoAnUploadOnlyDirectory() throws {
        let source = try TestDirectory.make("dropbox-source")
        defer { TestDirectory.cleanUp(source) }
        try TestDataSet.writeRandomFile(at: source + "/report.pdf", size: 2_000_000)
        try withQuirkyMount(["dropbox=/incoming"]) { server, mount in
            try FileManager.default.createDirectory(atPath: server.path("incoming"), withIntermediateDirectories: true)
            try Shell.run(["cp", source + "/report.pdf", mount.path("incoming/")], timeout: .seconds(60)).check()
            #expect(try TestDataSet.sha256(ofFile: server.path("incoming/report.pdf"))
                == TestDataSet.sha256(ofFile: source + "/report.pdf"))
            let listing = try Shell.run(["ls", mount.path("incoming")], timeout: .seconds(30))
            #expect(listing.status != 0)
            #expect(listing.stderr.contains("Permission denied"), "\(listing.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: server.path("incoming")) == ["report.pdf"])
        }
    }
}
