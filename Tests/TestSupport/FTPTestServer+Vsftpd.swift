import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension FTPTestServer {
    /// The system account vsftpd's read-write mode logs in as. Created on
    /// first use (as root): a system user with /usr/sbin/nologin as its shell.
    public static let vsftpdLocalUser = FTPTestUser(name: "ftpfstest", password: "ftpfs-test-pw-42")

    /// The PAM service the test vsftpd uses (written to /etc/pam.d on first
    /// use). Debian's /etc/pam.d/vsftpd adds pam_shells (the user's shell must
    /// be listed in /etc/shells) and /etc/ftpusers; ours is plain pam_unix
    /// (without its 2 s delay after a wrong password), so the test account
    /// needs no login shell.
    public static let vsftpdPAMService = "ftpfs-test"

    /// Starts /usr/sbin/vsftpd in the foreground with a generated config.
    ///
    /// - Parameters:
    ///   - root: directory to serve; nil creates an empty one that `stop()` removes.
    ///   - localUser: false: anonymous read-only (`anon_root`); the served
    ///     directory is made root-owned, 0755, and world-readable (a+rX).
    ///     true: the read-write account `vsftpdLocalUser` (`local_root`,
    ///     chrooted); the served tree is chowned to that user.
    ///   - ipv6: listen on ::1 instead of 127.0.0.1.
    ///   - passivePorts: restrict passive data ports to this range.
    ///   - extraConfig: more `key=value` lines; they override the defaults
    ///     (e.g. "force_dot_files=YES").
    ///   - tls: `ssl_enable=YES` with this certificate, `require_ssl_reuse` left at its default
    ///     (YES), `implicit_ssl` when asked.
    ///
    /// vsftpd has no MLSD and hides dotfiles from a plain LIST.
    public static func startVsftpd(
        root: String? = nil,
        localUser: Bool = false,
        ipv6: Bool = false,
        passivePorts: ClosedRange<Int>? = nil,
        extraConfig: [String] = [],
        tls: TestServerTLS? = nil,
        startTimeout: Duration = .seconds(20)
    ) throws -> FTPTestServer {
        guard access(vsftpdPath, X_OK) == 0 else {
            throw TestSupportError("\(vsftpdPath) not found (apt-get install vsftpd)")
        }
        guard geteuid() == 0 else {
            throw TestSupportError("vsftpd must be started as root")
        }
        if localUser { try ensureVsftpdLocalUser() }

        let workDirectory = try TestDirectory.make("vsftpd")
        var servedRoot = root ?? workDirectory + "/root"
        do {
            if root == nil {
                try FileManager.default.createDirectory(atPath: servedRoot, withIntermediateDirectories: false)
            }
            servedRoot = URL(fileURLWithPath: servedRoot).resolvingSymlinksInPath().path
            try prepareVsftpdRoot(servedRoot, localUser: localUser)
            // vsftpd's unprivileged processes chroot() into this empty directory.
            let emptyDirectory = workDirectory + "/empty"
            try FileManager.default.createDirectory(atPath: emptyDirectory, withIntermediateDirectories: false)
            chmod(emptyDirectory, 0o555)

            let host = ipv6 ? "::1" : "127.0.0.1"
            let logPath = workDirectory + "/vsftpd.log"
            let stdoutPath = workDirectory + "/stdout"
            let stderrPath = workDirectory + "/stderr"
            let configPath = workDirectory + "/vsftpd.conf"
            let deadline = ContinuousClock.now + startTimeout
            var attempt = 0
            while true {
                // A free port found by binding port 0 can be taken by someone
                // else before vsftpd binds it: retry with another one.
                attempt += 1
                let port = try Loopback.freePort(host: host)
                let config = vsftpdConfig(host: host, port: port, root: servedRoot, localUser: localUser,
                                          logPath: logPath, emptyDirectory: emptyDirectory,
                                          passivePorts: passivePorts,
                                          extraConfig: (tls.map(vsftpdTLSConfig) ?? []) + extraConfig)
                try config.write(toFile: configPath, atomically: true, encoding: .utf8)
                chmod(configPath, 0o600)
                let process = try ChildProcess(
                    arguments: [vsftpdPath, configPath],
                    stdoutPath: stdoutPath,
                    stderrPath: stderrPath,
                    killWithTestProcess: true
                )
                do {
                    let greeting = try waitForGreeting(process: process, name: "vsftpd", host: host, port: port,
                                              implicitTLS: tls?.implicit == true, stderrPath: stderrPath, until: deadline)
                    let login = localUser ? vsftpdLocalUser : nil
                    return FTPTestServer(
                        kind: .vsftpd, host: host, port: port, root: servedRoot, ownsRoot: root == nil,
                        user: login, users: login.map { [$0] } ?? [], allowsAnonymous: !localUser,
                        workDirectory: workDirectory, logPath: logPath, process: process, greeting: greeting)
                } catch {
                    process.terminate(grace: .seconds(2))
                    let output = read(stderrPath) + read(stdoutPath)
                    if attempt < 5 && output.contains("could not bind") && ContinuousClock.now < deadline {
                        continue
                    }
                    throw TestSupportError("\(error)\n--- vsftpd.conf:\n\(config)")
                }
            }
        } catch {
            TestDirectory.cleanUp(workDirectory)
            throw error
        }
    }

    /// vsftpd's FTPS settings. `require_ssl_reuse` is not set: its default (YES) is what the
    /// tests are about; nor are the protocols and ciphers (Debian's vsftpd offers TLS 1.2 and
    /// 1.3 as it comes). `debug_ssl` logs whether each data connection resumed the session.
    static func vsftpdTLSConfig(_ tls: TestServerTLS) -> [String] {
        var lines = [
            "ssl_enable=YES",
            "rsa_cert_file=\(tls.certificate.certificatePath)",
            "rsa_private_key_file=\(tls.certificate.keyPath)",
            "force_local_logins_ssl=\(tls.required ? "YES" : "NO")",
            "force_local_data_ssl=\(tls.required ? "YES" : "NO")",
            "allow_anon_ssl=YES",
            "debug_ssl=YES",
        ]
        if tls.implicit { lines.append("implicit_ssl=YES") }
        return lines
    }

    static func vsftpdConfig(host: String, port: Int, root: String, localUser: Bool, logPath: String,
                             emptyDirectory: String, passivePorts: ClosedRange<Int>?,
                             extraConfig: [String]) -> String {
        var lines = [
            "# Generated by ftpfs's Tests/TestSupport for one test server.",
            "background=NO",
            "listen_port=\(port)",
        ]
        if host.contains(":") {
            lines += ["listen=NO", "listen_ipv6=YES", "listen_address6=\(host)"]
        } else {
            lines += ["listen=YES", "listen_ipv6=NO", "listen_address=\(host)"]
        }
        if localUser {
            lines += [
                "anonymous_enable=NO",
                "local_enable=YES",
                "write_enable=YES",
                "local_root=\(root)",
                "chroot_local_user=YES",
                "allow_writeable_chroot=YES",
                "local_umask=022",
                "pam_service_name=\(vsftpdPAMService)",
                "userlist_enable=NO",
            ]
        } else {
            lines += [
                "anonymous_enable=YES",
                "anon_root=\(root)",
                "no_anon_password=YES",
                "anon_upload_enable=NO",
                "anon_mkdir_write_enable=NO",
                "anon_other_write_enable=NO",
                "local_enable=NO",
                "write_enable=NO",
            ]
        }
        lines += [
            "secure_chroot_dir=\(emptyDirectory)",
            "xferlog_enable=YES",
            "xferlog_std_format=NO",
            "log_ftp_protocol=YES",
            "vsftpd_log_file=\(logPath)",
            "syslog_enable=NO",
            "dual_log_enable=NO",
            // Containers often forbid what vsftpd's sandboxing needs.
            "seccomp_sandbox=NO",
            "isolate=NO",
            "isolate_network=NO",
            "pasv_enable=YES",
            "port_enable=YES",
            "connect_from_port_20=NO",
            "utf8_filesystem=YES",
            "dirmessage_enable=NO",
            "use_localtime=NO",
            "force_dot_files=NO",
            "max_per_ip=0",
            "max_clients=0",
            "ftpd_banner=ftpfs test server (vsftpd) ready.",
            // Answer a wrong password at once (with pam_unix's nodelay below).
            "delay_failed_login=0",
        ]
        if let passivePorts {
            lines += ["pasv_min_port=\(passivePorts.lowerBound)", "pasv_max_port=\(passivePorts.upperBound)"]
        }
        lines += extraConfig
        return lines.joined(separator: "\n") + "\n"
    }

    /// Ownership and permissions vsftpd insists on, and the path leading there.
    private static func prepareVsftpdRoot(_ root: String, localUser: Bool) throws {
        if localUser {
            // Everything served must be writable by the account.
            let user = vsftpdLocalUser.name
            try Shell.run(["chown", "-R", "--no-dereference", "\(user):\(user)", root]).check()
        } else {
            // Anonymous: vsftpd refuses a root the ftp user could write to;
            // files must be world-readable to be downloadable.
            try Shell.run(["chown", "root:root", root]).check()
            try Shell.run(["chmod", "0755", root]).check()
            try Shell.run(["chmod", "-R", "a+rX", root]).check()
        }
        // Every directory above the root must be traversable by the session's user.
        var directory = URL(fileURLWithPath: root).deletingLastPathComponent().path
        while directory != "/" && !directory.isEmpty {
            var info = stat()
            guard stat(directory, &info) == 0 else {
                throw TestSupportError("cannot stat \(directory): \(String(cString: strerror(errno)))")
            }
            if info.st_mode & 0o001 == 0 {
                guard directory == TestDirectory.base || directory.hasPrefix(TestDirectory.base + "/") else {
                    throw TestSupportError(
                        "vsftpd cannot reach \(root): \(directory) is not searchable by other users (chmod o+x it)")
                }
                chmod(directory, (info.st_mode & 0o7777) | 0o005)
            }
            directory = URL(fileURLWithPath: directory).deletingLastPathComponent().path
        }
    }

    private static let localUserSetup = Mutex<Bool>(false)

    /// Creates the `ftpfstest` account and the PAM service once per process.
    /// Idempotent across processes: an existing account is reused (its
    /// password is reset to the known one, its home created if missing).
    static func ensureVsftpdLocalUser() throws {
        try localUserSetup.withLock { done in
            guard !done else { return }
            let name = vsftpdLocalUser.name
            if getpwnam(name) == nil {
                let result = try Shell.run([
                    "useradd", "--system", "--create-home", "--home-dir", "/var/lib/\(name)",
                    "--shell", "/usr/sbin/nologin", "--comment", "ftpfs test FTP account", name,
                ])
                // Another test process may have created it meanwhile (exit 9: exists).
                if !result.succeeded && getpwnam(name) == nil { try result.check() }
            }
            // vsftpd chdir()s to the home directory before local_root.
            if let entry = getpwnam(name), let home = entry.pointee.pw_dir.map({ String(cString: $0) }),
               !FileManager.default.fileExists(atPath: home) {
                try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
                try Shell.run(["chown", "\(name):", home]).check()
            }
            var lastResult: ShellResult?
            for _ in 0..<10 {
                // chpasswd fails while another process holds /etc/shadow's lock.
                let result = try Shell.run(["chpasswd"], input: "\(name):\(vsftpdLocalUser.password)\n")
                lastResult = result
                if result.succeeded { break }
                sleep(for: .milliseconds(200))
            }
            try lastResult?.check()
            try writePAMService()
            done = true
        }
    }

    private static func writePAMService() throws {
        let path = "/etc/pam.d/\(vsftpdPAMService)"
        let content = """
            # PAM service of the vsftpd that ftpfs's tests start (written by
            # Tests/TestSupport; safe to delete). Unlike /etc/pam.d/vsftpd it has no
            # pam_shells and no /etc/ftpusers check, so the test account can keep
            # /usr/sbin/nologin as its shell, and no delay after a wrong password.
            auth     required  pam_unix.so nodelay
            account  required  pam_unix.so
            session  required  pam_unix.so

            """
        if FileManager.default.contents(atPath: path) == Data(content.utf8) { return }
        let temporary = path + ".tmp-\(getpid())"
        try content.write(toFile: temporary, atomically: false, encoding: .utf8)
        chmod(temporary, 0o644)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw TestSupportError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
