import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension FTPTestServer {
    /// The login of the test ProFTPD: a virtual user (AuthUserFile) that runs as nobody.
    public static let proftpdUser = FTPTestUser(name: "ftpfs", password: "ftpfs-proftpd-pw-7")

    /// Where ProFTPD is unpacked: `FTPFS_PROFTPD_DIR`, else /var/cache/ftpfs-tests/proftpd.
    public static var proftpdDirectory: String {
        let configured = ProcessInfo.processInfo.environment["FTPFS_PROFTPD_DIR"] ?? ""
        return configured.isEmpty ? "/var/cache/ftpfs-tests/proftpd" : configured
    }

    public static var proftpdPath: String { proftpdDirectory + "/usr/sbin/proftpd" }

    private static let proftpdFetch = Mutex<Result<String, TestSupportError>?>(nil)

    /// Makes sure ProFTPD (with mod_tls) is unpacked, fetching it from Debian with
    /// Tests/Servers/fetch-proftpd.sh the first time (once per test process). Returns the
    /// proftpd binary's path.
    public static func ensureProFTPD() throws -> String {
        try proftpdFetch.withLock { state in
            if state == nil {
                state = Result { () throws(TestSupportError) -> String in
                    let script = serversDirectory + "/fetch-proftpd.sh"
                    let result: ShellResult
                    do {
                        result = try Shell.run([script, proftpdDirectory], timeout: .seconds(600))
                    } catch {
                        throw TestSupportError("cannot run \(script): \(error)")
                    }
                    guard result.succeeded, access(proftpdPath, X_OK) == 0 else {
                        throw TestSupportError("""
                            ProFTPD is not available: \(script) failed (it fetches proftpd-core and \
                            proftpd-mod-crypto with apt-get download, as root).
                            \(tail(result.stderr + result.stdout, limit: 2000))
                            """)
                    }
                    return proftpdPath
                }
            }
            return try state!.get()
        }
    }

    /// Starts ProFTPD (`proftpd -n -c CONFIG`, as root, from its unpacked directory) with a
    /// generated configuration: one virtual user `proftpdUser` chrooted to `root` (DefaultRoot),
    /// every command logged to `logPath` in the shape `receivedCommands()` reads, and with `tls`
    /// mod_tls in its defaults — session reuse on data connections required, as shipped.
    ///
    /// - Parameters:
    ///   - root: directory to serve (made writable for the server's user); nil creates one.
    ///   - tls: mod_tls with this certificate (`TLSRequired on` when `required`,
    ///     `TLSOptions UseImplicitSSL` when `implicit`); nil for plain FTP.
    ///   - extraConfig: more configuration lines, appended.
    public static func startProFTPD(
        root: String? = nil,
        tls: TestServerTLS? = nil,
        extraConfig: [String] = [],
        startTimeout: Duration = .seconds(30)
    ) throws -> FTPTestServer {
        guard geteuid() == 0 else { throw TestSupportError("ProFTPD must be started as root") }
        let binary = try ensureProFTPD()
        let workDirectory = try TestDirectory.make("proftpd")
        var servedRoot = root ?? workDirectory + "/root"
        do {
            if root == nil {
                try FileManager.default.createDirectory(atPath: servedRoot, withIntermediateDirectories: false)
            }
            servedRoot = URL(fileURLWithPath: servedRoot).resolvingSymlinksInPath().path
            // The session runs as nobody: everything served must be its.
            try Shell.run(["chown", "-R", "--no-dereference", "nobody:nogroup", servedRoot]).check()
            try makeTraversable(servedRoot)

            let user = proftpdUser
            let hash = try Shell.run(["openssl", "passwd", "-6", "-stdin"], input: user.password + "\n").check()
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let nobody = getpwnam("nobody").map { ($0.pointee.pw_uid, $0.pointee.pw_gid) } ?? (65534, 65534)
            let passwdPath = workDirectory + "/ftpd.passwd"
            let groupPath = workDirectory + "/ftpd.group"
            try "\(user.name):\(hash):\(nobody.0):\(nobody.1)::\(servedRoot):/bin/false\n"
                .write(toFile: passwdPath, atomically: true, encoding: .utf8)
            try "nogroup:x:\(nobody.1):\n".write(toFile: groupPath, atomically: true, encoding: .utf8)
            chmod(passwdPath, 0o600)
            chmod(groupPath, 0o600)

            let host = "127.0.0.1"
            let logPath = workDirectory + "/commands.log"
            let stdoutPath = workDirectory + "/stdout"
            let stderrPath = workDirectory + "/stderr"
            let configPath = workDirectory + "/proftpd.conf"
            let deadline = ContinuousClock.now + startTimeout
            var attempt = 0
            while true {
                attempt += 1
                let port = try Loopback.freePort(host: host)
                let config = proftpdConfig(port: port, workDirectory: workDirectory, passwdPath: passwdPath,
                                           groupPath: groupPath, logPath: logPath, tls: tls, extraConfig: extraConfig)
                try config.write(toFile: configPath, atomically: true, encoding: .utf8)
                chmod(configPath, 0o600)
                let process = try ChildProcess(
                    arguments: [binary, "-n", "-q", "-c", configPath],
                    stdoutPath: stdoutPath,
                    stderrPath: stderrPath,
                    killWithTestProcess: true
                )
                do {
                    let greeting = try waitForGreeting(process: process, name: "proftpd", host: host, port: port,
                                              implicitTLS: tls?.implicit == true, stderrPath: stderrPath, until: deadline)
                    return FTPTestServer(
                        kind: .proftpd, host: host, port: port, root: servedRoot, ownsRoot: root == nil,
                        user: user, users: [user], allowsAnonymous: false,
                        workDirectory: workDirectory, logPath: logPath, process: process, greeting: greeting)
                } catch {
                    process.terminate(grace: .seconds(2))
                    let output = read(stderrPath) + read(workDirectory + "/system.log")
                    if attempt < 5 && output.contains("in use") && ContinuousClock.now < deadline {
                        continue
                    }
                    throw TestSupportError("\(error)\n--- system.log:\n\(tail(read(workDirectory + "/system.log")))"
                        + "\n--- proftpd.conf:\n\(config)")
                }
            }
        } catch {
            TestDirectory.cleanUp(workDirectory)
            throw error
        }
    }

    /// The TLS log of a ProFTPD server (mod_tls says there why it refused a data connection).
    public func proftpdTLSLog() -> String {
        Self.read(workDirectory + "/tls.log")
    }

    static func proftpdConfig(port: Int, workDirectory: String, passwdPath: String, groupPath: String,
                              logPath: String, tls: TestServerTLS?, extraConfig: [String]) -> String {
        var lines = [
            "# Generated by ftpfs's Tests/TestSupport for one test server.",
            "ServerName \"ftpfs test server (ProFTPD)\"",
            "ServerType standalone",
            "DefaultAddress 127.0.0.1",
            "SocketBindTight on",
            "UseIPv6 off",
            "Port \(port)",
            "User nobody",
            "Group nogroup",
            "Umask 022",
            "MaxInstances 100",
            "PidFile \(workDirectory)/proftpd.pid",
            "ScoreboardFile \(workDirectory)/proftpd.scoreboard",
            "ModulePath \(proftpdDirectory)/usr/lib/proftpd",
            "WtmpLog off",
            "UseReverseDNS off",
            "<IfModule mod_delay.c>",
            "  DelayEngine off",
            "</IfModule>",
            "<IfModule mod_ctrls.c>",
            "  ControlsEngine off",
            "</IfModule>",
            "AuthOrder mod_auth_file.c",
            "AuthUserFile \(passwdPath)",
            "AuthGroupFile \(groupPath)",
            "RequireValidShell off",
            "DefaultRoot ~",
            "AllowOverwrite on",
            "AllowStoreRestart on",  // APPE and REST+STOR
            "TimesGMT on",
            "SystemLog \(workDirectory)/system.log",
            "TransferLog \(workDirectory)/xferlog",
            // The shape receivedCommands() reads (pyftpdlib's "] <- COMMAND"); %r hides PASS.
            "LogFormat ftpfs \"[P %{%Y-%m-%d %H:%M:%S}t] %a-[%u] <- %r\"",
            "ExtendedLog \(logPath) ALL ftpfs",
        ]
        if let tls {
            lines += [
                "LoadModule mod_tls.c",
                "<IfModule mod_tls.c>",
                "  TLSEngine on",
                "  TLSRequired \(tls.required ? "on" : "off")",
                "  TLSRSACertificateFile \(tls.certificate.certificatePath)",
                "  TLSRSACertificateKeyFile \(tls.certificate.keyPath)",
                "  TLSProtocol TLSv1.2 TLSv1.3",
                "  TLSVerifyClient off",
                "  TLSLog \(workDirectory)/tls.log",
                // No NoSessionReuseRequired: mod_tls's default, reuse required, is the point.
                tls.implicit ? "  TLSOptions UseImplicitSSL" : "",
                "</IfModule>",
            ]
        }
        lines += extraConfig
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every directory above the root must be traversable by nobody.
    private static func makeTraversable(_ root: String) throws {
        var directory = URL(fileURLWithPath: root).deletingLastPathComponent().path
        while directory != "/" && !directory.isEmpty {
            var info = stat()
            guard stat(directory, &info) == 0 else {
                throw TestSupportError("cannot stat \(directory): \(String(cString: strerror(errno)))")
            }
            if info.st_mode & 0o001 == 0 {
                guard directory == TestDirectory.base || directory.hasPrefix(TestDirectory.base + "/") else {
                    throw TestSupportError("ProFTPD cannot reach \(root): \(directory) is not searchable by others")
                }
                chmod(directory, (info.st_mode & 0o7777) | 0o005)
            }
            directory = URL(fileURLWithPath: directory).deletingLastPathComponent().path
        }
    }
}
