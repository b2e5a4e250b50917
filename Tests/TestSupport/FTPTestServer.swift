import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A login on a test server.
public struct FTPTestUser: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var password: String

    public init(name: String, password: String) {
        self.name = name
        self.password = password
    }

    /// The default pyftpdlib user (full permissions on the root).
    public static let standard = FTPTestUser(name: "ftpfs", password: "ftpfs-test-password")

    public var description: String { name }
}

/// A real FTP server on loopback, in its own temporary directory under
/// /tmp/ftpfs-tests, on a free port. Start one with `startPyftpdlib` or
/// `startVsftpd`; stop it with `stop()` (also done by `deinit`, and the server
/// dies with the test process in any case).
///
/// Keep the server alive for as long as a test uses it, e.g.
/// `let server = try FTPTestServer.startPyftpdlib(…); defer { server.stop() }`
/// (Swift may release an object after its last use, before the end of scope).
public final class FTPTestServer: @unchecked Sendable {
    public enum Kind: String, Sendable {
        case pyftpdlib
        case vsftpd
        /// ProFTPD with mod_tls, fetched from Debian (see FTPTestServer+ProFTPD.swift).
        case proftpd
    }

    public let kind: Kind
    /// "127.0.0.1" or "::1".
    public let host: String
    public let port: Int
    /// The served directory on local disk (the server's "/").
    public let root: String
    /// The login the URLs use by default; nil when the server is anonymous-only.
    public let user: FTPTestUser?
    /// Every non-anonymous login the server accepts.
    public let users: [FTPTestUser]
    public let allowsAnonymous: Bool
    /// The server's private temporary directory (config, logs, output).
    public let workDirectory: String
    /// The server's full protocol log (every command received and reply sent).
    public let logPath: String
    public let stdoutPath: String
    public let stderrPath: String
    /// The 220 greeting read when the server came up.
    public let greeting: String

    private let process: ChildProcess
    private let ownsRoot: Bool
    private let stopped = Mutex(false)

    init(kind: Kind, host: String, port: Int, root: String, ownsRoot: Bool, user: FTPTestUser?,
         users: [FTPTestUser], allowsAnonymous: Bool, workDirectory: String, logPath: String,
         process: ChildProcess, greeting: String) {
        self.kind = kind
        self.host = host
        self.port = port
        self.root = root
        self.ownsRoot = ownsRoot
        self.user = user
        self.users = users
        self.allowsAnonymous = allowsAnonymous
        self.workDirectory = workDirectory
        self.logPath = logPath
        self.stdoutPath = workDirectory + "/stdout"
        self.stderrPath = workDirectory + "/stderr"
        self.process = process
        self.greeting = greeting
    }

    deinit {
        stop()
    }

    public var pid: pid_t { process.pid }
    public var username: String? { user?.name }
    public var password: String? { user?.password }
    public var isRunning: Bool { process.isRunning }

    /// `ftp://user:password@127.0.0.1:PORT/path` for the default login
    /// (`ftp://127.0.0.1:PORT/path` on an anonymous-only server).
    /// User, password and path segments are percent-encoded; IPv6 hosts are
    /// bracketed. `path` may start with "/" or not; "/" is kept between segments.
    public func url(withPassword: Bool = true, path: String = "/") -> String {
        url(as: user, withPassword: withPassword, path: path)
    }

    /// The URL for another login (`nil` = anonymous, no user info).
    public func url(as login: FTPTestUser?, withPassword: Bool = true, path: String = "/") -> String {
        var text = "ftp://"
        if let login {
            text += Self.percentEncode(login.name)
            if withPassword { text += ":" + Self.percentEncode(login.password) }
            text += "@"
        }
        text += host.contains(":") ? "[\(host)]" : host
        text += ":\(port)"
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
            .map { Self.percentEncode(String($0)) }
        let encodedPath = segments.joined(separator: "/")
        text += encodedPath.hasPrefix("/") ? encodedPath : "/" + encodedPath
        return text
    }

    /// The local path of `relativePath` inside the served root.
    public func path(_ relativePath: String) -> String {
        relativePath.hasPrefix("/") ? root + relativePath : root + "/" + relativePath
    }

    /// Stops the server (SIGTERM to its process group, SIGKILL after 5 s),
    /// waits for it, and removes its temporary directory (and the root, if the
    /// server created it) unless FTPFS_TEST_KEEP is set. Idempotent.
    public func stop() {
        let alreadyStopped = stopped.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        guard !alreadyStopped else { return }
        process.terminate(grace: .seconds(5))
        if ownsRoot { TestDirectory.cleanUp(root) }
        TestDirectory.cleanUp(workDirectory)
    }

    /// The protocol log so far.
    public func log() -> String {
        Self.read(logPath)
    }

    /// The server's stderr so far.
    public func serverOutput() -> String {
        Self.read(stderrPath)
    }

    /// The commands the server received, in order, as sent ("USER ftpfs",
    /// "MLSD /dir"); PASS arguments are masked by both servers.
    public func receivedCommands() -> [String] {
        let lines = log().split(separator: "\n")
        switch kind {
        case .pyftpdlib, .proftpd:
            // [D 2024-01-01 12:00:00,000] 127.0.0.1:40000-[user] <- RETR file
            // (ProFTPD's ExtendedLog is given the same shape: "[P …] 127.0.0.1-[user] <- RETR file")
            return lines.compactMap { line in
                line.range(of: "] <- ").map { String(line[$0.upperBound...]) }
            }
        case .vsftpd:
            // Mon Jan  1 12:00:00 2024 [pid 42] [user] FTP command: Client "127.0.0.1", "RETR file"
            return lines.compactMap { line in
                guard line.hasSuffix("\""), let marker = line.range(of: "FTP command: Client \"") else { return nil }
                let rest = line[marker.upperBound...]
                guard let start = rest.range(of: "\", \"") else { return nil }
                return String(rest[start.upperBound...].dropLast())
            }
        }
    }

    // MARK: - Shared helpers of the two kinds of server

    /// Debian's interpreter: the first `python3` in PATH may be a pyenv one
    /// without python3-pyftpdlib.
    public static let python = "/usr/bin/python3"
    public static let vsftpdPath = "/usr/sbin/vsftpd"

    /// Tests/Servers: `FTPFS_TEST_SERVERS_DIR`, else found from this source file.
    public static var serversDirectory: String {
        if let directory = ProcessInfo.processInfo.environment["FTPFS_TEST_SERVERS_DIR"], !directory.isEmpty {
            return directory
        }
        // Resolve symlinks: a development package may link to this directory.
        let source = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        return source.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Servers").path
    }

    public static var serverScript: String {
        get throws {
            let script = serversDirectory + "/ftp_server.py"
            guard FileManager.default.fileExists(atPath: script) else {
                throw TestSupportError("\(script) not found (set FTPFS_TEST_SERVERS_DIR to the Tests/Servers directory)")
            }
            return script
        }
    }

    static func read(_ path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    static func percentEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }

    /// Waits until the server answers with a 220 greeting (over TLS from the first byte for
    /// implicit FTPS); throws with the server's stderr if it exits or stays silent.
    static func waitForGreeting(process: ChildProcess, name: String, host: String, port: Int, implicitTLS: Bool = false,
                                stderrPath: String, until deadline: ContinuousClock.Instant) throws -> String {
        var lastError: Error?
        while ContinuousClock.now < deadline {
            if let status = process.status {
                throw TestSupportError(
                    "\(name) exited (\(status)) before it answered on \(host) port \(port).\n"
                        + "--- its stderr:\n\(tail(read(stderrPath)))")
            }
            do {
                let remaining = min(deadline - ContinuousClock.now, .seconds(5))
                return implicitTLS
                    ? try ImplicitTLSProbe.readGreeting(host: host, port: port, timeout: remaining)
                    : try Loopback.readGreeting(host: host, port: port, timeout: remaining)
            } catch {
                lastError = error
                sleep(for: .milliseconds(50))
            }
        }
        process.terminate(grace: .seconds(2))
        throw TestSupportError(
            "\(name) did not greet\(implicitTLS ? " over TLS" : "") on \(host) port \(port) in time (last error: \(lastError.map { "\($0)" } ?? "none")).\n"
                + "--- its stderr:\n\(tail(read(stderrPath)))")
    }
}

/// A server started once, on first use, and shared by the tests of a suite
/// (Swift Testing makes a new suite instance per test). It lives until the
/// test process exits. A failed start is remembered and rethrown.
///
///     static let server = SharedTestServer { try .startPyftpdlib() }
///     @Test func x() throws { let server = try Self.server.get() … }
public final class SharedTestServer: Sendable {
    private let start: @Sendable () throws -> FTPTestServer
    private let state = Mutex<Result<FTPTestServer, TestSupportError>?>(nil)

    public init(_ start: @escaping @Sendable () throws -> FTPTestServer) {
        self.start = start
    }

    public func get() throws -> FTPTestServer {
        try state.withLock { state in
            if state == nil {
                do {
                    state = .success(try start())
                } catch {
                    state = .failure(error as? TestSupportError ?? TestSupportError("\(error)"))
                }
            }
            return try state!.get()
        }
    }
}
