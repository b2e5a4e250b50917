/// The FTPS servers the TLS tests run against: each offers TLS its own way.
///
/// - pyftpdlib: pyOpenSSL; does not insist on session reuse.
/// - vsftpd: `ssl_enable=YES` with its default `require_ssl_reuse=YES` ("522 SSL connection
///   failed: session reuse required").
/// - ProFTPD: mod_tls in its default setting, which refuses a data connection that does not
///   resume the control connection's session.
public enum TLSServerKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case pyftpdlib
    case vsftpd
    case proftpd

    public var description: String { rawValue }

    public var requirements: [TestRequirement] {
        switch self {
        case .pyftpdlib: [.openssl, .pyftpdlibTLS]
        case .vsftpd: [.openssl, .vsftpd]
        case .proftpd: [.openssl, .proftpd]
        }
    }

    /// Whether the server refuses data connections that do not resume the control
    /// connection's TLS session.
    public var requiresSessionReuse: Bool { self != .pyftpdlib }

    /// Starts this server on `root` with TLS and its login user. Throws the missing
    /// prerequisite first, so that in CI a missing server is a failure with a reason.
    public func start(root: String, tls: TestServerTLS) throws -> FTPTestServer {
        try TestRequirements.require(requirements)
        switch self {
        case .pyftpdlib: return try .startPyftpdlib(root: root, users: [.standard], tls: tls)
        case .vsftpd: return try .startVsftpd(root: root, localUser: true, tls: tls)
        case .proftpd: return try .startProFTPD(root: root, tls: tls)
        }
    }
}

extension FTPTestServer {
    /// The server's URL with an FTPS scheme: `ftpes://` (explicit) or `ftps://` (implicit).
    public func tlsURL(implicit: Bool = false, withPassword: Bool = true, path: String = "/") -> String {
        let plain = url(withPassword: withPassword, path: path)
        return (implicit ? "ftps://" : "ftpes://") + plain.dropFirst("ftp://".count)
    }
}
