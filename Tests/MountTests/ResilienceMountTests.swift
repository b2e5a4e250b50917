import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// What real networks and servers do to a mount: dropped sessions, connection limits, idle
/// timeouts, a server that stops answering or dies, broken data connections, stale replies.
/// The mount keeps working, or fails in bounded time with an error, never hangs.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib)))
struct ResilienceMountTests {
    static let bigSize = 200 * 1024 * 1024

    func server(_ quirks: [String], files: [String: Int] = [:]) throws -> (FTPTestServer, String) {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let root = try TestDirectory.make("resilience")
        for (name, size) in files {
            try TestDataSet.writeRandomFile(at: root + "/" + name, size: size)
        }
        return (try FTPTestServer.startPyftpdlib(root: root, users: [.standard], quirks: quirks), root)
    }

    @Test func aServerDroppingTheControlConnectionEveryHalfSecondCannotStopA200MiBReadOrWrite() throws {
        let (server, root) = try server(["drop-control-every=0.5"], files: ["big.bin": Self.bigSize])
        defer {
            server.stop()
            TestDirectory.cleanUp(root)
        }
        let source = try TestDirectory.make("resilience-source")
        defer { TestDirectory.cleanUp(source) }
        try TestDataSet.writeRandomFile(at: source + "/upload.bin", size: Self.bigSize)
        try TestMount.withMount(url: server.url()) { mount in
            let read = try Shell.run(["sha256sum", mount.path("big.bin")], timeout: .seconds(300)).check()
            #expect(read.stdout.prefix(64) == (try TestDataSet.sha256(ofFile: root + "/big.bin")))
            try Shell.run(["cp", source + "/upload.bin", mount.path("upload.bin")], timeout: .seconds(300)).check()
            #expect(try TestDataSet.sha256(ofFile: root + "/upload.bin") == TestDataSet.sha256(ofFile: source + "/upload.bin"))
            // cp may finish between two drops; a writer that takes a few seconds cannot.
            try Shell.run(["/usr/bin/python3", "-c", """
                import sys, time
                with open(sys.argv[1], 'rb') as source, open(sys.argv[2], 'wb') as target:
                    while chunk := source.read(1 << 20):
                        target.write(chunk)
                        target.flush()
                        time.sleep(0.01)
                """, source + "/upload.bin", mount.path("paced.bin")], timeout: .seconds(300)).check()
            #expect(try TestDataSet.sha256(ofFile: root + "/paced.bin") == TestDataSet.sha256(ofFile: source + "/upload.bin"))
            #expect(mount.stderr.contains("upload of /paced.bin resumed"), "the drops should have been noticed and resumed:\n\(mount.stderr.suffix(2000))")
        }
        #expect(server.log().contains("dropping the control connection"))
    }

    @Test func sixteenReadersShareAServerThatAllowsTwoConnections() throws {
        var files: [String: Int] = [:]
        for index in 0..<16 { files["f\(index).bin"] = 1_000_000 + index * 97_000 }
        let (server, root) = try server(["max-conns=2"], files: files)
        defer {
            server.stop()
            TestDirectory.cleanUp(root)
        }
        try TestMount.withMount(url: server.url(), options: ["max_conns=8"]) { mount in
            var script = "set -e\n"
            for index in 0..<16 { script += "sha256sum < \(Shell.quote(mount.path("f\(index).bin"))) > \"$0.\(index)\" &\n" }
            script += "wait\n"
            for index in 0..<16 { script += "cat \"$0.\(index)\"\n" }
            let output = try TestDirectory.make("limit-out")
            defer { TestDirectory.cleanUp(output) }
            let result = try Shell.run(["bash", "-c", script, output + "/sum"], timeout: .seconds(300)).check()
            let sums = result.stdout.split(separator: "\n").map { String($0.prefix(64)) }
            let expected = try (0..<16).map { try TestDataSet.sha256(ofFile: root + "/f\($0).bin") }
            #expect(sums == expected)
        }
        #expect(server.log().contains("421"), "the server should have refused the extra connections")
    }

    @Test func aSessionTheServerDroppedForIdlingIsReplacedUnnoticed() throws {
        let (server, root) = try server(["idle-timeout=2"], files: ["a.txt": 10])
        defer {
            server.stop()
            TestDirectory.cleanUp(root)
        }
        try TestMount.withMount(url: server.url(), options: ["dir_cache_timeout=1", "attr_timeout=0", "entry_timeout=0"]) { mount in
            try Shell.run(["ls", mount.mountpoint], timeout: .seconds(30)).check()
            sleep(5)
            let again = try Shell.run(["ls", "-l", mount.mountpoint], timeout: .seconds(30)).check()
            #expect(again.stdout.contains("a.txt"))
            try Shell.run(["cat", mount.path("a.txt")], timeout: .seconds(30)).check()
        }
        #expect(server.log().contains("421 Control connection timed out"))
    }

    @Test func aStoppedServerGivesAnErrorWithinTheTimeoutAndTheMountRecovers() throws {
        let (server, root) = try server([], files: ["big.bin": Self.bigSize, "small.txt": 100])
        defer {
            kill(server.pid, SIGCONT)
            server.stop()
            TestDirectory.cleanUp(root)
        }
        try TestMount.withMount(url: server.url(), options: ["timeout=3"]) { mount in
            // A slow reader, so the read is still going when the server stops.
            let reader = try ChildProcess(arguments: ["/usr/bin/python3", "-c", """
                import sys, time
                with open(sys.argv[1], 'rb', buffering=0) as f:
                    while f.read(1 << 20):
                        time.sleep(0.05)
                """, mount.path("big.bin")], stdoutPath: "/dev/null", stderrPath: mount.workDirectory + "/reader.err")
            sleep(1)
            kill(server.pid, SIGSTOP)
            let stopped = Date()
            let status = reader.wait(timeout: .seconds(60))
            let waited = Date().timeIntervalSince(stopped)
            #expect(status != nil, "the reader hung on a stopped server")
            #expect(status != .exited(0), "the read must fail, not succeed")
            #expect(waited < 15, "the reader waited \(waited) s for an error with timeout=3")
            let message = (try? String(contentsOfFile: mount.workDirectory + "/reader.err", encoding: .utf8)) ?? ""
            #expect(message.contains("Input/output error"), "\(message)")
            kill(server.pid, SIGCONT)
            // Without remounting, the mount works again.
            let content = try Shell.run(["bash", "-c", "cat \(Shell.quote(mount.path("small.txt"))) | wc -c"], timeout: .seconds(30)).check()
            #expect(content.stdout == "100\n")
            try Shell.run(["ls", "-l", mount.mountpoint], timeout: .seconds(30)).check()
        }
    }

    @Test func aServerKilledDuringAnUploadFailsTheCloseAndKeepsTheOldFile() throws {
        let (server, root) = try server([], files: ["old.bin": 1_000_000])
        defer {
            server.stop()
            TestDirectory.cleanUp(root)
        }
        let before = try TestDataSet.sha256(ofFile: root + "/old.bin")
        try TestMount.withMount(url: server.url(), options: ["timeout=3"]) { mount in
            // Replace old.bin slowly; the server dies halfway.
            let writer = try ChildProcess(arguments: ["/usr/bin/python3", "-c", """
                import os, sys, time
                try:
                    with open(sys.argv[1], 'wb') as f:
                        for _ in range(40):
                            f.write(os.urandom(1 << 20))
                            f.flush()
                            time.sleep(0.1)
                except OSError as error:
                    print("failed:", error, file=sys.stderr)
                    sys.exit(3)
                """, mount.path("old.bin")], stdoutPath: "/dev/null", stderrPath: mount.workDirectory + "/writer.err")
            sleep(1)
            kill(server.pid, SIGKILL)
            let status = writer.wait(timeout: .seconds(60))
            #expect(status == .exited(3), "writing to a dead server must fail (status \(String(describing: status)))")
        }
        #expect(try TestDataSet.sha256(ofFile: root + "/old.bin") == before, "the old file must be intact")
    }

    @Test func aDataConnectionCutMidDownloadStillReadsCorrectly() throws {
        let (server, root) = try server(["drop-data-once=3000000"], files: ["file.bin": 10_000_000])
        defer {
            server.stop()
            TestDirectory.cleanUp(root)
        }
        try TestMount.withMount(url: server.url()) { mount in
            let read = try Shell.run(["sha256sum", mount.path("file.bin")], timeout: .seconds(60)).check()
            #expect(read.stdout.prefix(64) == (try TestDataSet.sha256(ofFile: root + "/file.bin")))
        }
        #expect(server.log().contains("cutting the data connection"))
    }

    @Test func staleRepliesAfterAbortedTransfersAreNeverTakenForNewCommands() throws {
        let (server, root) = try server(["abort-extra-reply"], files: ["file.bin": 20_000_000, "small.txt": 7])
        defer {
            server.stop()
            TestDirectory.cleanUp(root)
        }
        try TestMount.withMount(url: server.url(), options: ["attr_timeout=0", "entry_timeout=0", "dir_cache_timeout=0"]) { mount in
            // Seeks abort transfers; each is followed by commands whose replies must be their own.
            var script = "set -e\n"
            for index in 0..<25 {
                let offset = (index * 7_919_993) % 19_000_000
                let read = "dd status=none iflag=skip_bytes,count_bytes skip=\(offset) count=5000 bs=5000 if="
                script += "cmp <(\(read)\(Shell.quote(mount.path("file.bin")))) <(\(read)\(Shell.quote(root + "/file.bin")))\n"
                script += "test \"$(stat -c %s \(Shell.quote(mount.path("small.txt"))))\" = 7\n"
                script += "ls \(Shell.quote(mount.mountpoint)) | grep -q small.txt\n"
            }
            let result = try Shell.run(["bash", "-c", script], timeout: .seconds(120))
            #expect(result.status == 0, "\(result.stderr)")
        }
        #expect(server.log().contains("a second, stale reply"))
    }
}
