import Foundation
import Testing
import TestSupport

/// The ftpfs binary, mounted through the kernel against real servers: what a user sees with
/// ls, stat, find, cat, cp, sha256sum, head, tail and dd.
///
/// One server of each kind serves the standard data set plus a 200 MiB file and eight files
/// for parallel readers; every test mounts afresh.
enum ReadFixture {
    static let bigFileSize = 200 * 1024 * 1024
    static let parallelFiles = (0..<8).map { "parallel/\($0).bin" }

    static let pyftpdlib = shared(.pyftpdlib)
    static let vsftpd = shared(.vsftpd)

    private static func shared(_ kind: StandardServer) -> SharedTestServer {
        SharedTestServer {
            let root = try TestDirectory.make("read-\(kind)")
            try TestDataSet.generate(at: root, bigFileSize: bigFileSize)
            try FileManager.default.createDirectory(atPath: root + "/parallel", withIntermediateDirectories: true)
            for (index, file) in parallelFiles.enumerated() {
                try TestDataSet.writeRandomFile(at: root + "/" + file, size: (3 + index) * 1024 * 1024 + index)
            }
            return try kind.start(root: root)
        }
    }

    static func server(_ kind: StandardServer) throws -> FTPTestServer {
        try TestRequirements.require(kind.requirement, .fuse)
        return try (kind == .pyftpdlib ? pyftpdlib : vsftpd).get()
    }
}

/// `find -printf` of a tree: type, size and path of every entry, sorted. Directory sizes differ
/// between a server's disk and any FTP listing, so they are left out.
func treeShape(_ root: String) throws -> [String] {
    let result = try Shell.run(["find", ".", "-mindepth", "1", "-printf", "%y %s %p\\n"],
                               timeout: .seconds(120), workingDirectory: root).check()
    return result.stdout.split(separator: "\n").map { line in
        line.hasPrefix("d ") ? "d - " + line.split(separator: " ", maxSplits: 2)[2] : String(line)
    }.sorted()
}

@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib, .vsftpd)))
struct ReadMountTests {
    @Test(arguments: StandardServer.allCases)
    func theTreeMatchesTheServerByNameTypeSizeAndContent(_ kind: StandardServer) throws {
        let server = try ReadFixture.server(kind)
        try TestMount.withMount(url: server.url()) { mount in
            // ls -lR runs cleanly and names every file of the data set.
            let listing = try Shell.run(["ls", "-lR", mount.mountpoint], timeout: .seconds(120)).check()
            for name in ["file with  spaces.txt", "\u{6587}\u{4EF6}.txt", "empty.txt", "deep.txt", TestDataSet.bigFileName] {
                #expect(listing.stdout.contains(name), "ls -lR lacks \(name)")
            }
            #expect(try treeShape(mount.mountpoint) == treeShape(server.root))
            // Content: sha256 of every file, through the kernel.
            let mounted = try TestDataSet.manifest(of: mount.mountpoint)
            let original = try TestDataSet.manifest(of: server.root)
            #expect(mounted == original, "differences: \(mounted.differences(from: original))")
        }
    }

    @Test(arguments: StandardServer.allCases)
    func everydayToolsGiveTheRightAnswers(_ kind: StandardServer) throws {
        let server = try ReadFixture.server(kind)
        try TestMount.withMount(url: server.url()) { mount in
            let big = Shell.quote(mount.path(TestDataSet.bigFileName))
            let original = Shell.quote(server.path(TestDataSet.bigFileName))
            let script = """
                set -e
                cat \(Shell.quote(mount.path("a dir/file with  spaces.txt")))
                test "$(stat -c %s \(big))" = \(ReadFixture.bigFileSize)
                test "$(stat -c %F \(Shell.quote(mount.path("dir1/dir2"))))" = directory
                test "$(stat -c %s \(Shell.quote(mount.path("empty.txt"))))" = 0
                cmp <(head -c 1000 \(big)) <(head -c 1000 \(original))
                cmp <(tail -c 1000 \(big)) <(tail -c 1000 \(original))
                cmp <(head -c 5000000 \(big) | tail -c 77777) <(head -c 5000000 \(original) | tail -c 77777)
                tmp=$(mktemp -d)
                cp -r \(Shell.quote(mount.path("dir1"))) "$tmp/copy"
                diff -r "$tmp/copy" \(Shell.quote(server.path("dir1")))
                cp \(big) "$tmp/big"
                cmp "$tmp/big" \(original)
                rm -rf "$tmp"
                test "$(find \(Shell.quote(mount.mountpoint)) -name '*.txt' | wc -l)" = "$(find \(Shell.quote(server.root)) -name '*.txt' | wc -l)"
                ls -la \(Shell.quote(mount.mountpoint)) | grep -q ' \\.hidden\\.txt$'
                """
            let result = try Shell.run(["bash", "-c", script], timeout: .seconds(300))
            #expect(result.status == 0, "script failed: \(result.stderr)")
            #expect(result.stdout == "a name with two spaces\n")
        }
    }

    @Test(arguments: StandardServer.allCases)
    func randomReadsOfTheBigFileMatch(_ kind: StandardServer) throws {
        let server = try ReadFixture.server(kind)
        try TestMount.withMount(url: server.url()) { mount in
            var generator = SystemRandomNumberGenerator()
            var script = "set -e\n"
            for _ in 0..<50 {
                let length = Int.random(in: 1...300_000, using: &generator)
                let offset = Int.random(in: 0...(ReadFixture.bigFileSize - length), using: &generator)
                let read = "dd status=none iflag=skip_bytes,count_bytes skip=\(offset) count=\(length) bs=65536 if="
                script += "cmp <(\(read)\(Shell.quote(mount.path(TestDataSet.bigFileName)))) "
                    + "<(\(read)\(Shell.quote(server.path(TestDataSet.bigFileName)))) || { echo \"mismatch at \(offset)+\(length)\"; exit 1; }\n"
            }
            let result = try Shell.run(["bash", "-c", script], timeout: .seconds(300))
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        }
    }

    @Test(arguments: StandardServer.allCases)
    func eightConcurrentReadersGetTheirOwnData(_ kind: StandardServer) throws {
        let server = try ReadFixture.server(kind)
        // Four connections for eight readers: idle streams must give way, never deadlock.
        try TestMount.withMount(url: server.url(), options: ["max_conns=4"]) { mount in
            var script = "set -e\n"
            for (index, file) in ReadFixture.parallelFiles.enumerated() {
                script += "sha256sum < \(Shell.quote(mount.path(file))) > \"$0.\(index)\" &\n"
            }
            script += "wait\n"
            for index in ReadFixture.parallelFiles.indices { script += "cat \"$0.\(index)\"\n" }
            let output = try TestDirectory.make("parallel-out")
            defer { TestDirectory.cleanUp(output) }
            let result = try Shell.run(["bash", "-c", script, output + "/sum"], timeout: .seconds(300)).check()
            let sums = result.stdout.split(separator: "\n").map { String($0.prefix(64)) }
            let expected = try ReadFixture.parallelFiles.map { try TestDataSet.sha256(ofFile: server.path($0)) }
            #expect(sums == expected)
        }
    }

    @Test(arguments: StandardServer.allCases)
    func aMissingPathIsENOENT(_ kind: StandardServer) throws {
        let server = try ReadFixture.server(kind)
        try TestMount.withMount(url: server.url()) { mount in
            for path in ["no such file", "dir1/missing", "\u{7248}\u{672C}/missing.txt"] {
                let result = try Shell.run(["stat", mount.path(path)], timeout: .seconds(30))
                #expect(result.status != 0)
                #expect(result.stderr.contains("No such file or directory"), "stat \(path): \(result.stderr)")
            }
            let cat = try Shell.run(["cat", mount.path("dir1/nothing.txt")], timeout: .seconds(30))
            #expect(cat.stderr.contains("No such file or directory"))
        }
    }

    @Test(arguments: StandardServer.allCases)
    func aWrongPasswordFailsBeforeMountingWithTheServersMessage(_ kind: StandardServer) throws {
        let server = try ReadFixture.server(kind)
        let user = try #require(server.user)
        let wrong = FTPTestUser(name: user.name, password: "definitely-wrong")
        let result = try TestMount.run(expectingFailure: server.url(as: wrong))
        #expect(result.failed, "\(result)")
        #expect(!result.mounted)
        #expect(result.stderr.contains("530"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("login"), "stderr: \(result.stderr)")
        #expect(!result.stderr.contains("definitely-wrong"), "the password leaked into: \(result.stderr)")
    }

    @Test(arguments: StandardServer.allCases)
    func aDetachedMountIsUpWhenTheCommandReturnsAndGoneAfterUnmount(_ kind: StandardServer) throws {
        let server = try ReadFixture.server(kind)
        let mountpoint = try TestDirectory.make("detached")
        defer { TestDirectory.cleanUp(mountpoint) }
        let binary = try FTPFSBinary.path
        // No -f: ftpfs must return once the mount is up, leaving a daemon behind.
        let start = try Shell.run([binary, "-o", "auto_unmount", server.url(), mountpoint], timeout: .seconds(30))
        #expect(start.status == 0, "ftpfs: \(start.stderr)")
        #expect(MountTable.isMounted(mountpoint))
        let daemons = processes(withArgument: mountpoint)
        #expect(daemons.count == 1, "daemons: \(daemons)")
        let listing = try Shell.run(["ls", mountpoint], timeout: .seconds(30)).check()
        #expect(listing.stdout.contains(TestDataSet.helloFileName))
        try Shell.run(["fusermount3", "-u", mountpoint], timeout: .seconds(30)).check()
        #expect(!MountTable.isMounted(mountpoint))
        // Unmounting ends the daemon (a zombie awaiting a reaper counts as ended).
        let deadline = Date().addingTimeInterval(10)
        while !processes(withArgument: mountpoint).isEmpty && Date() < deadline { usleep(50_000) }
        #expect(processes(withArgument: mountpoint).isEmpty)
    }

    @Test func unusableMountpointsAndServersFailClearlyWithoutMounting() throws {
        let server = try ReadFixture.server(.pyftpdlib)
        let missing = try Shell.run([try FTPFSBinary.path, "-f", server.url(), "/tmp/ftpfs-tests/does/not/exist"],
                                    timeout: .seconds(30))
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("does/not/exist"), "\(missing.stderr)")

        let refused = try TestMount.run(expectingFailure: "ftp://127.0.0.1:1/")
        #expect(refused.failed && !refused.mounted)
        #expect(refused.stderr.contains("refused"), "\(refused.stderr)")

        let unknown = try TestMount.run(expectingFailure: "ftp://no-such-host.invalid/")
        #expect(unknown.failed && !unknown.mounted)
        #expect(unknown.stderr.contains("no-such-host.invalid"), "\(unknown.stderr)")

        let badDirectory = try TestMount.run(expectingFailure: server.url(path: "/no/such/dir"))
        #expect(badDirectory.failed && !badDirectory.mounted)
        #expect(badDirectory.stderr.contains("/no/such/dir"), "\(badDirectory.stderr)")
    }
}

@Suite(.enabled(if: TestRequirements.canRun(.fuse, .root)))
struct MountFailureTests {
    @Test func aServerThatNeverGreetsFailsWithinTheConnectTimeout() throws {
        try TestRequirements.require(.fuse, .root)
        // A listening socket that never accepts: the kernel completes the TCP handshake, and
        // then nothing is ever said.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                #expect(bind(listener, raw, length) == 0)
                #expect(listen(listener, 8) == 0)
                #expect(getsockname(listener, raw, &length) == 0)
            }
        }
        let port = UInt16(bigEndian: address.sin_port)
        let started = Date()
        let result = try TestMount.run(expectingFailure: "ftp://127.0.0.1:\(port)/", options: ["connect_timeout=2"])
        let elapsed = Date().timeIntervalSince(started)
        #expect(result.failed && !result.mounted, "\(result)")
        #expect(result.exitStatus == .exited(75))
        #expect(result.stderr.contains("timed out"), "\(result.stderr)")
        #expect(elapsed < 10, "took \(elapsed) s")
    }

    @Test func aMissingFuseDeviceFailsBeforeConnecting() throws {
        try TestRequirements.require(.fuse, .root)
        let mountpoint = try TestDirectory.make("no-fuse")
        defer { TestDirectory.cleanUp(mountpoint) }
        // A private mount namespace whose /dev is empty.
        let script = "mount -t tmpfs none /dev && exec \(Shell.quote(try FTPFSBinary.path)) ftp://127.0.0.1:1/ \(Shell.quote(mountpoint))"
        let result = try Shell.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                   timeout: .seconds(30))
        #expect(result.status == 71, "\(result.stderr)")
        #expect(result.stderr.contains("/dev/fuse does not exist"), "\(result.stderr)")
        #expect(!MountTable.isMounted(mountpoint))
    }
}

/// PIDs of live (not zombie) ftpfs processes whose command line contains `argument`. (With
/// auto_unmount, libfuse also leaves a `fusermount3 --auto-unmount` watcher, which is not ours.)
func processes(withArgument argument: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { pid in
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
              let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              !status.contains(") Z "),
              status.contains("(ftpfs)")
        else { return false }
        return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == argument }
    }
}
