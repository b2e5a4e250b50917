import Foundation
import Testing
import TestSupport

// Self-checks of the test harness (Tests/TestSupport): the real FTP servers
// every later test relies on come up, accept the logins they should, serve the
// data set, log what they receive, and misbehave on cue. Checked with curl, so
// they do not depend on our own FTP client.

/// Lines of a `curl --list-only` answer.
private func names(_ result: ShellResult) -> Set<String> {
    Set(result.stdout.split(whereSeparator: \.isNewline).map(String.init))
}

private func curl(_ arguments: String...) throws -> ShellResult {
    try Shell.run(["curl", "--silent", "--show-error", "--max-time", "30"] + arguments, timeout: .seconds(40))
}

@Suite(.enabled(if: TestRequirements.canRun(.pyftpdlib, .curl)))
struct PyftpdlibTestServerTests {
    @Test func userAndAnonymousLoginsServeTheDataSet() throws {
        try TestRequirements.require(.pyftpdlib, .curl)
        let root = try TestDirectory.make("data")
        defer { TestDirectory.cleanUp(root) }
        let manifest = try TestDataSet.generate(at: root)
        // A password that needs percent-encoding in the URL.
        let user = FTPTestUser(name: "alice", password: "p@ss w:rd/%é")
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [user], anonymous: true)
        defer { server.stop() }
        #expect(server.greeting.hasPrefix("220"))
        #expect(server.url(withPassword: false) == "ftp://alice@127.0.0.1:\(server.port)/")
        #expect(server.url(path: "a dir/x").hasSuffix("/a%20dir/x"))

        let listing = try curl("--list-only", server.url()).check()
        for name in ["hello.txt", "empty.txt", "sizes", "dir1", "a dir", "\u{7248}\u{672C}", ".hidden.txt"] {
            #expect(names(listing).contains(name), "\(name) missing from \(listing.stdout)")
        }
        let hello = try curl(server.url(as: nil, path: TestDataSet.helloFileName)).check()
        #expect(hello.stdout == TestDataSet.helloContent)
        let unicode = try curl(server.url(path: "\u{7248}\u{672C}/\u{6587}\u{4EF6}.txt")).check()
        #expect(unicode.stdout == "\u{6587}\u{4EF6}\n")
        let spaces = try curl(server.url(path: "a dir/file with  spaces.txt")).check()
        #expect(spaces.stdout == "a name with two spaces\n")

        // Anonymous is read-only.
        let upload = try TestDirectory.make("upload")
        defer { TestDirectory.cleanUp(upload) }
        try "x\n".write(toFile: upload + "/new.txt", atomically: true, encoding: .utf8)
        #expect(!(try curl("-T", upload + "/new.txt", server.url(as: nil))).succeeded)
        #expect(!FileManager.default.fileExists(atPath: server.path("new.txt")))

        // The log records the commands received, with PASS masked.
        let commands = server.receivedCommands()
        #expect(commands.contains("USER alice"))
        #expect(commands.contains("USER anonymous"))
        #expect(commands.contains("RETR hello.txt"))
        #expect(commands.contains("STOR new.txt"))
        #expect(!server.log().contains(user.password))
        #expect(try TestDataSet.manifest(of: root) == manifest, "serving must not change the tree")
    }

    @Test func userCanWrite() throws {
        try TestRequirements.require(.pyftpdlib, .curl)
        let server = try FTPTestServer.startPyftpdlib()
        defer { server.stop() }
        let upload = try TestDirectory.make("upload")
        defer { TestDirectory.cleanUp(upload) }
        try TestDataSet.writeRandomFile(at: upload + "/blob.bin", size: 300_000)
        try curl("-T", upload + "/blob.bin", server.url(path: "sub/blob.bin"), "--ftp-create-dirs").check()
        #expect(try TestDataSet.sha256(ofFile: server.path("sub/blob.bin"))
                == TestDataSet.sha256(ofFile: upload + "/blob.bin"))
    }

    @Test func stor552QuirkRefusesUploadsAndLeavesNoFile() throws {
        try TestRequirements.require(.pyftpdlib, .curl)
        let server = try FTPTestServer.startPyftpdlib(quirks: ["stor-552"])
        defer { server.stop() }
        let upload = try TestDirectory.make("upload")
        defer { TestDirectory.cleanUp(upload) }
        try TestDataSet.writeRandomFile(at: upload + "/file.bin", size: 100_000)

        let stor = try curl("-T", upload + "/file.bin", server.url())
        #expect(!stor.succeeded)
        #expect(stor.stderr.contains("552"), "\(stor)")
        let appe = try curl("-T", upload + "/file.bin", "--append", server.url(path: "appended.bin"))
        #expect(!appe.succeeded)
        #expect(!FileManager.default.fileExists(atPath: server.path("file.bin")))
        #expect(!FileManager.default.fileExists(atPath: server.path("appended.bin")))
        #expect(server.receivedCommands().contains("STOR file.bin"))
        #expect(server.receivedCommands().contains("APPE appended.bin"))
    }

    @Test func maxConnsQuirkAnswers421() throws {
        try TestRequirements.require(.pyftpdlib)
        let server = try FTPTestServer.startPyftpdlib(quirks: ["max-conns=1"])
        defer { server.stop() }
        // Two control connections at once: the second is turned away.
        let script = """
            exec 3<>/dev/tcp/127.0.0.1/\(server.port); read -r first <&3
            exec 4<>/dev/tcp/127.0.0.1/\(server.port); read -r second <&4
            echo "$first"; echo "$second"
            """
        let result = try Shell.run(["bash", "-c", script], timeout: .seconds(20)).check()
        let lines = result.stdout.split(whereSeparator: \.isNewline)
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("220") == true, "\(result)")
        #expect(lines.last?.hasPrefix("421") == true, "\(result)")
    }

    @Test func noMLSDRefusesMachineListings() throws {
        try TestRequirements.require(.pyftpdlib, .curl)
        let plain = try FTPTestServer.startPyftpdlib()
        defer { plain.stop() }
        let noMLSD = try FTPTestServer.startPyftpdlib(noMLSD: true)
        defer { noMLSD.stop() }
        try curl("-X", "MLSD", plain.url()).check()
        let refused = try curl("-X", "MLSD", noMLSD.url())
        #expect(!refused.succeeded)
        let feat = try curl("-v", "-Q", "FEAT", "--list-only", noMLSD.url())
        #expect(feat.stderr.contains("211"), "\(feat)")
        #expect(!feat.stderr.contains("MLST"), "\(feat)")
        try curl("--list-only", noMLSD.url()).check()  // LIST/NLST still work
    }

    @Test(.enabled(if: TestRequirements.canRun(.pyftpdlib, .curl, .ipv6)))
    func listensOnIPv6() throws {
        try TestRequirements.require(.pyftpdlib, .curl, .ipv6)
        let root = try TestDirectory.make("data")
        defer { TestDirectory.cleanUp(root) }
        try TestDataSet.generate(at: root)
        let server = try FTPTestServer.startPyftpdlib(root: root, ipv6: true)
        defer { server.stop() }
        #expect(server.url().contains("@[::1]:"))
        let hello = try curl(server.url(path: TestDataSet.helloFileName)).check()
        #expect(hello.stdout == TestDataSet.helloContent)
    }

    @Test func unknownQuirkFailsWithTheServersMessage() throws {
        try TestRequirements.require(.pyftpdlib)
        #expect {
            try FTPTestServer.startPyftpdlib(quirks: ["no-such-quirk"])
        } throws: { error in
            "\(error)".contains("unknown quirk")
        }
    }
}

@Suite(.enabled(if: TestRequirements.canRun(.vsftpd, .curl)))
struct VsftpdTestServerTests {
    @Test(arguments: [false, true])
    func anonymousIsReadOnlyAndHidesDotfiles(ipv6: Bool) throws {
        try TestRequirements.require(.vsftpd, .curl)
        if ipv6 { try TestRequirements.require(.ipv6) }
        let root = try TestDirectory.make("data")
        defer { TestDirectory.cleanUp(root) }
        try TestDataSet.generate(at: root)
        let server = try FTPTestServer.startVsftpd(root: root, ipv6: ipv6)
        defer { server.stop() }
        #expect(server.user == nil)
        #expect(server.url() == "ftp://\(ipv6 ? "[::1]" : "127.0.0.1"):\(server.port)/")

        let listing = try curl("--list-only", server.url()).check()
        #expect(names(listing).isSuperset(of: ["hello.txt", "dir1", "a dir", "\u{00DC}n\u{00EF}c\u{00F6}d\u{00E9}.txt"]),
                "\(listing.stdout)")
        #expect(!names(listing).contains(".hidden.txt"), "vsftpd shows dotfiles only when asked")
        let hello = try curl(server.url(path: TestDataSet.helloFileName)).check()
        #expect(hello.stdout == TestDataSet.helloContent)
        let deep = try curl(server.url(path: "dir1/dir2/dir3/deep.txt")).check()
        #expect(deep.stdout == "three levels down\n")

        let upload = try TestDirectory.make("upload")
        defer { TestDirectory.cleanUp(upload) }
        try "x\n".write(toFile: upload + "/new.txt", atomically: true, encoding: .utf8)
        #expect(!(try curl("-T", upload + "/new.txt", server.url())).succeeded)
        #expect(!FileManager.default.fileExists(atPath: server.path("new.txt")))

        let commands = server.receivedCommands()
        #expect(commands.contains("USER anonymous"))
        #expect(commands.contains("RETR hello.txt"))
    }

    @Test func localUserCanReadAndWrite() throws {
        try TestRequirements.require(.vsftpd, .curl)
        let root = try TestDirectory.make("data")
        defer { TestDirectory.cleanUp(root) }
        try TestDataSet.generate(at: root)
        let server = try FTPTestServer.startVsftpd(root: root, localUser: true)
        defer { server.stop() }
        #expect(server.user == FTPTestServer.vsftpdLocalUser)

        let listing = try curl("--list-only", server.url()).check()
        #expect(names(listing).contains("hello.txt"), "\(listing)")
        let upload = try TestDirectory.make("upload")
        defer { TestDirectory.cleanUp(upload) }
        try TestDataSet.writeRandomFile(at: upload + "/blob.bin", size: 250_000)
        try curl("-T", upload + "/blob.bin", server.url(path: "dir1/blob.bin")).check()
        #expect(try TestDataSet.sha256(ofFile: server.path("dir1/blob.bin"))
                == TestDataSet.sha256(ofFile: upload + "/blob.bin"))
        let owner = try Shell.run(["stat", "-c", "%U", server.path("dir1/blob.bin")]).check()
        #expect(owner.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == FTPTestServer.vsftpdLocalUser.name)
        // Existing files (created by the tests as root) are writable too.
        try curl("-Q", "DELE hello.txt", "--list-only", server.url()).check()
        #expect(!FileManager.default.fileExists(atPath: server.path("hello.txt")))

        let wrong = FTPTestUser(name: FTPTestServer.vsftpdLocalUser.name, password: "wrong")
        let denied = try curl("--list-only", server.url(as: wrong))
        #expect(!denied.succeeded)
        #expect(denied.stderr.contains("530"), "\(denied)")
        #expect(server.receivedCommands().contains("STOR blob.bin"))  // curl: CWD dir1, STOR blob.bin
    }
}

@Suite struct TestSupportHarnessTests {
    @Test func shellTimesOutAndKillsTheProcessGroup() throws {
        let start = ContinuousClock.now
        let result = try Shell.sh("sleep 30 & sleep 30; echo never", timeout: .milliseconds(500))
        #expect(result.timedOut)
        #expect(!result.succeeded)
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func shellPassesInputAndEnvironment() throws {
        let result = try Shell.sh("cat; echo \"$GREETING\"; echo oops >&2; exit 3",
                                  environment: ["GREETING": "hi"], input: "from stdin\n")
        #expect(result.status == 3)
        #expect(result.stdout == "from stdin\nhi\n")
        #expect(result.stderr == "oops\n")
    }

    /// A descriptor inherited by a long-lived child would keep a mount busy
    /// (fusermount3 -u: EBUSY) in an unrelated test.
    @Test(arguments: [false, true])
    func childrenInheritOnlyTheirStandardStreams(killWithTestProcess: Bool) throws {
        let directory = try TestDirectory.make("inherit")
        defer { TestDirectory.cleanUp(directory) }
        let path = directory + "/open-without-cloexec"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("x".utf8)))
        let descriptor = open(path, O_RDONLY)  // no O_CLOEXEC, as Foundation opens files
        try #require(descriptor >= 0)
        defer { close(descriptor) }

        let child = try ChildProcess(arguments: ["sleep", "30"], killWithTestProcess: killWithTestProcess)
        defer { child.terminate(grace: .seconds(2)) }
        // A guarded child is a shell until it execs the program.
        let deadline = ContinuousClock.now + .seconds(10)
        while (try? String(contentsOfFile: "/proc/\(child.pid)/comm", encoding: .utf8)) != "sleep\n",
              ContinuousClock.now < deadline {
            usleep(10_000)
        }
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(child.pid)/fd")
        let targets = open.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child.pid)/fd/\($0)") }
        #expect(!targets.contains(path), "the child holds \(targets)")
        #expect(Set(open) == ["0", "1", "2"], "the child holds \(targets)")
    }

    @Test func dataSetManifestDetectsChanges() throws {
        let root = try TestDirectory.make("data")
        defer { TestDirectory.cleanUp(root) }
        let manifest = try TestDataSet.generate(at: root, bigFileSize: 3 << 20)
        #expect(manifest[TestDataSet.bigFileName]?.size == 3 << 20)
        #expect(manifest["a dir/file with  spaces.txt"]?.kind == .file)
        #expect(manifest["empty dir"]?.kind == .directory)
        #expect(manifest["sizes/204800.bin"]?.size == 204_800)
        #expect(manifest["empty.txt"]?.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(manifest.withoutHiddenEntries[".hidden.txt"] == nil)
        #expect(manifest.differences(from: try TestDataSet.manifest(of: root)).isEmpty)

        try TestDataSet.writeRandomFile(at: root + "/sizes/100.bin", size: 100)
        try FileManager.default.removeItem(atPath: root + "/empty.txt")
        let differences = manifest.differences(from: try TestDataSet.manifest(of: root))
        #expect(differences.count == 2, "\(differences)")
    }
}
