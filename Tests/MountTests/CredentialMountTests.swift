import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Where the password comes from, end to end through the built binary: the URL (hidden from
/// ps once parsed), `-o passfile=` (refused when others can read it), `FTPFS_PASSWORD`,
/// `~/.netrc` and `-o netrc_file=`; and `-d`, which traces the login with the password masked.
/// (Precedence and parsing are unit-tested in MountOptionsTests.)
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib)))
struct CredentialMountTests {
    static let shared = SharedTestServer {
        let root = try TestDirectory.make("credentials")
        try TestDataSet.generate(at: root)
        return try .startPyftpdlib(root: root)
    }

    static func server() throws -> FTPTestServer {
        try TestRequirements.require(.fuse, .pyftpdlib)
        return try shared.get()
    }

    static let password = FTPTestUser.standard.password

    /// A file only its owner may read (or `mode`), holding `text`.
    static func secretFile(_ text: String, mode: mode_t = 0o600) throws -> (directory: String, path: String) {
        let directory = try TestDirectory.make("secret")
        let path = directory + "/secret"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode)
        return (directory, path)
    }

    static func expectServesTheTree(_ mount: TestMount, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let hello = try String(contentsOfFile: mount.path(TestDataSet.helloFileName), encoding: .utf8)
        #expect(hello == TestDataSet.helloContent, sourceLocation: sourceLocation)
    }

    @Test func aPasswordInTheURLWorksWarnsAndIsHiddenFromPs() throws {
        let server = try Self.server()
        try TestMount.withMount(url: server.url()) { mount in
            try Self.expectServesTheTree(mount)
            let commandLine = try #require(FileManager.default.contents(atPath: "/proc/\(mount.pid)/cmdline"))
            let arguments = commandLine.split(separator: 0, omittingEmptySubsequences: true)
                .map { String(decoding: $0, as: UTF8.self) }
            #expect(!arguments.joined(separator: " ").contains(Self.password), "ps shows: \(arguments)")
            #expect(arguments.contains("ftp://\(FTPTestUser.standard.name):***@\(server.host):\(server.port)/"),
                    "ps shows: \(arguments)")
            #expect(arguments.last == mount.mountpoint, "the arguments after the URL are intact: \(arguments)")
            #expect(mount.stderr.contains("other local users can see it in ps"), "\(mount.stderr)")
        }
    }

    @Test func aPassfileReadableByOthersIsRefusedWith66() throws {
        let server = try Self.server()
        let file = try Self.secretFile(Self.password + "\n", mode: 0o644)
        defer { TestDirectory.cleanUp(file.directory) }
        let result = try TestMount.run(expectingFailure: server.url(withPassword: false), options: ["passfile=" + file.path])
        #expect(result.exitStatus == .exited(66), "\(result)")
        #expect(result.stderr.contains(file.path), "\(result)")
        #expect(result.stderr.contains("accessible by group or others"), "\(result)")
        #expect(result.stderr.contains("chmod 600"), "\(result)")
        #expect(!result.stderr.contains(Self.password), "the password leaked: \(result)")

        // The same file, made private, works.
        chmod(file.path, 0o600)
        try TestMount.withMount(url: server.url(withPassword: false), options: ["passfile=" + file.path]) { mount in
            try Self.expectServesTheTree(mount)
        }
    }

    @Test func thePasswordCanComeFromTheEnvironment() throws {
        let server = try Self.server()
        try TestMount.withMount(url: server.url(withPassword: false),
                                environment: ["FTPFS_PASSWORD": Self.password]) { mount in
            try Self.expectServesTheTree(mount)
            #expect(!mount.stderr.contains("warning"), "\(mount.stderr)")
        }
    }

    @Test func thePasswordCanComeFromNetrc() throws {
        let server = try Self.server()
        let line = "machine \(server.host) login \(FTPTestUser.standard.name) password \(Self.password)\n"
        // -o netrc_file=
        let file = try Self.secretFile(line)
        defer { TestDirectory.cleanUp(file.directory) }
        try TestMount.withMount(url: "ftp://\(server.host):\(server.port)/", options: ["netrc_file=" + file.path]) { mount in
            try Self.expectServesTheTree(mount)
        }
        // ~/.netrc, with the user named in the URL.
        try Shell.run(["mv", file.path, file.directory + "/.netrc"]).check()
        try TestMount.withMount(url: server.url(withPassword: false), environment: ["HOME": file.directory]) { mount in
            try Self.expectServesTheTree(mount)
        }
        // A netrc with a password that others can read is refused.
        chmod(file.directory + "/.netrc", 0o644)
        let refused = try TestMount.run(expectingFailure: server.url(withPassword: false), options: ["netrc"],
                                        environment: ["HOME": file.directory])
        #expect(refused.exitStatus == .exited(66), "\(refused)")
        #expect(refused.stderr.contains(".netrc"), "\(refused)")
    }

    @Test func debugTracesEveryCommandAndReplyWithThePasswordMasked() throws {
        let server = try Self.server()
        try TestMount.withMount(url: server.url(withPassword: false), extraArgs: ["-d"],
                                environment: ["FTPFS_PASSWORD": Self.password]) { mount in
            try Self.expectServesTheTree(mount)
            let log = mount.stderr
            #expect(log.contains("> USER \(FTPTestUser.standard.name)"), "\(log.prefix(3000))")
            #expect(log.contains("> PASS ****"), "\(log.prefix(3000))")
            #expect(log.contains("< 230"), "\(log.prefix(3000))")
            #expect(log.contains("RETR"), "the read should be traced too")
            #expect(!log.contains(Self.password), "the password leaked into the debug trace")
        }
    }

    @Test func logLevelWarningKeepsRoutineMessagesOut() throws {
        let server = try Self.server()
        let mount = try TestMount.mount(url: server.url(withPassword: false), options: ["log_level=warning"],
                                        environment: ["FTPFS_PASSWORD": Self.password])
        defer { try? mount.unmount() }
        try Self.expectServesTheTree(mount)
        try mount.unmount()
        // "unmounted …" is an info line: not at log_level=warning.
        #expect(!mount.stderr.contains("unmounted"), "\(mount.stderr)")
    }
}
