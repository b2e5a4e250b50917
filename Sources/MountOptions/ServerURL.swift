import FTPProtocol
import Glibc

/// How the control and data connections are protected.
public enum TransportSecurity: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Plain FTP: everything, the password included, crosses the network in clear text.
    case none
    /// `AUTH TLS` when the server's FEAT offers it, plain FTP otherwise (`-o tls=try`).
    case explicitTLSIfAvailable
    /// `AUTH TLS` after connecting, and failure when the server refuses (RFC 4217; `ftpes://`).
    case explicitTLS
    /// TLS from the first byte, conventionally on port 990 (`ftps://`).
    case implicitTLS

    /// The port a URL without one means: 990 for implicit TLS, 21 for everything else.
    public var defaultPort: UInt16 { self == .implicitTLS ? 990 : 21 }

    public var description: String {
        switch self {
        case .none: "none"
        case .explicitTLSIfAvailable: "explicit TLS if available"
        case .explicitTLS: "explicit TLS"
        case .implicitTLS: "implicit TLS"
        }
    }
}

/// The server a mount talks to: `ftp://[user[:password]@]host[:port][/path]`.
///
/// The path follows RFC 1738 and curl: it is relative to the directory the server puts the user
/// in after login (`ftp://h/pub` is `pub` inside the login directory), and it becomes absolute
/// when it starts with an encoded slash (`ftp://h/%2Fsrv/pub` is `/srv/pub`). The parsed form
/// keeps that distinction in one string: ``path`` starts with `/` exactly when it is absolute.
///
/// The password is kept for logging in, but ``description`` and ``redacted`` mask it, so a
/// `ServerURL` may be interpolated into logs and error messages.
public struct ServerURL: Sendable, Hashable, CustomStringConvertible {
    public enum Scheme: String, Sendable, Hashable, CaseIterable {
        case ftp, ftpes, ftps

        /// The security the scheme asks for when `-o tls=` does not override it.
        public var security: TransportSecurity {
            switch self {
            case .ftp: .none
            case .ftpes: .explicitTLS
            case .ftps: .implicitTLS
            }
        }
    }

    public var scheme: Scheme
    /// The decoded login name; nil when the URL names none (anonymous unless netrc or `-o user=`
    /// provides one).
    public var user: String?
    /// The decoded password, when the URL carries one. Never print it: use ``redacted``.
    public var password: String?
    /// The host name or address; an IPv6 literal without its brackets, with its zone decoded
    /// (`fe80::1%eth0`).
    public var host: String
    /// The port written in the URL, if any; ``port`` applies the scheme's default.
    public var explicitPort: UInt16?
    /// The decoded path with empty and `.` segments removed and no trailing slash: `""` for the
    /// login directory, `"pub/incoming"` relative to it, `"/srv/pub"` when absolute.
    public var path: String

    /// The form `mount.fuse3` passes for an fstab source written as `ftpfs#ftp://…`.
    public static let fstabPrefix = "ftpfs#"

    public init(
        scheme: Scheme, user: String? = nil, password: String? = nil, host: String,
        explicitPort: UInt16? = nil, path: String = ""
    ) {
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        self.explicitPort = explicitPort
        self.path = path
    }

    /// The security implied by the scheme.
    public var security: TransportSecurity { scheme.security }
    /// The port to connect to when `-o tls=` does not change the security.
    public var port: UInt16 { explicitPort ?? security.defaultPort }
    /// Whether ``path`` is absolute on the server rather than relative to the login directory.
    public var isAbsolutePath: Bool { path.hasPrefix("/") }
    /// Whether ``host`` is an IPv6 address (written in brackets in the URL).
    public var isIPv6Literal: Bool { host.contains(":") }

    /// The directory to mount, given the one the server reported (PWD) after login.
    public func mountRoot(loginDirectory: String) -> String {
        FTPPath.join(loginDirectory, path)
    }

    /// The URL with the password replaced by `***`, for logs and error messages.
    public var redacted: String { format(maskedPassword: password != nil) }
    /// The URL without any password, suitable as the `fsname` shown in /proc/mounts and df.
    public var withoutPassword: String { format(maskedPassword: false) }
    public var description: String { redacted }

    private func format(maskedPassword: Bool) -> String {
        var text = scheme.rawValue + "://"
        if user != nil || maskedPassword {
            text += PercentEncoding.encode(user ?? "", allowing: PercentEncoding.userInfoAllowed)
            if maskedPassword { text += ":***" }
            text += "@"
        }
        text += isIPv6Literal ? "[" + host.replacingPercent() + "]" : host
        if let explicitPort { text += ":" + String(explicitPort) }
        text += "/"
        let segments = path.split(separator: "/").map {
            PercentEncoding.encode(String($0), allowing: PercentEncoding.pathSegmentAllowed)
        }
        text += (isAbsolutePath ? ["%2F"] : []).joined() + segments.joined(separator: "/")
        return text
    }
}

extension String {
    /// An IPv6 zone written back into a URL: `%` itself must be encoded (RFC 6874).
    fileprivate func replacingPercent() -> String {
        split(separator: "%", omittingEmptySubsequences: false).joined(separator: "%25")
    }
}

/// The part of a URL an error is about. Errors name the part and never quote the password.
public enum URLComponent: String, Sendable, Hashable {
    case user = "user name"
    case password
    case host
    case path
}

public enum ServerURLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No `scheme://` at the start.
    case missingScheme
    /// A scheme other than ftp, ftpes or ftps.
    case unknownScheme(String)
    case emptyHost
    /// A host with characters no host name or address has. The text is the host as written.
    case invalidHost(String)
    /// A port that is empty, not a number, 0 or above 65535. The text is not kept: when a
    /// password contains an unencoded `/`, what looks like the port is part of the password.
    case invalidPort
    /// `%` not followed by two hex digits.
    case malformedPercentEscape(URLComponent)
    /// Percent escapes that decode to bytes that are not UTF-8.
    case invalidUTF8(URLComponent)
    /// CR, LF or NUL after decoding: they would end an FTP command line early.
    case forbiddenCharacter(URLComponent)
    /// A raw `?` or `#`, which a URL reserves for a query or fragment; in a password or file name
    /// they must be written `%3F` and `%23`.
    case reservedCharacter(Character)

    public var description: String {
        switch self {
        case .missingScheme:
            "the server must be a URL such as ftp://host/path (or ftps://, ftpes://)"
        case .unknownScheme(let scheme):
            "unknown URL scheme '\(scheme)': use ftp://, ftpes:// (explicit TLS) or ftps:// (implicit TLS)"
        case .emptyHost:
            "the URL has no host"
        case .invalidHost(let host):
            "invalid host '\(host)' in the URL"
        case .invalidPort:
            "invalid port in the URL: expected a number between 1 and 65535"
        case .malformedPercentEscape(let component):
            "malformed percent escape in the URL's \(component.rawValue): '%' must be followed by two hex digits"
        case .invalidUTF8(let component):
            "the URL's \(component.rawValue) does not decode to valid UTF-8"
        case .forbiddenCharacter(let component):
            "the URL's \(component.rawValue) contains CR, LF or NUL"
        case .reservedCharacter(let character):
            "the URL contains a raw '\(character)'; write it as \(character == "#" ? "%23" : "%3F")"
        }
    }
}

extension ServerURL {
    /// Parses `ftp://`, `ftpes://` and `ftps://` URLs, and the `ftpfs#URL` form of an fstab source.
    public init(parsing text: String) throws(ServerURLError) {
        var rest = Substring(text)
        if rest.hasPrefix(ServerURL.fstabPrefix) { rest = rest.dropFirst(ServerURL.fstabPrefix.count) }

        guard let schemeEnd = rest.firstRange(of: "://") else { throw .missingScheme }
        let schemeText = rest[..<schemeEnd.lowerBound]
        guard let scheme = Scheme(rawValue: schemeText.lowercased()) else {
            throw .unknownScheme(String(schemeText))
        }
        rest = rest[schemeEnd.upperBound...]

        if let reserved = rest.first(where: { $0 == "?" || $0 == "#" }) { throw .reservedCharacter(reserved) }

        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let rawPath = rest[authorityEnd...]

        // The last '@' ends the user information, so an unencoded '@' in a login name such as
        // `me@example.com@host` still parses the way the user meant.
        var user: String?
        var password: String?
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            let colon = userInfo.firstIndex(of: ":")
            let userText = userInfo[..<(colon ?? userInfo.endIndex)]
            let decodedUser = try Self.decode(userText, .user)
            user = decodedUser.isEmpty ? nil : decodedUser
            if let colon {
                password = try Self.decode(userInfo[userInfo.index(after: colon)...], .password)
            }
        }

        let (host, port) = try Self.parseHostAndPort(authority)
        let path = try Self.normalizedPath(rawPath)
        self.init(scheme: scheme, user: user, password: password, host: host, explicitPort: port, path: path)
    }

    private static func decode(_ text: Substring, _ component: URLComponent) throws(ServerURLError) -> String {
        guard let bytes = PercentEncoding.decode(text) else { throw .malformedPercentEscape(component) }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8(component) }
        if bytes.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) {
            throw .forbiddenCharacter(component)
        }
        return decoded
    }

    private static func parseHostAndPort(_ authority: Substring) throws(ServerURLError) -> (String, UInt16?) {
        var portText: Substring?
        let host: String
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw .invalidHost(String(authority))
            }
            host = try ipv6Literal(authority[authority.index(after: authority.startIndex)..<close])
            let afterBracket = authority[authority.index(after: close)...]
            if !afterBracket.isEmpty {
                guard afterBracket.first == ":" else { throw .invalidHost(String(authority)) }
                portText = afterBracket.dropFirst()
            }
        } else {
            let colon = authority.lastIndex(of: ":")
            let name = authority[..<(colon ?? authority.endIndex)]
            if let colon { portText = authority[authority.index(after: colon)...] }
            guard !name.isEmpty else { throw .emptyHost }
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._".utf8)
            guard name.utf8.allSatisfy(allowed.contains) else { throw .invalidHost(String(name)) }
            host = String(name)
        }
        guard let portText else { return (host, nil) }
        guard !portText.isEmpty, portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let port = UInt16(portText), port != 0
        else { throw .invalidPort }
        return (host, port)
    }

    /// `::1` or `fe80::1%25eth0` (RFC 6874 zone) as written between the brackets.
    private static func ipv6Literal(_ literal: Substring) throws(ServerURLError) -> String {
        if literal.isEmpty { throw .emptyHost }
        let zoneStart = literal.firstRange(of: "%25")
        let address = String(literal[..<(zoneStart?.lowerBound ?? literal.endIndex)])
        var storage = in6_addr()
        guard inet_pton(AF_INET6, address, &storage) == 1 else { throw .invalidHost(String(literal)) }
        guard let zoneStart else { return address }
        let zone = literal[zoneStart.upperBound...]
        let zoneAllowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~".utf8)
        guard !zone.isEmpty, zone.utf8.allSatisfy(zoneAllowed.contains) else {
            throw .invalidHost(String(literal))
        }
        return address + "%" + zone
    }

    private static func normalizedPath(_ rawPath: Substring) throws(ServerURLError) -> String {
        // The first '/' only separates the path from the authority (RFC 1738 §3.2.2).
        let decoded = try decode(rawPath.dropFirst(), .path)
        let segments = decoded.split(separator: "/").filter { $0 != "." }
        let joined = segments.joined(separator: "/")
        return decoded.hasPrefix("/") ? "/" + joined : joined
    }
}

extension ServerURL: CustomReflectable {
    /// `dump()` and debuggers show the password masked, like ``description``.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "scheme": scheme, "user": user as Any, "password": (password == nil ? nil : "***") as Any,
            "host": host, "explicitPort": explicitPort as Any, "path": path,
        ], displayStyle: .struct)
    }
}
