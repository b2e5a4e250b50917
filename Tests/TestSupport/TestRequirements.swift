import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Something a test needs from the machine.
public enum TestRequirement: String, Sendable, CaseIterable, CustomStringConvertible {
    /// /dev/fuse can be opened read-write and `fusermount3` is in PATH.
    case fuse
    /// Debian's /usr/bin/python3 can import pyftpdlib, and Tests/Servers/ftp_server.py exists.
    case pyftpdlib
    /// /usr/sbin/vsftpd exists and we are root (vsftpd must start as root).
    case vsftpd
    /// Running as root.
    case root
    /// `curl` is in PATH.
    case curl
    /// The built `ftpfs` executable can be found (see `FTPFSBinary`).
    case ftpfs
    /// A socket can be bound to ::1.
    case ipv6
    /// The `openssl` command (test certificates for FTPS).
    case openssl
    /// pyftpdlib's TLS_FTPHandler works: Debian's python3 can import OpenSSL (python3-openssl).
    case pyftpdlibTLS
    /// ProFTPD with mod_tls is unpacked, or can be fetched from Debian now
    /// (Tests/Servers/fetch-proftpd.sh, as root; it conflicts with vsftpd as a package).
    case proftpd
    /// Building and checking the Debian package: dpkg-deb, dpkg-shlibdeps (dpkg-dev), man
    /// (man-db) and systemd-analyze (systemd) in PATH.
    case packaging

    public var description: String { rawValue }
}

/// What the machine offers, and the rule that decides whether a test may skip.
///
/// The rule: outside CI a suite whose prerequisites are missing is skipped;
/// in CI (`CI=true`) nothing is skipped, so a missing server or /dev/fuse
/// makes the tests fail (with the reason from `require`), never pass silently.
///
///     @Suite(.enabled(if: TestRequirements.canRun(.vsftpd, .fuse)))
///     struct VsftpdMountTests {
///         @Test func lists() throws {
///             try TestRequirements.require(.vsftpd, .fuse)
///             …
public enum TestRequirements {
    /// The environment variable CI is "true" (any case) or "1".
    public static var isCI: Bool {
        let value = (ProcessInfo.processInfo.environment["CI"] ?? "").lowercased()
        return value == "true" || value == "1"
    }

    public static var isRoot: Bool { geteuid() == 0 }

    public static var fuseAvailable: Bool { missingFuse == nil }

    public static var pyftpdlibAvailable: Bool { missingPyftpdlib == nil }

    /// The vsftpd binary exists (starting it also needs root: see `.vsftpd`).
    public static var vsftpdAvailable: Bool { access(FTPTestServer.vsftpdPath, X_OK) == 0 }

    public static var curlAvailable: Bool { Shell.which("curl") != nil }

    public static var ipv6Available: Bool { ipv6Check }

    /// True when the tests may run: always in CI, otherwise when every
    /// requirement is met. For `@Suite(.enabled(if:))` / `@Test(.enabled(if:))`.
    public static func canRun(_ requirements: TestRequirement...) -> Bool {
        canRun(requirements)
    }

    public static func canRun(_ requirements: [TestRequirement]) -> Bool {
        isCI || missing(requirements).isEmpty
    }

    /// Throws an error naming every unmet requirement and why. Call it at the
    /// start of a test so that in CI the failure says what is missing.
    public static func require(_ requirements: TestRequirement...) throws {
        try require(requirements)
    }

    public static func require(_ requirements: [TestRequirement]) throws {
        let reasons = missing(requirements)
        guard reasons.isEmpty else {
            throw TestSupportError(
                "missing test prerequisites:\n" + reasons.map { "  - \($0)" }.joined(separator: "\n")
                    + "\nInstall them with scripts/install-deps.sh (and build with `swift build`).")
        }
    }

    /// One readable reason per unmet requirement (empty when all are met).
    public static func missing(_ requirements: [TestRequirement]) -> [String] {
        requirements.compactMap(reason)
    }

    private static func reason(_ requirement: TestRequirement) -> String? {
        switch requirement {
        case .fuse:
            return missingFuse
        case .pyftpdlib:
            return missingPyftpdlib
        case .vsftpd:
            if !vsftpdAvailable { return "vsftpd: \(FTPTestServer.vsftpdPath) not found (apt-get install vsftpd)" }
            if !isRoot { return "vsftpd: the tests must run as root to start vsftpd" }
            return nil
        case .root:
            return isRoot ? nil : "root: the tests must run as root"
        case .curl:
            return curlAvailable ? nil : "curl: not in PATH (apt-get install curl)"
        case .ftpfs:
            do {
                _ = try FTPFSBinary.path
                return nil
            } catch {
                return "ftpfs: \(error)"
            }
        case .ipv6:
            return ipv6Available ? nil : "ipv6: cannot bind a socket to ::1"
        case .openssl:
            return Shell.which("openssl") != nil ? nil : "openssl: not in PATH (apt-get install openssl)"
        case .pyftpdlibTLS:
            return missingPyftpdlibTLS
        case .packaging:
            let tools = ["dpkg-deb": "dpkg", "dpkg-shlibdeps": "dpkg-dev", "man": "man-db", "systemd-analyze": "systemd"]
            let missing = tools.keys.sorted().filter { Shell.which($0) == nil }
            guard missing.isEmpty else {
                return "packaging: \(missing.joined(separator: ", ")) not in PATH (apt-get install "
                    + missing.map { tools[$0]! }.joined(separator: " ") + ")"
            }
            return nil
        case .proftpd:
            guard isRoot else { return "proftpd: the tests must run as root to fetch and start ProFTPD" }
            do {
                _ = try FTPTestServer.ensureProFTPD()
                return nil
            } catch {
                return "proftpd: \(error)"
            }
        }
    }

    private static var missingFuse: String? {
        let fd = open("/dev/fuse", O_RDWR | O_CLOEXEC)
        if fd < 0 {
            return "fuse: cannot open /dev/fuse read-write (\(String(cString: strerror(errno)))); "
                + "apt-get install fuse3, and give containers --device /dev/fuse --cap-add SYS_ADMIN"
        }
        close(fd)
        if Shell.which("fusermount3") == nil {
            return "fuse: fusermount3 not in PATH (apt-get install fuse3)"
        }
        return nil
    }

    private static let missingPyftpdlib: String? = {
        guard access(FTPTestServer.python, X_OK) == 0 else {
            return "pyftpdlib: \(FTPTestServer.python) not found (apt-get install python3-pyftpdlib)"
        }
        guard let script = try? FTPTestServer.serverScript else {
            return "pyftpdlib: Tests/Servers/ftp_server.py not found (set FTPFS_TEST_SERVERS_DIR)"
        }
        _ = script
        let result = try? Shell.run([FTPTestServer.python, "-c", "import pyftpdlib"], timeout: .seconds(30))
        guard let result, result.succeeded else {
            return "pyftpdlib: \(FTPTestServer.python) cannot import pyftpdlib (apt-get install python3-pyftpdlib)"
        }
        return nil
    }()

    private static let missingPyftpdlibTLS: String? = {
        if let missing = missingPyftpdlib { return missing }
        let result = try? Shell.run([FTPTestServer.python, "-c", "import OpenSSL"], timeout: .seconds(30))
        guard let result, result.succeeded else {
            return "pyftpdlibTLS: \(FTPTestServer.python) cannot import OpenSSL (apt-get install python3-openssl)"
        }
        return nil
    }()

    private static let ipv6Check: Bool = {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0
            }
        }
    }()
}
