import FTPProtocol
import ThreadSupport

/// Modification times known to the second, for files whose listing gives less.
///
/// A Unix LIST shows `Nov 21 16:43` for recent files and `Feb  3  2001` for old ones, so a time
/// set with `touch -d`, `cp -p` or `rsync -a` would read back rounded, and rsync would copy the
/// file again on its next run. The exact time stays in use as long as the listing still agrees
/// with it: same size, and a listed time equal to it, or equal to it cut to the minute, or its
/// day at midnight. A change made elsewhere breaks the agreement and the listing wins.
final class ExactTimes: @unchecked Sendable {
    private struct Known {
        var size: UInt64
        var time: FTPTimestamp
    }

    /// A directory time the server would not set (pyftpdlib's MFMT and vsftpd's MDTM take
    /// regular files only). It is shown here until the directory changes: through this mount,
    /// or on the server, which shows as its listed time moving from the one first seen.
    private struct DirectoryTime {
        var time: FTPTimestamp
        var listedTimeSeen: FTPTimestamp?
    }

    private let lock = ConditionLock()
    /// Bounded: the files written most recently keep their exact times (rsync's next run
    /// needs them); the oldest fall back to what the listing shows.
    private var known = BoundedTable<String, Known>(limit: 50_000)
    private var directories = BoundedTable<String, DirectoryTime>(limit: 10_000)

    func recordDirectory(_ path: String, time: FTPTimestamp) {
        lock.withLock { directories[path] = DirectoryTime(time: time, listedTimeSeen: nil) }
    }

    /// Something inside `directory` changed through the mount: its real mtime moved.
    func directoryChanged(_ directory: String) {
        lock.withLock { _ = directories.removeValue(forKey: directory) }
    }

    func record(_ path: String, size: UInt64, time: FTPTimestamp) {
        lock.withLock { known[path] = Known(size: size, time: time) }
    }

    func forget(_ path: String) {
        lock.withLock {
            known.removeValue(forKey: path)
            directories.removeValue(forKey: path)
        }
    }

    /// Moves what is known at or below `source` to `destination` (after a rename).
    func move(_ source: String, to destination: String) {
        let prefix = source + "/"
        lock.withLock {
            for (path, value) in known.all where path == source || path.hasPrefix(prefix) {
                known.removeValue(forKey: path)
                known[destination + path.dropFirst(source.count)] = value
            }
            for (path, value) in directories.all where path == source || path.hasPrefix(prefix) {
                directories.removeValue(forKey: path)
                directories[destination + path.dropFirst(source.count)] = value
            }
        }
    }

    /// The entry with its exact time, when the listing agrees with what was recorded.
    func refine(_ entry: ListingEntry, at path: String) -> ListingEntry {
        if entry.kind == .directory { return refineDirectory(entry, at: path) }
        guard entry.kind == .file, let listed = entry.modified else { return entry }
        return lock.withLock {
            guard let exact = known.get(path) else { return entry }
            guard entry.size == exact.size, Self.agrees(listed: listed, exact: exact.time) else {
                known.removeValue(forKey: path)
                return entry
            }
            var refined = entry
            refined.modified = exact.time
            return refined
        }
    }

    private func refineDirectory(_ entry: ListingEntry, at path: String) -> ListingEntry {
        lock.withLock {
            guard var override = directories.get(path) else { return entry }
            if let listed = entry.modified {
                if let seen = override.listedTimeSeen, seen != listed {
                    directories.removeValue(forKey: path)
                    return entry
                }
                override.listedTimeSeen = listed
                directories[path] = override
            }
            var refined = entry
            refined.modified = override.time
            return refined
        }
    }

    static func agrees(listed: FTPTimestamp, exact: FTPTimestamp) -> Bool {
        if listed.seconds == exact.seconds { return true }
        if listed.seconds % 60 == 0, listed.seconds == exact.seconds - exact.seconds % 60 { return true }
        return listed.seconds % 86_400 == 0 && listed.seconds == exact.seconds - exact.seconds % 86_400
    }
}
