#if canImport(Glibc)
import Glibc
#endif

/// A directory only the mounting user controls, for what ftpfs keeps on disk: the cache
/// directory (staged edits, the upload spool, cached blocks) and the directories ftpfs makes in
/// it. The checks are ssh's for `~/.ssh`.
///
/// The default `/var/tmp/ftpfs-UID` lies in a directory every user can write: another user can
/// create it first, or a symlink by that name, and then read the files staged in it or plant
/// blocks that later mounts would serve as the server's content. So the directory must belong
/// to this user and be writable by nobody else; a symlink in its place is followed only when
/// this user or root made it; and no directory above it may be one that someone else could
/// write (and so rename it away and put another in its place), unless it is sticky, as /tmp
/// and /var/tmp are.
public enum PrivateDirectory {
    /// Why a directory cannot be used; the text names the directory and what to do.
    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        public var path: String
        public var reason: String

        public var description: String { "cannot use \(path): \(reason)" }
    }

    /// Creates `path` with mode 0700 when it is missing (its parent must exist), then checks it
    /// as described above.
    public static func prepare(_ path: String) throws(Refusal) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw Refusal(path: path, reason: "cannot create it: \(String(cString: strerror(errno)))")
        }
        try check(path)
    }

    /// Checks an existing directory as described above.
    public static func check(_ path: String) throws(Refusal) {
        let user = geteuid()
        var link = stat()
        guard lstat(path, &link) == 0 else {
            throw Refusal(path: path, reason: String(cString: strerror(errno)))
        }
        if link.st_mode & S_IFMT == S_IFLNK, link.st_uid != user, link.st_uid != 0 {
            throw Refusal(path: path, reason: "it is a symlink made by \(describe(uid: link.st_uid)), not by you; "
                + "another user may have planted it to read or change your files; remove it")
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw Refusal(path: path, reason: String(cString: strerror(errno)))
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw Refusal(path: path, reason: "not a directory")
        }
        if info.st_uid != user {
            throw Refusal(path: path, reason: "it belongs to \(describe(uid: info.st_uid)), not to you; "
                + "another user may have created it to read or change your files; remove it")
        }
        if info.st_mode & 0o022 != 0 {
            throw Refusal(path: path, reason: "other users can write to it (mode \(octal(info.st_mode & 0o7777))); "
                + "chmod 700 it")
        }
        try checkAncestors(of: path, user: user)
    }

    /// Whether `path` itself (not a symlink) is a directory of this user's that nobody else can
    /// write: for directories ftpfs made inside one already checked.
    static func isPrivate(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR && info.st_uid == geteuid()
            && info.st_mode & 0o022 == 0
    }

    /// Every directory above `path` (symlinks resolved) belongs to this user or root, and is
    /// writable by no one else unless it is sticky.
    private static func checkAncestors(of path: String, user: uid_t) throws(Refusal) {
        guard let resolved = realpath(path, nil) else {
            throw Refusal(path: path, reason: String(cString: strerror(errno)))
        }
        var ancestor = String(cString: resolved)
        free(resolved)
        while ancestor != "/" {
            ancestor = parent(of: ancestor)
            var info = stat()
            guard stat(ancestor, &info) == 0 else {
                throw Refusal(path: path, reason: "\(ancestor): \(String(cString: strerror(errno)))")
            }
            if info.st_uid != user && info.st_uid != 0 {
                throw Refusal(path: path, reason: "it lies in \(ancestor), which belongs to \(describe(uid: info.st_uid)); "
                    + "that user could put another directory in its place")
            }
            if info.st_mode & 0o022 != 0 && info.st_mode & S_ISVTX == 0 {
                throw Refusal(path: path, reason: "it lies in \(ancestor), which other users can write "
                    + "(mode \(octal(info.st_mode & 0o7777)), not sticky); they could put another directory in its place")
            }
        }
    }

    private static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    /// `nobody (uid 65534)`.
    static func describe(uid: uid_t) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return "\(String(cString: name)) (uid \(uid))"
    }

    private static func octal(_ mode: mode_t) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
