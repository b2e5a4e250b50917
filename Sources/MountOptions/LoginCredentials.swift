/// Where the login name came from.
public enum UserSource: String, Sendable, Hashable {
    /// `-o user=NAME`.
    case option
    case url
    /// The netrc entry for the host (only when neither the URL nor `-o user=` names a user).
    case netrc
    /// Nothing named a user: anonymous FTP.
    case anonymous
}

/// Where the password came from.
public enum PasswordSource: String, Sendable, Hashable {
    case url
    /// The first line of `-o passfile=`.
    case passwordFile
    /// The `FTPFS_PASSWORD` environment variable.
    case environment
    case netrc
    /// The conventional anonymous password, for `anonymous` and `ftp` logins.
    case anonymousDefault
}

/// The password for the login, or the need to ask for one.
public enum LoginPassword: Sendable, Hashable, CustomStringConvertible {
    case known(String, source: PasswordSource)
    /// A user was named and nothing supplied a password: the CLI must prompt on the terminal.
    case needsPrompt

    public var description: String {
        switch self {
        case .known(_, let source): "password from \(source.rawValue)"
        case .needsPrompt: "password to be prompted for"
        }
    }
}

/// The user and password to log in with, decided from every source of credentials at once.
///
/// Precedence, most specific first:
/// - user: `-o user=`, then the URL's user, then the netrc entry's login for the host, else
///   `anonymous`;
/// - password: the URL's (unless the URL names a different user than the one logging in), then
///   `-o passfile=`, then `FTPFS_PASSWORD`, then the netrc entry for host and user, then
///   `anonymous@` for the `anonymous` and `ftp` users, else ``LoginPassword/needsPrompt``.
///   A password file named for this mount outranks an environment variable that may have been
///   set for something else.
///
/// An anonymous login that no source named (no user anywhere) takes only a URL password
/// (`ftp://:me%40example.com@host`) or `anonymous@`; a password file or `FTPFS_PASSWORD` given
/// anyway is ignored with a warning, since it most likely belongs to a forgotten user name.
///
/// Neither ``description`` nor ``warnings`` ever contains the password.
public struct LoginCredentials: Sendable, Hashable, CustomStringConvertible {
    public var user: String
    public var userSource: UserSource
    public var password: LoginPassword
    /// Lines the CLI should print or log before mounting.
    public var warnings: [String]

    /// The environment variable that may hold the password.
    public static let passwordEnvironmentVariable = "FTPFS_PASSWORD"
    /// What anonymous logins send as their password (RFC 1635 asks for something email-like).
    public static let anonymousPassword = "anonymous@"

    /// Whether this is an anonymous login (`anonymous` or `ftp`, which servers treat alike).
    public var isAnonymous: Bool { Self.isAnonymousName(user) }

    static func isAnonymousName(_ name: String) -> Bool { ["anonymous", "ftp"].contains(name.lowercased()) }

    public var description: String { "user \(user) (from \(userSource.rawValue)), \(password)" }

    public init(user: String, userSource: UserSource, password: LoginPassword, warnings: [String] = []) {
        self.user = user
        self.userSource = userSource
        self.password = password
        self.warnings = warnings
    }

    /// The password in a `-o passfile=` file: its first line, without the line ending.
    public static func password(fromPasswordFile contents: String) -> String {
        // Over UTF-8, not Characters: Swift reads "\r\n" as one Character, which is neither "\n" nor "\r".
        var line = contents.utf8.prefix { $0 != 0x0A }
        if line.last == 0x0D { line = line.dropLast() }
        return String(decoding: line, as: UTF8.self)
    }

    /// Decides the login. Pure: the caller reads the netrc file (when `-o netrc` asks for it), the
    /// environment and the password file, and prompts when told to.
    ///
    /// - Parameters:
    ///   - url: the server URL.
    ///   - configuration: the parsed `-o` options (for `user=` and `passfile=`).
    ///   - netrc: the parsed netrc file, or nil when netrc is not in use.
    ///   - environmentPassword: the value of `FTPFS_PASSWORD`, if set.
    ///   - passwordFileContents: the contents of the `passfile=` file, if one was given.
    public static func resolve(
        url: ServerURL, configuration: MountConfiguration, netrc: Netrc? = nil,
        environmentPassword: String? = nil, passwordFileContents: String? = nil
    ) -> LoginCredentials {
        var warnings: [String] = []
        if url.password != nil {
            warnings.append(
                "the password is part of the URL, so other local users can see it in ps and /proc; "
                    + "use \(passwordEnvironmentVariable), -o passfile= or ~/.netrc instead")
        }

        let user: String
        let userSource: UserSource
        if let optionUser = configuration.connection.user {
            (user, userSource) = (optionUser, .option)
        } else if let urlUser = url.user {
            (user, userSource) = (urlUser, .url)
        } else if let netrcLogin = netrc?.entry(forHost: url.host)?.login {
            (user, userSource) = (netrcLogin, .netrc)
        } else {
            for (given, name) in [
                (passwordFileContents != nil, "passfile"), (environmentPassword != nil, passwordEnvironmentVariable),
            ] where given {
                warnings.append("\(name) ignored: no user name was given, so the login is anonymous")
            }
            return LoginCredentials(
                user: "anonymous", userSource: .anonymous,
                password: .known(url.password ?? anonymousPassword, source: url.password == nil ? .anonymousDefault : .url),
                warnings: warnings)
        }

        var password: LoginPassword?
        if let urlPassword = url.password {
            if url.user == nil || url.user == user {
                password = .known(urlPassword, source: .url)
            } else {
                warnings.append("the URL's password is ignored: it belongs to the URL's user, not to user=\(user)")
            }
        }
        if password == nil, let passwordFileContents {
            password = .known(Self.password(fromPasswordFile: passwordFileContents), source: .passwordFile)
        }
        if password == nil, let environmentPassword {
            password = .known(environmentPassword, source: .environment)
        }
        if password == nil, let netrcPassword = netrc?.entry(forHost: url.host, login: user)?.password {
            password = .known(netrcPassword, source: .netrc)
        }
        if password == nil, isAnonymousName(user) {
            password = .known(anonymousPassword, source: .anonymousDefault)
        }
        return LoginCredentials(
            user: user, userSource: userSource, password: password ?? .needsPrompt, warnings: warnings)
    }
}

extension LoginPassword: CustomReflectable {
    public var customMirror: Mirror { Mirror(self, children: ["value": description]) }
}

extension LoginCredentials: CustomReflectable {
    /// `dump()` and debuggers see the same masked form as ``description``.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "user": user, "userSource": userSource, "password": password.description, "warnings": warnings,
        ], displayStyle: .struct)
    }
}
