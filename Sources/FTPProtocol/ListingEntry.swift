/// One entry of a directory listing, whatever dialect it came from.
public struct ListingEntry: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case file
        case directory
        case symlink
        /// Devices, sockets, pipes: shown, never read.
        case other
    }

    /// The entry's name inside its directory, never a path: parsers drop names that contain `/`
    /// or NUL, or are empty, `.` or `..` (see `ListingEntry.isSafeName`).
    public var name: String
    public var kind: Kind
    /// Size in bytes, when the listing gave one.
    public var size: UInt64?
    /// Modification time in UTC, when the listing gave one. LIST times are the server's local time
    /// taken as UTC; MLSD times are UTC by definition.
    public var modified: FTPTimestamp?
    /// Permission bits (`0o7777` at most), when the listing gave them (`UNIX.mode`, `rwxr-x---`).
    public var mode: UInt32?
    /// The target of a symlink, when the listing gave it.
    public var linkTarget: String?
    /// RFC 3659 `perm` fact, verbatim (e.g. `adfrw`).
    public var permissions: String?
    /// RFC 3659 `unique` fact, verbatim: equal for two names of the same file (hard links, and
    /// symlinks on servers that list the target's facts).
    public var unique: String?

    public init(name: String, kind: Kind, size: UInt64? = nil, modified: FTPTimestamp? = nil,
                mode: UInt32? = nil, linkTarget: String? = nil, permissions: String? = nil)
    {
        self.name = name
        self.kind = kind
        self.size = size
        self.modified = modified
        self.mode = mode
        self.linkTarget = linkTarget
        self.permissions = permissions
    }

    /// Whether `name` can stand as one entry of a directory: not empty, not `.` or `..`,
    /// and without `/` or NUL. Nothing a server sends may make a path escape its directory.
    public static func isSafeName<S: StringProtocol>(_ name: S) -> Bool {
        if name.isEmpty || name == "." || name == ".." { return false }
        return !name.utf8.contains(where: { $0 == 0x2F || $0 == 0 })
    }
}
