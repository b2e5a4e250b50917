import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// One test per row of ftpfs's exit status table (`ftpfs --help`, man ftpfs, EXIT STATUS): the
/// status, and a message that says what happened and what to do.
///
/// Rows tested elsewhere: 71 (/dev/fuse missing) and 75 (timed out) in MountFailureTests
/// (ReadMountTests.swift), 78 (TLS verification) in TLSMountTests, 66 (passfile readable by
/// others) in CredentialMountTests; 0 by every mount.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .root, .pyftpdlib)))
struct ExitStatusMountTests {
    static let shared = SharedTestServer {
        let root = try TestDirectory.make("exit-status")
        try TestDataSet.generate(at: root)
        return try .startPyftpdlib(root: root)
    }

    static func server() throws -> FTPTestServer {
        try TestRequirements.require(.fuse, .root, .pyftpdlib)
        return try shared.get()
    }

    /// Runs the built ftpfs in the foreground on `mountpoint`, expecting it to fail before
    /// mounting (the preflight cases: nothing is mounted, so no cleanup is needed).
    func ftpfs(_ arguments: [String], prefix: [String] = []) throws -> ShellResult {
        try Shell.run(prefix + [try FTPFSBinary.path, "-f"] + arguments, timeout: .seconds(60))
    }

    // MARK: - Options and the URL

    @Test func aBadOptionExits64AndNamesTheOption() throws {
        let unknown = try TestMount.run(expectingFailure: "ftp://127.0.0.1:1/", options: ["no_such_option"])
        #expect(unknown.exitStatus == .exited(64), "\(unknown)")
        #expect(unknown.stderr.contains("unknown option 'no_such_option'"), "\(unknown)")

        let badValue = try TestMount.run(expectingFailure: "ftp://127.0.0.1:1/", options: ["max_conns=lots"])
        #expect(badValue.exitStatus == .exited(64), "\(badValue)")
        #expect(badValue.stderr.contains("max_conns"), "\(badValue)")
        #expect(badValue.stderr.contains("lots"), "\(badValue)")

        let badURL = try TestMount.run(expectingFailure: "http://127.0.0.1/")
        #expect(badURL.exitStatus == .exited(64), "\(badURL)")
        #expect(badURL.stderr.contains("http"), "\(badURL)")
    }

    // MARK: - Reaching and logging in to the server

    @Test func anUnknownHostExits68() throws {
        let result = try TestMount.run(expectingFailure: "ftp://no-such-host.invalid/")
        #expect(result.exitStatus == .exited(68), "\(result)")
        #expect(result.stderr.contains("cannot resolve host 'no-such-host.invalid'"), "\(result)")
    }

    @Test func aRefusedConnectionExits69() throws {
        let result = try TestMount.run(expectingFailure: "ftp://127.0.0.1:1/")
        #expect(result.exitStatus == .exited(69), "\(result)")
        #expect(result.stderr.contains("connection refused by 127.0.0.1:1"), "\(result)")
        #expect(result.stderr.contains("is an FTP server running there"), "\(result)")
    }

    @Test func aServerThatHangsUpAtOnceExits74() throws {
        let listener = try FixedGreetingServer(.closeAtOnce)
        defer { listener.stop() }
        let result = try TestMount.run(expectingFailure: "ftp://127.0.0.1:\(listener.port)/")
        #expect(result.exitStatus == .exited(74), "\(result)")
        #expect(result.stderr.contains("connection closed by the server"), "\(result)")
    }

    @Test func somethingThatIsNotAnFTPServerExits76() throws {
        let web = try FixedGreetingServer(.text("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
        defer { web.stop() }
        let result = try TestMount.run(expectingFailure: "ftp://127.0.0.1:\(web.port)/")
        #expect(result.exitStatus == .exited(76), "\(result)")
        #expect(result.stderr.contains("does not speak FTP"), "\(result)")
        #expect(result.stderr.contains("HTTP/1.1 400"), "\(result)")
    }

    @Test func aRefusedLoginExits77WithTheServersText() throws {
        let server = try Self.server()
        let wrong = FTPTestUser(name: FTPTestUser.standard.name, password: "not-the-password")
        let result = try TestMount.run(expectingFailure: server.url(as: wrong))
        #expect(result.exitStatus == .exited(77), "\(result)")
        #expect(result.stderr.contains("login to"), "\(result)")
        // pyftpdlib's own words, as the server sent them.
        #expect(result.stderr.contains("530 Authentication failed"), "\(result)")
        #expect(!result.stderr.contains("not-the-password"), "the password leaked: \(result)")
    }

    @Test func aMissingRemoteDirectoryExits77() throws {
        let server = try Self.server()
        let result = try TestMount.run(expectingFailure: server.url(path: "/no/such/dir"))
        #expect(result.exitStatus == .exited(77), "\(result)")
        #expect(result.stderr.contains("cannot open the directory /no/such/dir"), "\(result)")
    }

    @Test func anUnusableCacheDirectoryExits73() throws {
        let server = try Self.server()
        let result = try TestMount.run(expectingFailure: server.url(), options: ["cache_dir=/dev/null/staging"])
        #expect(result.exitStatus == .exited(73), "\(result)")
        #expect(result.stderr.contains("/dev/null/staging"), "\(result)")
        #expect(result.stderr.contains("-o cache_dir="), "\(result)")
    }

    @Test func aMountLibfuseRefusesExits1() throws {
        let server = try Self.server()
        // fuseblk needs a block device as its source: the kernel refuses the mount.
        let result = try TestMount.run(expectingFailure: server.url(), options: ["blkdev"])
        #expect(result.exitStatus == .exited(1), "\(result)")
        #expect(result.stderr.contains("cannot mount on"), "\(result)")
    }

    // MARK: - The mountpoint

    @Test func aMissingMountpointExits72() throws {
        let directory = try TestDirectory.make("mp-missing")
        defer { TestDirectory.cleanUp(directory) }
        let result = try ftpfs(["ftp://127.0.0.1:1/", directory + "/not/there"])
        #expect(result.status == 72, "\(result)")
        #expect(result.stderr.contains("No such file or directory"), "\(result)")
        #expect(result.stderr.contains("mkdir -p"), "\(result)")
    }

    @Test func aMountpointThatIsAFileExits80() throws {
        let directory = try TestDirectory.make("mp-file")
        defer { TestDirectory.cleanUp(directory) }
        let file = directory + "/file"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let result = try ftpfs(["ftp://127.0.0.1:1/", file])
        #expect(result.status == 80, "\(result)")
        #expect(result.stderr.contains("is not a directory"), "\(result)")
    }

    @Test func aNonEmptyMountpointExits81UnlessNonemptyIsGiven() throws {
        let server = try Self.server()
        let directory = try TestDirectory.make("mp-nonempty")
        defer { TestDirectory.cleanUp(directory) }
        try Data("mine".utf8).write(to: URL(fileURLWithPath: directory + "/local.txt"))
        let result = try ftpfs([server.url(), directory])
        #expect(result.status == 81, "\(result)")
        #expect(result.stderr.contains("is not empty"), "\(result)")
        #expect(result.stderr.contains("-o nonempty"), "\(result)")

        // With nonempty it mounts over the directory (in the background, then unmounted).
        let mounted = try Shell.run([try FTPFSBinary.path, "-o", "nonempty,auto_unmount", server.url(), directory],
                                    timeout: .seconds(60))
        #expect(mounted.status == 0, "\(mounted)")
        if MountTable.isMounted(directory) {
            #expect(FileManager.default.fileExists(atPath: directory + "/" + TestDataSet.helloFileName))
            try Shell.run(["fusermount3", "-u", directory], timeout: .seconds(30)).check()
        }
        #expect(!MountTable.isMounted(directory))
    }

    @Test func aMountpointInUseExits82() throws {
        let directory = try TestDirectory.make("mp-in-use")
        defer { TestDirectory.cleanUp(directory) }
        try Shell.run(["mount", "-t", "tmpfs", "ftpfs-test", directory]).check()
        defer { _ = try? Shell.run(["umount", directory]) }
        let result = try ftpfs(["-o", "nonempty", "ftp://127.0.0.1:1/", directory])
        #expect(result.status == 82, "\(result)")
        #expect(result.stderr.contains("is already a mountpoint"), "\(result)")
        #expect(result.stderr.contains("fusermount3 -u"), "\(result)")
    }

    @Test func aMountpointTheUserMayNotWriteExits83() throws {
        let binary = try UnprivilegedBinary.copy()
        defer { TestDirectory.cleanUp(binary.directory) }
        let directory = try TestDirectory.make("mp-not-yours")  // root's, mode 0755
        defer { TestDirectory.cleanUp(directory) }
        let result = try Shell.run(UnprivilegedBinary.asNobody + [binary.path, "-f", "ftp://127.0.0.1:1/", directory],
                                   timeout: .seconds(60))
        #expect(result.status == 83, "\(result)")
        #expect(result.stderr.contains("is not writable by you"), "\(result)")
    }

    // MARK: - /dev/fuse

    @Test func aFuseDeviceTheUserMayNotOpenExits84() throws {
        let binary = try UnprivilegedBinary.copy()
        defer { TestDirectory.cleanUp(binary.directory) }
        let mountpoint = try TestDirectory.make("no-fuse-access")
        defer { TestDirectory.cleanUp(mountpoint) }
        chown(mountpoint, 65534, 65534)
        let stub = binary.directory + "/not-fusermount3"
        try Data().write(to: URL(fileURLWithPath: stub))
        // A private mount namespace: /dev holds only a root-only /dev/fuse and /dev/null, and no
        // fusermount3 can mount for the user.
        let script = """
            set -e
            mount -t tmpfs none /dev
            mknod -m 600 /dev/fuse c 10 229
            mknod -m 666 /dev/null c 1 3
            for helper in /usr/bin/fusermount3 /bin/fusermount3; do
                if [ -e "$helper" ]; then mount --bind \(Shell.quote(stub)) "$helper"; fi
            done
            exec \((UnprivilegedBinary.asNobody + [binary.path, "-f", "ftp://127.0.0.1:1/", mountpoint]).map(Shell.quote).joined(separator: " "))
            """
        let result = try Shell.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                   timeout: .seconds(60))
        #expect(result.status == 84, "\(result)")
        #expect(result.stderr.contains("cannot open /dev/fuse: Permission denied"), "\(result)")
        #expect(!MountTable.isMounted(mountpoint))
    }
}

/// The built ftpfs copied where the unprivileged user `nobody` can run it, whatever the
/// permissions of the checkout (the debug build finds the Swift runtime by absolute RUNPATH).
enum UnprivilegedBinary {
    static let asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

    static func copy() throws -> (directory: String, path: String) {
        let directory = try TestDirectory.make("nobody-bin")
        let path = directory + "/ftpfs"
        try Shell.run(["cp", try FTPFSBinary.path, path]).check()
        chmod(path, 0o755)
        return (directory, path)
    }
}
