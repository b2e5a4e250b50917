import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// What ftpfs refuses, or does quietly, so that the mount cannot be used against its user:
/// a TLS data stream cut without close_notify, a file name encoding that could put CR LF on
/// the wire, a cache directory another user controls, the password left in
/// /proc/PID/environ, and `allow_other` letting everyone act with the mount owner's login.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .root, .pyftpdlib)))
struct SecurityMountTests {
    // MARK: - FTPS: a stream cut short is an error

    /// pyftpdlib with TLS whose downloads end after `cutAfter` bytes with a bare FIN and a 226.
    private func cuttingServer(cutAfter: Int, root: String) throws -> FTPTestServer {
        try FTPTestServer.startPyftpdlib(root: root, quirks: ["tls-cut-data=\(cutAfter)"],
                                         tls: TestServerTLS(certificate: try TestCertificates.shared().server))
    }

    @Test func aTLSDownloadCutWithoutCloseNotifyFailsWithEIO() throws {
        try TestRequirements.require(.fuse, .openssl, .pyftpdlibTLS)
        let root = try TestDirectory.make("tls-cut")
        defer { TestDirectory.cleanUp(root) }
        try TestDataSet.writeRandomFile(at: root + "/big.bin", size: 1_000_000)
        let server = try cuttingServer(cutAfter: 1000, root: root)
        defer { server.stop() }

        try TestMount.withMount(url: server.tlsURL(), options: ["cafile=" + TestCertificates.shared().caPath]) { mount in
            // Every RETR ends after 1,000 bytes with a bare FIN and a 226: a client that took the
            // FIN for the end would serve those 1,000 bytes as the whole file. (The cut comes
            // within the kernel's smallest read, a page, so no retry of it gets further.)
            let cut = try Shell.run(["cat", mount.path("big.bin")], timeout: .seconds(60))
            #expect(cut.status != 0, "cat of a cut download succeeded with \(cut.stdout.utf8.count) bytes")
            #expect(cut.stderr.contains("Input/output error"), "\(cut.stderr)")
            #expect(mount.stderr.contains("ended without TLS close_notify"), "\(mount.stderr)")
            // Listings end with close_notify here: they still work.
            let listing = try Shell.run(["ls", "-l", mount.mountpoint], timeout: .seconds(30)).check()
            #expect(listing.stdout.contains("1000000"), "\(listing.stdout)")
        }
        #expect(server.log().contains("quirk tls-cut-data"), "the quirk never cut a transfer")
    }

    @Test func aTLSDownloadCutLateIsReadAroundNeverServedShort() throws {
        try TestRequirements.require(.fuse, .openssl, .pyftpdlibTLS)
        let root = try TestDirectory.make("tls-cut-late")
        defer { TestDirectory.cleanUp(root) }
        try TestDataSet.writeRandomFile(at: root + "/big.bin", size: 1_000_000)
        let original = try TestDataSet.sha256(ofFile: root + "/big.bin")
        let server = try cuttingServer(cutAfter: 300_000, root: root)
        defer { server.stop() }

        try TestMount.withMount(url: server.tlsURL(), options: ["cafile=" + TestCertificates.shared().caPath]) { mount in
            // The kernel retries a failed read in smaller pieces, each a new RETR with REST at
            // its offset, and each gets further than a piece before the cut: the file reads
            // whole, from bytes that all came with TLS's integrity, or the read fails. Never
            // the 300,000 bytes before the first cut as the whole file.
            let result = try Shell.run(["sha256sum", mount.path("big.bin")], timeout: .seconds(60))
            if result.status == 0 {
                #expect(result.stdout.hasPrefix(original), "\(result.stdout)")
            } else {
                #expect(result.stderr.contains("Input/output error"), "\(result.stderr)")
            }
        }
        #expect(server.log().contains("quirk tls-cut-data"), "the quirk never cut a transfer")
    }

    // MARK: - File name encodings that could put CR LF on the wire

    @Test(arguments: ["UTF-16", "UTF-32LE", "UCS-2", "IBM037"])
    func anEncodingThatIsNotASCIICompatibleExits64(_ encoding: String) throws {
        try TestRequirements.require(.fuse)
        // Port 1 refuses connections: exiting 64, not 69, shows the encoding is refused first.
        let result = try TestMount.run(expectingFailure: "ftp://127.0.0.1:1/", options: ["encoding=" + encoding])
        #expect(result.exitStatus == .exited(64), "\(result)")
        #expect(result.stderr.contains("encoding: '\(encoding)' is not ASCII-compatible"), "\(result)")
    }

    // MARK: - The password given in the environment

    @Test func ftpfsPasswordIsGoneFromProcEnviron() throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let root = try TestDirectory.make("environ")
        defer { TestDirectory.cleanUp(root) }
        try "hello\n".write(toFile: root + "/hello.txt", atomically: true, encoding: .utf8)
        let password = "env-secret-\(UInt32.random(in: 0...UInt32.max))"
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [FTPTestUser(name: "envuser", password: password)])
        defer { server.stop() }
        try TestMount.withMount(url: server.url(withPassword: false),
                                environment: ["FTPFS_PASSWORD": password, "FTPFS_TEST_MARKER": "still-here"]) { mount in
            let hello = try String(contentsOfFile: mount.path("hello.txt"), encoding: .utf8)
            #expect(hello == "hello\n", "the password from the environment logged in")
            let environ = try #require(FileManager.default.contents(atPath: "/proc/\(mount.pid)/environ"))
            #expect(environ.range(of: Data("FTPFS_TEST_MARKER=still-here".utf8)) != nil,
                    "this is ftpfs's environment: other variables stay")
            #expect(environ.range(of: Data(password.utf8)) == nil, "the password is still in /proc/PID/environ")
            #expect(environ.range(of: Data("FTPFS_PASSWORD".utf8)) == nil)
        }
    }

    // MARK: - allow_other

    /// The super options of the mount at `mountpoint` in /proc/self/mountinfo (after " - TYPE SOURCE").
    private func superOptions(of mountpoint: String) throws -> [String] {
        let mountinfo = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        let line = try #require(mountinfo.split(separator: "\n").first { $0.split(separator: " ")[4] == mountpoint },
                                "\(mountpoint) is not in /proc/self/mountinfo")
        let fields = line.split(separator: " ")
        let dash = try #require(fields.firstIndex(of: "-"))
        return fields[dash + 3].split(separator: ",").map(String.init)
    }

    @Test func allowOtherMountsWithDefaultPermissions() throws {
        try TestRequirements.require(.fuse, .root, .pyftpdlib)
        let root = try TestDirectory.make("allow-other")
        defer { TestDirectory.cleanUp(root) }
        try "shared\n".write(toFile: root + "/shared.txt", atomically: true, encoding: .utf8)
        let server = try FTPTestServer.startPyftpdlib(root: root)
        defer { server.stop() }
        try TestMount.withMount(url: server.url(), options: ["allow_other"]) { mount in
            let options = try superOptions(of: mount.mountpoint)
            #expect(options.contains("allow_other"), "\(options)")
            #expect(options.contains("default_permissions"), "\(options)")
            #expect(mount.stderr.contains("allow_other: adding default_permissions"), "\(mount.stderr)")
            let content = try String(contentsOfFile: mount.path("shared.txt"), encoding: .utf8)
            #expect(content == "shared\n")
        }
        // Without allow_other, nothing is added.
        try TestMount.withMount(url: server.url()) { mount in
            let options = try superOptions(of: mount.mountpoint)
            #expect(!options.contains("default_permissions"), "\(options)")
        }
    }

    // MARK: - A cache directory someone else controls

    static let cacheServer = SharedTestServer {
        let root = try TestDirectory.make("cache-owner")
        try "hello\n".write(toFile: root + "/hello.txt", atomically: true, encoding: .utf8)
        return try .startPyftpdlib(root: root)
    }

    /// A directory in `parent` made and given to nobody, as another user would have prepared it.
    private func plantedDirectory(in parent: String, name: String) throws -> String {
        let path = parent + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        chmod(path, 0o777)
        guard chown(path, 65534, 65534) == 0 else {
            throw TestSupportError("chown nobody \(path): \(String(cString: strerror(errno)))")
        }
        return path
    }

    @Test func aCacheDirectoryAnotherUserOwnsIsRefusedWith73() throws {
        try TestRequirements.require(.fuse, .root, .pyftpdlib)
        let server = try Self.cacheServer.get()
        let scratch = try TestDirectory.make("cache-owner-dirs")
        defer { TestDirectory.cleanUp(scratch) }
        let planted = try plantedDirectory(in: scratch, name: "cache")

        // -o cache_dir= (staged edits, upload spool and blocks).
        let explicit = try TestMount.run(expectingFailure: server.url(), options: ["cache_dir=" + planted])
        #expect(explicit.exitStatus == .exited(73), "\(explicit)")
        #expect(explicit.stderr.contains("cannot use \(planted): it belongs to nobody (uid 65534), not to you"),
                "\(explicit)")
        #expect(explicit.stderr.contains("-o cache_dir="), "\(explicit)")

        // The default, $XDG_CACHE_HOME/ftpfs, made first by someone else.
        let xdg = try plantedDirectory(in: scratch, name: "xdg-ftpfs")
        try FileManager.default.createDirectory(atPath: scratch + "/xdg", withIntermediateDirectories: false)
        try FileManager.default.moveItem(atPath: xdg, toPath: scratch + "/xdg/ftpfs")
        let byDefault = try TestMount.run(expectingFailure: server.url(), environment: ["XDG_CACHE_HOME": scratch + "/xdg"])
        #expect(byDefault.exitStatus == .exited(73), "\(byDefault)")
        #expect(byDefault.stderr.contains("cannot use \(scratch)/xdg/ftpfs: it belongs to nobody"), "\(byDefault)")

        // A symlink planted where the cache directory goes is not followed.
        let mine = scratch + "/mine"
        try FileManager.default.createDirectory(atPath: mine, withIntermediateDirectories: false)
        chmod(mine, 0o700)
        let link = scratch + "/link"
        #expect(symlink(mine, link) == 0)
        #expect(lchown(link, 65534, 65534) == 0)
        let linked = try TestMount.run(expectingFailure: server.url(), options: ["cache_dir=" + link])
        #expect(linked.exitStatus == .exited(73), "\(linked)")
        #expect(linked.stderr.contains("symlink made by nobody"), "\(linked)")
    }

    @Test func aMissingCacheDirectoryIsCreatedPrivateAndUsed() throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let server = try Self.cacheServer.get()
        let scratch = try TestDirectory.make("cache-created")
        defer { TestDirectory.cleanUp(scratch) }
        let cache = scratch + "/new-cache"
        try TestMount.withMount(url: server.url(), options: ["cache_dir=" + cache]) { mount in
            let hello = try String(contentsOfFile: mount.path("hello.txt"), encoding: .utf8)
            #expect(hello == "hello\n")
        }
        var info = stat()
        #expect(stat(cache, &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o700)
        #expect(stat(cache + "/blocks", &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o700)
    }
}
