/// The real servers every suite runs against: pyftpdlib (MLSD, Python) and vsftpd (LIST only,
/// the most common server on Linux), with a login user on each.
public enum StandardServer: String, CaseIterable, Sendable, CustomStringConvertible {
    case pyftpdlib
    case vsftpd

    public var description: String { rawValue }

    public var requirement: TestRequirement {
        switch self {
        case .pyftpdlib: .pyftpdlib
        case .vsftpd: .vsftpd
        }
    }

    /// Whether the server offers MLST/MLSD (else ftpfs must parse LIST).
    public var hasMLSD: Bool { self == .pyftpdlib }

    /// Starts this server on `root` with its login user (for vsftpd the local system user,
    /// which the harness creates). Throws the missing prerequisite first, so in CI a missing
    /// server is a failure with a readable reason.
    public func start(root: String, quirks: [String] = []) throws -> FTPTestServer {
        try TestRequirements.require(requirement)
        switch self {
        case .pyftpdlib: return try .startPyftpdlib(root: root, users: [.standard], quirks: quirks)
        case .vsftpd: return try .startVsftpd(root: root, localUser: true)
        }
    }
}
