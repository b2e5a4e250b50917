#if canImport(Glibc)
import Glibc
#endif

/// The operations FUSE asks of a file system, by path, in the kernel's names.
///
/// FuseBridge owns this contract so that it knows nothing of FTP: `FTPFileSystem` implements it.
/// Every method reports failure as an `Errno` and nothing else, so no Swift error ever reaches
/// libfuse. Methods are called concurrently from libfuse's worker threads.
///
/// Write operations have default implementations that refuse with EROFS, so a read-only file
/// system implements only the read side.
public protocol FileSystemOperations: AnyObject, Sendable {
    /// Attributes of `path`; `handle` is set when the kernel asks about an open file (fstat).
    func getattr(_ path: String, handle: UInt64?) throws(Errno) -> FileAttributes
    func readlink(_ path: String) throws(Errno) -> String
    /// Entries of a directory, without `.` and `..` (the bridge adds them).
    func readdir(_ path: String) throws(Errno) -> any DirectoryContents
    func open(_ path: String, flags: Int32) throws(Errno) -> OpenedFile
    /// Reads into `buffer` from `offset`; returns the number of bytes read (0 at end of file).
    func read(_ path: String, handle: UInt64, into buffer: UnsafeMutableRawBufferPointer,
              offset: Int64) throws(Errno) -> Int
    /// Serves a read by moving the bytes into `pipe` (the write end of a pipe with room for at
    /// least `size` bytes, which the bridge splices on to the kernel) rather than copying them
    /// through user space. Returns how many bytes it moved, possibly fewer than `size` (the bridge
    /// reads the rest with `read`), or nil to leave the whole request to `read`.
    func spliceRead(_ path: String, handle: UInt64, size: Int, offset: Int64, into pipe: Int32) throws(Errno) -> Int?
    func release(_ path: String, handle: UInt64)
    func statfs(_ path: String) throws(Errno) -> FileSystemStatistics

    func create(_ path: String, mode: UInt32, flags: Int32) throws(Errno) -> OpenedFile
    func write(_ path: String, handle: UInt64, bytes: UnsafeRawBufferPointer,
               offset: Int64) throws(Errno) -> Int
    /// Called at each close() of a descriptor: upload errors must surface here.
    func flush(_ path: String, handle: UInt64) throws(Errno)
    func fsync(_ path: String, handle: UInt64, dataOnly: Bool) throws(Errno)
    func truncate(_ path: String, size: Int64, handle: UInt64?) throws(Errno)
    func unlink(_ path: String) throws(Errno)
    func mkdir(_ path: String, mode: UInt32) throws(Errno)
    func rmdir(_ path: String) throws(Errno)
    /// `flags` holds RENAME_NOREPLACE / RENAME_EXCHANGE.
    func rename(_ source: String, to destination: String, flags: UInt32) throws(Errno)
    /// Nil means "leave unchanged" (UTIME_OMIT); UTIME_NOW is resolved by the bridge.
    func utimens(_ path: String, accessed: Timestamp?, modified: Timestamp?, handle: UInt64?) throws(Errno)
    func chmod(_ path: String, mode: UInt32, handle: UInt64?) throws(Errno)
    func chown(_ path: String, uid: UInt32?, gid: UInt32?, handle: UInt64?) throws(Errno)
    func symlink(target: String, at path: String) throws(Errno)
    func copyFileRange(from source: String, handle sourceHandle: UInt64, offset sourceOffset: Int64,
                       to destination: String, handle destinationHandle: UInt64,
                       offset destinationOffset: Int64, length: Int) throws(Errno) -> Int

    /// The kernel connection is up: the file system may start background work.
    func mounted()
    /// The file system is being unmounted: flush what is pending, close connections.
    func destroy()
}

extension FileSystemOperations {
    public func spliceRead(_ path: String, handle: UInt64, size: Int, offset: Int64, into pipe: Int32) throws(Errno) -> Int? {
        nil
    }
    public func create(_ path: String, mode: UInt32, flags: Int32) throws(Errno) -> OpenedFile { throw .readOnlyFileSystem }
    public func write(_ path: String, handle: UInt64, bytes: UnsafeRawBufferPointer,
                      offset: Int64) throws(Errno) -> Int { throw .readOnlyFileSystem }
    public func flush(_ path: String, handle: UInt64) throws(Errno) {}
    public func fsync(_ path: String, handle: UInt64, dataOnly: Bool) throws(Errno) {}
    public func truncate(_ path: String, size: Int64, handle: UInt64?) throws(Errno) { throw .readOnlyFileSystem }
    public func unlink(_ path: String) throws(Errno) { throw .readOnlyFileSystem }
    public func mkdir(_ path: String, mode: UInt32) throws(Errno) { throw .readOnlyFileSystem }
    public func rmdir(_ path: String) throws(Errno) { throw .readOnlyFileSystem }
    public func rename(_ source: String, to destination: String, flags: UInt32) throws(Errno) { throw .readOnlyFileSystem }
    public func utimens(_ path: String, accessed: Timestamp?, modified: Timestamp?, handle: UInt64?) throws(Errno) {
        throw .readOnlyFileSystem
    }
    public func chmod(_ path: String, mode: UInt32, handle: UInt64?) throws(Errno) { throw .readOnlyFileSystem }
    public func chown(_ path: String, uid: UInt32?, gid: UInt32?, handle: UInt64?) throws(Errno) { throw .readOnlyFileSystem }
    public func symlink(target: String, at path: String) throws(Errno) { throw .readOnlyFileSystem }
    public func copyFileRange(from source: String, handle sourceHandle: UInt64, offset sourceOffset: Int64,
                              to destination: String, handle destinationHandle: UInt64,
                              offset destinationOffset: Int64, length: Int) throws(Errno) -> Int
    {
        throw .notSupported
    }
    public func mounted() {}
    public func destroy() {}
}

/// A POSIX error number, the only failure that crosses into libfuse (as its negative).
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    public static let notPermitted = Errno(EPERM)
    public static let noSuchFile = Errno(ENOENT)
    public static let ioError = Errno(EIO)
    public static let outOfMemory = Errno(ENOMEM)
    public static let badFileDescriptor = Errno(EBADF)
    public static let accessDenied = Errno(EACCES)
    public static let busy = Errno(EBUSY)
    public static let exists = Errno(EEXIST)
    public static let crossDevice = Errno(EXDEV)
    public static let notDirectory = Errno(ENOTDIR)
    public static let isDirectory = Errno(EISDIR)
    public static let invalidArgument = Errno(EINVAL)
    public static let fileTooLarge = Errno(EFBIG)
    public static let noSpace = Errno(ENOSPC)
    public static let readOnlyFileSystem = Errno(EROFS)
    public static let nameTooLong = Errno(ENAMETOOLONG)
    public static let notImplemented = Errno(ENOSYS)
    public static let directoryNotEmpty = Errno(ENOTEMPTY)
    public static let loop = Errno(ELOOP)
    public static let notSupported = Errno(EOPNOTSUPP)
    public static let timedOut = Errno(ETIMEDOUT)
    public static let connectionRefused = Errno(ECONNREFUSED)
    public static let hostUnreachable = Errno(EHOSTUNREACH)
    public static let tryAgain = Errno(EAGAIN)
    public static let interrupted = Errno(EINTR)
    public static let quotaExceeded = Errno(EDQUOT)

    public var description: String { "\(String(cString: strerror(rawValue))) (errno \(rawValue))" }
}

/// Seconds and nanoseconds since the Unix epoch.
public struct Timestamp: Hashable, Comparable, Sendable {
    public var seconds: Int64
    public var nanoseconds: Int32

    public init(seconds: Int64, nanoseconds: Int32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
    }

    public static func now() -> Timestamp {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Timestamp(seconds: Int64(time.tv_sec), nanoseconds: Int32(time.tv_nsec))
    }

    var timespecValue: timespec { timespec(tv_sec: Int(seconds), tv_nsec: Int(nanoseconds)) }
}

/// What `stat` shows for one file.
public struct FileAttributes: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case regular
        case directory
        case symlink
        /// Devices, pipes, sockets on the server: shown as what they are, never opened.
        case characterDevice
        case blockDevice
        case fifo
        case socket
    }

    public var kind: Kind
    /// Permission bits, `0o7777` at most.
    public var permissions: UInt32
    public var size: UInt64
    public var modified: Timestamp
    public var accessed: Timestamp
    public var changed: Timestamp
    public var linkCount: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// The preferred I/O size reported to programs (cp, dd use it to size their buffers).
    public var blockSize: UInt32

    public init(kind: Kind, permissions: UInt32, size: UInt64, modified: Timestamp,
                accessed: Timestamp? = nil, changed: Timestamp? = nil, linkCount: UInt32 = 1,
                uid: UInt32 = getuid(), gid: UInt32 = getgid(), blockSize: UInt32 = 1 << 20)
    {
        self.kind = kind
        self.permissions = permissions
        self.size = size
        self.modified = modified
        self.accessed = accessed ?? modified
        self.changed = changed ?? modified
        self.linkCount = linkCount
        self.uid = uid
        self.gid = gid
        self.blockSize = blockSize
    }

    var modeBits: mode_t {
        let type: mode_t = switch kind {
        case .regular: S_IFREG
        case .directory: S_IFDIR
        case .symlink: S_IFLNK
        case .characterDevice: S_IFCHR
        case .blockDevice: S_IFBLK
        case .fifo: S_IFIFO
        case .socket: S_IFSOCK
        }
        return type | mode_t(permissions & 0o7777)
    }

    func fill(_ stat: UnsafeMutablePointer<stat>) {
        stat.pointee = Glibc.stat()
        stat.pointee.st_mode = modeBits
        stat.pointee.st_nlink = nlink_t(linkCount)
        stat.pointee.st_size = off_t(clamping: size)
        stat.pointee.st_blocks = blkcnt_t(clamping: (size + 511) / 512)
        stat.pointee.st_blksize = blksize_t(blockSize)
        stat.pointee.st_uid = uid
        stat.pointee.st_gid = gid
        stat.pointee.st_mtim = modified.timespecValue
        stat.pointee.st_atim = accessed.timespecValue
        stat.pointee.st_ctim = changed.timespecValue
    }
}

/// What a readdir gives: entries by position, made when the kernel asks for them, so that a
/// directory of 100,000 files is not copied into an array of entries first.
public protocol DirectoryContents {
    /// How many positions there are.
    var count: Int { get }
    /// The entry at `index` (in `0..<count`), or nil for a position that shows nothing.
    func entry(at index: Int) -> DirectoryEntry?
}

extension DirectoryContents {
    /// Every entry shown, in order (for tests and small directories).
    public var all: [DirectoryEntry] { (0..<count).compactMap { entry(at: $0) } }
}

extension Array: DirectoryContents where Element == DirectoryEntry {
    public func entry(at index: Int) -> DirectoryEntry? { self[index] }
}

public struct DirectoryEntry: Sendable {
    public var name: String
    /// Known attributes let the kernel skip a lookup per entry (readdirplus).
    public var attributes: FileAttributes?

    public init(name: String, attributes: FileAttributes?) {
        self.name = name
        self.attributes = attributes
    }
}

/// The result of open/create.
public struct OpenedFile: Sendable {
    public var handle: UInt64
    /// The kernel may keep the pages it cached from an earlier open (the file is unchanged).
    public var keepCache: Bool
    /// Bypass the page cache (for files whose size is unknown until read).
    public var directIO: Bool

    public init(handle: UInt64, keepCache: Bool = false, directIO: Bool = false) {
        self.handle = handle
        self.keepCache = keepCache
        self.directIO = directIO
    }
}

/// What `df` shows. FTP cannot tell free space, so file systems report generous figures rather
/// than zero (programs refuse to write to a file system that looks full).
public struct FileSystemStatistics: Sendable {
    public var blockSize: UInt
    public var totalBlocks: UInt64
    public var freeBlocks: UInt64
    public var availableBlocks: UInt64
    public var totalFiles: UInt64
    public var freeFiles: UInt64
    public var maximumNameLength: UInt

    public init(blockSize: UInt, totalBlocks: UInt64, freeBlocks: UInt64, availableBlocks: UInt64,
                totalFiles: UInt64, freeFiles: UInt64, maximumNameLength: UInt)
    {
        self.blockSize = blockSize
        self.totalBlocks = totalBlocks
        self.freeBlocks = freeBlocks
        self.availableBlocks = availableBlocks
        self.totalFiles = totalFiles
        self.freeFiles = freeFiles
        self.maximumNameLength = maximumNameLength
    }
}
