import Glibc

/// Why a netrc file or password file could not be used. The text names the file, never what is
/// in it.
public enum SecretFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// open(2) or read(2) failed; `errno` says why (ENOENT for a missing file).
    case unreadable(path: String, errno: Int32)
    case notARegularFile(path: String)
    /// Larger than ``SecretFiles/maximumSize``: not a netrc or password file.
    case tooLarge(path: String)
    /// The file holds a password and group or others have any access to it (ftp(1)'s rule).
    case accessibleByOthers(path: String, mode: UInt32)
    case malformedNetrc(path: String, NetrcError)

    public var description: String {
        switch self {
        case .unreadable(let path, let errno):
            "cannot read \(path): \(String(cString: strerror(errno)))"
        case .notARegularFile(let path):
            "\(path) is not a regular file"
        case .tooLarge(let path):
            "\(path) is too large to be a netrc or password file"
        case .accessibleByOthers(let path, let mode):
            "\(path) contains a password but is accessible by group or others (mode "
                + String(mode & 0o7777, radix: 8) + "); run chmod 600 on it"
        case .malformedNetrc(let path, let error):
            "\(path): \(error)"
        }
    }

    /// Whether the error only says the file does not exist (an absent `~/.netrc` is normal).
    public var isFileNotFound: Bool {
        if case .unreadable(_, let errno) = self { return errno == ENOENT }
        return false
    }
}

/// Reading the local files that hold credentials: netrc files and `-o passfile=` files.
public enum SecretFiles {
    /// No real netrc or password file comes near this; the limit keeps `/dev/zero` out.
    public static let maximumSize = 1 << 20

    /// `$HOME/.netrc`, given the value of HOME; nil when HOME is unset or empty.
    public static func defaultNetrcPath(home: String?) -> String? {
        guard let home, !home.isEmpty else { return nil }
        return home.hasSuffix("/") ? home + ".netrc" : home + "/.netrc"
    }

    /// ftp(1)'s rule: a file holding a password must give group and others no access at all
    /// (mode & 077 == 0). A netrc without passwords may be readable by anyone.
    public static func checkPermissions(
        mode: UInt32, containsPassword: Bool, path: String
    ) throws(SecretFileError) {
        if containsPassword && mode & 0o077 != 0 { throw .accessibleByOthers(path: path, mode: mode) }
    }

    /// Reads and parses a netrc file, refusing one that exposes passwords to other users.
    public static func loadNetrc(path: String) throws(SecretFileError) -> Netrc {
        let (text, mode) = try readSmallFile(path: path)
        let netrc: Netrc
        do {
            netrc = try Netrc(parsing: text)
        } catch {
            throw .malformedNetrc(path: path, error)
        }
        try checkPermissions(mode: mode, containsPassword: netrc.containsPassword, path: path)
        return netrc
    }

    /// Reads a `-o passfile=` file, refusing one that other users can access, and returns its
    /// contents; ``LoginCredentials/password(fromPasswordFile:)`` takes the password from them.
    public static func loadPasswordFile(path: String) throws(SecretFileError) -> String {
        let (text, mode) = try readSmallFile(path: path)
        try checkPermissions(mode: mode, containsPassword: true, path: path)
        return text
    }

    /// The contents of a regular file and its mode bits. The mode comes from fstat on the open
    /// descriptor, so it describes the file that was read even if the path is swapped meanwhile.
    static func readSmallFile(path: String) throws(SecretFileError) -> (String, UInt32) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard descriptor >= 0 else { throw .unreadable(path: path, errno: errno) }
        defer { close(descriptor) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .unreadable(path: path, errno: errno) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .notARegularFile(path: path) }
        guard status.st_size <= maximumSize else { throw .tooLarge(path: path) }

        var contents: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, errno: errno)
            }
            if count == 0 { break }
            contents += buffer[..<count]
            if contents.count > maximumSize { throw .tooLarge(path: path) }
        }
        return (String(decoding: contents, as: UTF8.self), UInt32(status.st_mode))
    }
}
