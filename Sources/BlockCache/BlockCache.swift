#if canImport(Glibc)
import Glibc
#endif
import ThreadSupport

/// Which bytes a block holds: the same path with the same size and modification time is taken
/// to be the same content (FTP offers nothing finer without reading the file).
public struct ContentVersion: Hashable, Sendable {
    /// The file's identity across mounts: server, login and path (the caller chooses).
    public var path: String
    public var size: UInt64
    /// Modification time in nanoseconds since the epoch.
    public var modified: Int64

    public init(path: String, size: UInt64, modified: Int64) {
        self.path = path
        self.size = size
        self.modified = modified
    }

    /// Whether blocks of this version may serve later mounts from the disk. A LIST listing gives
    /// times to the minute (or the day) only: a file rewritten within that minute at the same
    /// size keeps its key, so a later mount would serve the old content. Such times are always
    /// whole minutes (the parsers make them so), while MLSD, MDTM, EPLF and `ls --full-time`
    /// give seconds. A precise time that falls on a whole minute is taken as imprecise too: its
    /// blocks then serve the mount that read them only (in memory and on disk), which costs
    /// one file in sixty a re-read, never a stale one.
    public var persistsAcrossMounts: Bool {
        modified % 60_000_000_000 != 0
    }
}

/// Fixed-size blocks of remote files, in memory within a budget (least recently used go first)
/// and, when given a directory, on disk as well so that they survive remounts.
///
/// Every block but a file's last is exactly `blockSize` bytes; the last holds the rest. A block
/// of a version that is no longer current simply stops being asked for and ages out, and
/// `invalidate(path:)` drops a path's blocks at once when the file system changes it.
public final class BlockCache: @unchecked Sendable {
    public struct Statistics: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        public var memoryBytes = 0
        public var diskBytes = 0
    }

    struct Key: Hashable {
        var version: ContentVersion
        var index: UInt64
    }

    private struct Entry {
        var bytes: [UInt8]
        var lastUse: UInt64
    }

    public let blockSize: Int
    private let memoryBudget: Int
    private let disk: DiskBlockStore?
    private let lock = ConditionLock()
    private var entries: [Key: Entry] = [:]
    private var clock: UInt64 = 0
    private var statistics = Statistics()

    /// `memoryBudget` 0 keeps nothing in memory; `directory` nil keeps nothing on disk.
    public init(blockSize: Int = 128 * 1024, memoryBudget: Int, directory: String? = nil,
                diskBudget: Int = 1 << 30) throws(BlockCacheError)
    {
        precondition(blockSize > 0)
        self.blockSize = blockSize
        self.memoryBudget = max(0, memoryBudget)
        disk = try directory.map { (path) throws(BlockCacheError) in try DiskBlockStore(directory: path, budget: diskBudget) }
    }

    /// Whether the cache keeps anything at all.
    public var isEnabled: Bool { memoryBudget > 0 || disk != nil }

    /// The number of bytes block `index` of `version` holds (the last block is short).
    public func length(ofBlock index: UInt64, in version: ContentVersion) -> Int {
        let start = index * UInt64(blockSize)
        guard start < version.size else { return 0 }
        return Int(min(UInt64(blockSize), version.size - start))
    }

    /// Copies what block `index` holds from `offset` within the block into `destination`;
    /// returns the number of bytes copied, nil when the block is not cached.
    public func copy(_ version: ContentVersion, block index: UInt64, from offset: Int,
                     into destination: UnsafeMutableRawBufferPointer) -> Int?
    {
        let key = Key(version: version, index: index)
        let found: [UInt8]? = lock.withLock {
            guard var entry = entries[key] else { return nil }
            clock += 1
            entry.lastUse = clock
            entries[key] = entry
            statistics.hits += 1
            return entry.bytes
        }
        var bytes = found
        if bytes == nil, let disk, let stored = disk.load(key), stored.count == length(ofBlock: index, in: version) {
            bytes = stored
            lock.withLock { statistics.hits += 1 }
            insertInMemory(key, stored)
        }
        guard let bytes else {
            lock.withLock { statistics.misses += 1 }
            return nil
        }
        guard offset < bytes.count else { return 0 }
        let count = min(destination.count, bytes.count - offset)
        bytes.withUnsafeBytes { source in
            destination.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
        }
        return count
    }

    /// Keeps block `index` of `version`, which must be the block's whole content.
    public func store(_ version: ContentVersion, block index: UInt64, bytes: [UInt8]) {
        guard bytes.count == length(ofBlock: index, in: version), !bytes.isEmpty else { return }
        let key = Key(version: version, index: index)
        insertInMemory(key, bytes)
        disk?.save(key, bytes)
    }

    /// Drops every block of every version of `path` (the file system changed it).
    public func invalidate(path: String) {
        lock.withLock {
            for key in entries.keys where key.version.path == path {
                statistics.memoryBytes -= entries.removeValue(forKey: key)?.bytes.count ?? 0
            }
        }
        disk?.remove(path: path)
    }

    /// Drops everything, in memory and on disk.
    public func removeAll() {
        lock.withLock {
            entries.removeAll()
            statistics.memoryBytes = 0
        }
        disk?.removeAll()
    }

    public var currentStatistics: Statistics {
        var result = lock.withLock { statistics }
        result.diskBytes = disk?.totalBytes ?? 0
        return result
    }

    private func insertInMemory(_ key: Key, _ bytes: [UInt8]) {
        guard bytes.count <= memoryBudget else { return }
        lock.withLock {
            clock += 1
            if let old = entries.updateValue(Entry(bytes: bytes, lastUse: clock), forKey: key) {
                statistics.memoryBytes -= old.bytes.count
            }
            statistics.memoryBytes += bytes.count
            // Budgets hold a few hundred blocks: a scan for the oldest is cheap enough.
            while statistics.memoryBytes > memoryBudget,
                  let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse })
            {
                statistics.memoryBytes -= oldest.value.bytes.count
                entries.removeValue(forKey: oldest.key)
            }
        }
    }
}

public enum BlockCacheError: Error, CustomStringConvertible {
    case directory(String, errno: Int32)
    /// The directory is not the mounting user's alone (see `PrivateDirectory`).
    case unsafeDirectory(PrivateDirectory.Refusal)

    public var description: String {
        switch self {
        case .directory(let path, let code): "cannot use \(path) for cached blocks: \(String(cString: strerror(code)))"
        case .unsafeDirectory(let refusal): refusal.description
        }
    }
}
