/// One entry of a directory listing, whatever dialect it came from.
public struct ListingEntry: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case file
        case directory
        case symlink
        /// Devices, sockets, pipes: shown, never read.
        case other
    }

    /// The entry's name inside its directory, never a path: parsers drop entries whose names
    /// could escape the directory or not be sent back (see `ListingEntry.nameProblem`).
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

    /// The longest name an entry may have, in UTF-8 bytes: Linux's NAME_MAX. Programs size their
    /// buffers by it (statfs says 255), and the kernel fails a whole directory read (EIO) when a
    /// FUSE file system hands it a name longer than its own limit.
    public static let maximumNameLength = 255

    /// Whether `name` can stand as one entry of a directory (see `nameProblem`).
    public static func isSafeName<S: StringProtocol>(_ name: S) -> Bool {
        nameProblem(name) == nil
    }

    /// Why `name` cannot stand as one entry of a directory; nil when it can. Nothing a server
    /// sends may make a path escape its directory, and every name shown must be one the mount
    /// can send back:
    /// - empty, `.` or `..`: not a name of its own;
    /// - `/`: a path, not a name (the kernel also fails the whole directory read for it);
    /// - NUL: C strings end there, so the kernel would see another name (perhaps `.`);
    /// - CR or LF: they end an FTP command line, so the name could never be sent to the server;
    /// - longer than `maximumNameLength` bytes.
    public static func nameProblem<S: StringProtocol>(_ name: S) -> String? {
        if name.isEmpty { return "empty name" }
        if name == "." || name == ".." { return "names the directory itself or its parent" }
        var length = 0
        for byte in name.utf8 {
            switch byte {
            case 0x2F: return "contains '/'"
            case 0x00: return "contains NUL"
            case 0x0D, 0x0A: return "contains CR or LF"
            default: length += 1
            }
        }
        return length > maximumNameLength ? "name longer than \(maximumNameLength) bytes" : nil
    }

    /// Why this entry cannot be shown; nil when it can: its name (see `nameProblem`), or a link
    /// target holding NUL (readlink could only return the part before it).
    public var problem: String? {
        if let problem = Self.nameProblem(name) { return problem }
        if let linkTarget, linkTarget.utf8.contains(0) { return "link target contains NUL" }
        return nil
    }
}
