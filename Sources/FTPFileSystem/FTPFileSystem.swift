import BlockCache
import FTPClient
import FTPProtocol
import FuseBridge
import Logging
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// How the file system presents the server.
public struct FileSystemConfiguration: Sendable {
    /// The absolute server path shown at the mountpoint.
    public var rootPath: String
    /// Seconds a directory listing is trusted before it is fetched again.
    public var directoryCacheTimeout: Double
    /// Seconds within which what the cache knows about one name is trusted where it matters
    /// (creating a file that another client may have created meanwhile).
    public var revalidateInterval: Double = 1
    /// Reject every change with EROFS.
    public var readOnly: Bool
    /// Where local cache and staging files go (used by the write path and the block cache).
    public var cacheDirectory: String?
    /// How far ahead of a read stream a request may land and still be served by reading through
    /// (out-of-order kernel read-ahead) instead of starting a new RETR.
    public var readThroughWindow: UInt64
    /// Bytes of out-of-order data kept per open file while the kernel's parallel reads catch up.
    public var reorderBufferSize: Int
    /// Replace existing files by uploading to a temporary name and renaming it over them.
    public var atomicUpload: Bool
    public var verification: Verification
    /// Blocks read at random places, kept for later reads (nil: none).
    public var blockCache: BlockCache?
    /// What names this server and login in the block cache's keys (a cache directory may be
    /// shared by mounts of several servers), e.g. `ftp://alice@example.org:21`.
    public var blockCacheScope = ""
    /// What names this server and login for the names of temporaries on the server and the
    /// journal that records them (`TemporaryNames`), e.g. `ftp://alice@example.org:21`.
    public var serverScope = "ftpfs"

    /// How an upload is checked once the server has it.
    public enum Verification: String, Sendable {
        /// By digest when the server can hash files (HASH, XSHA256, …), else by SIZE.
        case auto
        /// By SIZE only.
        case size
        case off
    }

    public init(rootPath: String, directoryCacheTimeout: Double = 30, readOnly: Bool = false,
                cacheDirectory: String? = nil, readThroughWindow: UInt64 = 2 << 20,
                reorderBufferSize: Int = 8 << 20, atomicUpload: Bool = true,
                verification: Verification = .auto)
    {
        self.rootPath = FTPPath.normalize(rootPath)
        self.directoryCacheTimeout = directoryCacheTimeout
        self.readOnly = readOnly
        self.cacheDirectory = cacheDirectory
        self.readThroughWindow = readThroughWindow
        self.reorderBufferSize = reorderBufferSize
        self.atomicUpload = atomicUpload
        self.verification = verification
    }
}

/// FUSE semantics over FTP: attributes and listings from a cache with a timeout, streaming reads,
/// writes through one state machine per file (`FileWriter`), and the one mapping from what went
/// wrong to errno. It reaches the server only through a `RemoteStore`.
///
/// Lock order (outermost first): an `OpenFile`'s lock → a `FileWriter`'s lock → `openFiles` lock
/// → the store's (pool's) lock. The listing cache's lock is a leaf; no I/O happens under it or
/// under `openFiles`.
public final class FTPFileSystem: FileSystemOperations, @unchecked Sendable {
    public let configuration: FileSystemConfiguration
    let store: any RemoteStore
    let logger: Logger
    let listings: ListingCache
    let openFiles = OpenFileTable()
    /// The (size, mtime) each path had when last opened, so an unchanged file keeps its pages
    /// in the kernel's cache across opens.
    let pageCacheValidity = PageCacheValidity()
    let writers = WriterTable()
    let exactTimes = ExactTimes()
    let staging: StagingArea
    let links: LinkResolutions
    let mountTime = Timestamp.now()
    /// Counters for the status line (FTPFileSystem+Maintenance.swift).
    let activity = ActivityCounters()
    /// Lists directories ahead of a walk (FTPFileSystem+Prefetch.swift); nil with one connection.
    let prefetcher: DirectoryPrefetcher<any RemoteLister>?
    /// Names of the temporaries ftpfs keeps on the server, and the local record of them.
    let names: TemporaryNames
    let journal: TemporaryJournal?
    let changes: ServerChanges
    /// Directories that can be entered but not listed (upload-only "drop boxes"), by server path.
    let dropBoxes = DirectorySet()
    /// What every writer shares.
    private(set) var writerContext: WriterContext!
    /// Tells the kernel to drop what it caches of a path (attributes, pages): at once when the
    /// flag says so (from an open), else from another thread (never from inside a read of the
    /// same file, whose pages the kernel holds); set by whoever mounts (nil without a kernel).
    public var kernelInvalidator: (@Sendable (String, Bool) -> Void)?

    public init(store: any RemoteStore, configuration: FileSystemConfiguration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.listings = ListingCache(timeout: configuration.directoryCacheTimeout)
        self.staging = StagingArea(directory: configuration.cacheDirectory)
        self.names = TemporaryNames(scope: configuration.serverScope)
        self.journal = configuration.readOnly ? nil
            : TemporaryJournal(cacheDirectory: staging.directory, scope: configuration.serverScope)
        self.changes = ServerChanges(store: store, names: names, journal: journal, logger: logger)
        pageCacheValidity.useBlockCache(configuration.blockCache, scope: configuration.blockCacheScope,
                                        serverPath: { [root = configuration.rootPath] path in
                                            path == "/" ? root : FTPPath.join(root, String(path.dropFirst()))
                                        })
        self.links = LinkResolutions(timeout: configuration.directoryCacheTimeout)
        self.prefetcher = Self.makePrefetcher(store: store, listings: listings, configuration: configuration, logger: logger)
        let dropBoxes = self.dropBoxes
        let isDropBox: @Sendable (String) -> Bool = { dropBoxes.contains($0) }
        writerContext = WriterContext(
            store: store, staging: staging, names: names, journal: journal, changes: changes,
            transfers: WholeTransfers(store: store),
            verifier: UploadVerifier(store: store, mode: configuration.verification, isDropBox: isDropBox, logger: logger),
            atomicUpload: configuration.atomicUpload, renameRefusals: DirectorySet(), isDropBox: isDropBox,
            background: .shared, logger: logger,
            onCommitted: { [weak self] writer in self?.recordCommitted(writer) })
        store.setStarvationHandler { [weak self] in
            guard let self else { return false }
            return self.releaseIdleReadStream() || self.suspendIdleUpload()
        }
    }

    /// Creates the cache directory where edited files are staged (unless mounted read-only).
    public func prepareLocalStorage() throws(Errno) {
        if !configuration.readOnly { try staging.prepare() }
    }

    /// Where staged files go, for messages.
    public var stagingDirectory: String { staging.directory }

    /// Checks that the root directory exists on the server, so a mistyped path fails the mount.
    public func verifyRoot() throws(FTPError) {
        try store.enterDirectory(configuration.rootPath)
    }

    /// The server path for a path under the mountpoint ("/" is the root).
    func serverPath(_ path: String) -> String {
        path == "/" || path.isEmpty ? configuration.rootPath : FTPPath.join(configuration.rootPath, String(path.dropFirst()))
    }

    /// Maps a failure of `operation` to an errno, logging it.
    func mapped(_ error: FTPError, _ operation: FileOperation) -> Errno {
        let code = Self.errno(for: error, during: operation)
        logFailure(error, operation: operation, errno: code)
        return code
    }

    func logFailure(_ error: FTPError, operation: FileOperation, errno code: Errno) {
        if code != .noSuchFile { activity.recordError() }
        if error.isServerAnswer {
            logger.debug("\(operation): \(error) → \(code)")
        } else {
            logger.warning("\(operation): \(error) → \(code)")
        }
    }

    // MARK: - Attributes

    public func getattr(_ path: String, handle: UInt64?) throws(Errno) -> FileAttributes {
        if let handle, let file = openFiles.file(handle) {
            if let writer = file.writer ?? file.linkedWriter { return writer.attributes }
            // fstat of a file unlinked or renamed away on the server still answers.
            return (try? attributes(of: path)) ?? file.currentAttributes()
        }
        return try attributes(of: path)
    }

    /// What `stat` shows: a file being written here shows the writers' size and mtime.
    func attributes(of path: String) throws(Errno) -> FileAttributes {
        if path == "/" { return rootAttributes }
        if let writer = writers.writer(for: path) { return writer.attributes }
        return makeAttributes(presented(exactTimes.refine(try entry(at: path), at: path), at: path))
    }

    var rootAttributes: FileAttributes {
        FileAttributes(kind: .directory, permissions: 0o755, size: 0, modified: mountTime)
    }

    /// The listing entry for `path`: from the parent's cached listing when there is one, else by
    /// MLST when the server has it, else by listing the parent (which fills its siblings too).
    /// In a directory that cannot be listed (a drop box), a name not created here is unknown:
    /// ENOENT, so that programs go on to create it.
    func entry(at path: String) throws(Errno) -> ListingEntry {
        activity.recordListingLookup()
        let parent = FTPPath.parent(path)
        let name = FTPPath.lastComponent(path)
        if let cached = listings.cachedListing(of: parent) {
            if let entry = cached.entries[name] { return entry }
            // Missing from a listing: believed while the listing (or a lookup since) is young;
            // after that the server is asked, so that another client's new file shows within
            // `revalidate` seconds (the kernel remembers misses for `negative_timeout`).
            if listings.knowsMissing(path, within: configuration.revalidateInterval) { throw .noSuchFile }
            guard let entry = try probe(path) else { throw .noSuchFile }
            return entry
        }
        // The parent is being listed (a walk's listing ahead, or another request): its listing
        // answers this too, and without another round trip.
        if listings.isBeingFetched(parent), let listing = try? directoryListing(of: parent) {
            guard let entry = listing.entries[name] else { throw .noSuchFile }
            return entry
        }
        if let cached = listings.cachedEntry(at: path) {
            guard let entry = cached else { throw .noSuchFile }
            return entry
        }
        let isDropBox = dropBoxes.contains(serverPath(parent))
        if store.abilities.canStatOnePath && !isDropBox {
            activity.recordListingFetch()
            do {
                let entry = try store.stat(serverPath(path))
                listings.storeEntry(entry, at: path)
                return entry
            } catch {
                switch error.meaning {
                case .notFound:
                    listings.storeEntry(nil, at: path)
                    throw .noSuchFile
                case .notSupported, .badArgument, .permissionDenied, .refused:
                    break  // MLST refused here: the parent's listing tells
                default:
                    throw mapped(error, .lookup)
                }
            }
        }
        if isDropBox { throw .noSuchFile }
        do throws(Errno) {
            let listing = try directoryListing(of: parent)
            guard let entry = listing.entries[name] else { throw Errno.noSuchFile }
            return entry
        } catch {
            if dropBoxes.contains(serverPath(parent)) { throw .noSuchFile }
            throw error
        }
    }

    /// What the server says `path` is now, in one round trip where it can (MLST, else SIZE and
    /// MDTM; a name SIZE does not know is tried as a directory), into the cache. Nil when it is
    /// missing, or cannot be told (an upload-only directory).
    func probe(_ path: String) throws(Errno) -> ListingEntry? {
        let target = serverPath(path)
        let name = FTPPath.lastComponent(path)
        if dropBoxes.contains(serverPath(FTPPath.parent(path))) { return nil }
        activity.recordListingFetch()
        var found: ListingEntry?
        do throws(FTPError) {
            if store.abilities.canStatOnePath {
                found = try store.stat(target)
            } else {
                do throws(FTPError) {
                    let (size, time) = try store.sizeAndModificationTime(of: target)
                    found = ListingEntry(name: name, kind: .file, size: size, modified: time)
                } catch where [.notFound, .refused, .permissionDenied].contains(error.meaning) {
                    do throws(FTPError) {
                        try store.enterDirectory(target)
                        found = ListingEntry(name: name, kind: .directory)
                    } catch where !error.isConnectionLost {
                        found = nil
                    }
                }
            }
        } catch {
            switch error.meaning {
            case .notFound: found = nil
            case .notSupported, .badArgument, .permissionDenied, .refused:
                // The server will not say about one path: its parent's listing will.
                listings.invalidate(path)
                let listing = try directoryListing(of: FTPPath.parent(path))
                return listing.entries[name]
            default: throw mapped(error, .lookup)
            }
        }
        found?.name = name
        // A listing's entry may know more (a mode, a link's target) than SIZE and MDTM tell.
        if let known = listings.cachedListing(of: FTPPath.parent(path))?.entries[name], var refreshed = found,
           known.kind == refreshed.kind
        {
            refreshed.mode = refreshed.mode ?? known.mode
            refreshed.linkTarget = refreshed.linkTarget ?? known.linkTarget
            found = refreshed
        }
        listings.refresh(found, at: path)
        return found
    }

    /// The attributes an open sees: when what the cache knows of the file is older than
    /// `revalidate` seconds, the server is asked first (close-to-open consistency, as NFS
    /// gives it). A file another client changed then drops its cached pages and blocks here
    /// and in the kernel, which is told at once (before the open returns, so the reads that
    /// follow see the new size).
    func attributesForOpen(_ path: String) throws(Errno) -> FileAttributes {
        guard path != "/", writers.writer(for: path) == nil,
              let age = listings.knowledgeAge(of: path), age >= configuration.revalidateInterval
        else { return try attributes(of: path) }
        let before = listings.cachedListing(of: FTPPath.parent(path))?.entries[FTPPath.lastComponent(path)]
        guard let now = try probe(path) else {
            pageCacheValidity.forget(path)
            throw .noSuchFile
        }
        if let before, before.size != now.size || !Self.sameTime(before.modified, now.modified) {
            logger.debug("\(path) changed on the server since it was listed; dropping what is cached of it")
            exactTimes.forget(path)
            pageCacheValidity.forget(path)
            kernelInvalidator?(path, true)
        }
        return try attributes(of: path)
    }

    /// Whether two times are the same one, allowing for one of them coming from a listing that
    /// shows only minutes.
    static func sameTime(_ a: FTPTimestamp?, _ b: FTPTimestamp?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        if a == b { return true }
        return ExactTimes.agrees(listed: a, exact: b) || ExactTimes.agrees(listed: b, exact: a)
    }

    /// An entry was added to, removed from or replaced in the directory holding `path`: that
    /// directory's real mtime moved, so a time remembered for it no longer holds.
    func directoryContentChanged(around path: String) {
        exactTimes.directoryChanged(FTPPath.parent(path))
    }

    func makeAttributes(_ entry: ListingEntry) -> FileAttributes {
        let modified = entry.modified.map { Timestamp(seconds: $0.seconds, nanoseconds: $0.nanoseconds) } ?? mountTime
        switch entry.kind {
        case .directory:
            // A link count of 1 tells find(1) and fts not to guess the number of subdirectories.
            return FileAttributes(kind: .directory, permissions: entry.mode ?? 0o755, size: entry.size ?? 0,
                                  modified: modified)
        case .symlink:
            let size = UInt64(entry.linkTarget?.utf8.count ?? 0)
            return FileAttributes(kind: .symlink, permissions: 0o777, size: size, modified: modified)
        case .file, .other:
            return FileAttributes(kind: .regular, permissions: entry.mode ?? 0o644, size: entry.size ?? 0,
                                  modified: modified)
        }
    }

    // MARK: - Directories

    public func readdir(_ path: String) throws(Errno) -> any DirectoryContents {
        activity.recordListingLookup()
        let listing = try directoryListing(of: path)
        prefetcher?.directoryRead(path, listing: listing)
        let prefix = path == "/" ? "/" : path + "/"
        // ftpfs's own temporaries are not the user's: never shown; those a dead ftpfs left go.
        for position in 0..<listing.positions {
            guard let name = listing.entry(atPosition: position)?.name, name.hasPrefix(TemporaryNames.prefix),
                  names.isAbandoned(name)
            else { continue }
            removeAbandoned(prefix + name)
        }
        return ListedDirectory(listing: listing, prefix: prefix, fileSystem: self)
    }

    /// A directory's entries as readdir hands them to the kernel: made one at a time from the
    /// cached listing (shared, not copied), with the attributes they have when asked for.
    struct ListedDirectory: DirectoryContents {
        let listing: CachedListing
        let prefix: String
        let fileSystem: FTPFileSystem

        var count: Int { listing.positions }

        func entry(at index: Int) -> DirectoryEntry? {
            guard let entry = listing.entry(atPosition: index), fileSystem.names.parse(entry.name) == nil else { return nil }
            let name = entry.name
            let childPath = prefix + name
            if entry.kind == .symlink && !fileSystem.isResolvedHere(entry, at: childPath) {
                // A link the server must resolve (it leads outside the tree): resolved when it
                // is looked up, not here, where a listing would wait for every one of them.
                return DirectoryEntry(name: name, attributes: nil)
            }
            let attributes = fileSystem.writers.writer(for: childPath)?.attributes
                ?? fileSystem.makeAttributes(fileSystem.presented(fileSystem.exactTimes.refine(entry, at: childPath),
                                                                  at: childPath))
            return DirectoryEntry(name: name, attributes: attributes)
        }
    }

    /// Deletes a temporary a dead ftpfs left, in the background.
    private func removeAbandoned(_ path: String) {
        let changes = self.changes
        let target = serverPath(path)
        logger.notice("removing \(target), left on the server by an ftpfs that ended abruptly")
        listings.updateEntry(at: path) { $0 = nil }
        WorkerThreads.shared.run { changes.remove(target, what: "a temporary of an ftpfs that ended abruptly") }
    }

    /// The listing of a directory, from the cache or the server. Concurrent requests for the
    /// same directory share one fetch. A directory that can be entered but not listed is
    /// remembered as a drop box, and its listing is EACCES.
    func directoryListing(of path: String) throws(Errno) -> CachedListing {
        let target = serverPath(path)
        return try listings.listing(of: path) { () throws(Errno) -> CachedListing in
            activity.recordListingFetch()
            do throws(FTPError) {
                let listing = try store.list(target)
                dropBoxes.remove(target)
                return CachedListing(listing)
            } catch {
                if case .listingRefused = error {
                    if !dropBoxes.contains(target) {
                        logger.notice("\(path) can be entered but not listed (an upload-only directory): files can be created there, not seen")
                    }
                    dropBoxes.insert(target)
                }
                throw mapped(error, .list)
            }
        }
    }

    public func readlink(_ path: String) throws(Errno) -> String {
        let entry = presented(try entry(at: path), at: path)
        guard entry.kind == .symlink else { throw .invalidArgument }
        guard let target = entry.linkTarget else { throw .noSuchFile }
        return target
    }

    public func statfs(_ path: String) throws(Errno) -> FileSystemStatistics {
        // FTP has no way to ask for free space. Report a large, plausible file system: zero free
        // blocks would make cp, rsync and desktop file managers refuse to write.
        let blockSize: UInt = 4096
        let total: UInt64 = (1 << 50) / UInt64(blockSize)
        return FileSystemStatistics(blockSize: blockSize, totalBlocks: total, freeBlocks: total,
                                    availableBlocks: total, totalFiles: 1 << 32, freeFiles: 1 << 32,
                                    maximumNameLength: 255)
    }

    // MARK: - Lifecycle

    public func mounted() {
        store.startMaintenance()
        if !configuration.readOnly {
            // What ftpfs processes that died left on the server (their journals say where).
            let changes = self.changes
            WorkerThreads.shared.run { changes.recoverAbandonedTemporaries() }
        }
    }

    public func destroy() {
        // Whatever is still pending is uploaded now; an error can only be logged.
        for writer in writers.all() {
            writer.lock.withLock {
                do {
                    try writer.commit()
                } catch {
                    logger.error("\(writer.path): changes not saved to the server at unmount: \(error)")
                }
            }
        }
        for file in openFiles.removeAll() {
            file.close()
        }
        prefetcher?.shutdown()
        journal?.removeIfEmpty()
        store.shutdown()
    }
}

/// Remembers each path's (size, mtime) at its last open.
final class PageCacheValidity: @unchecked Sendable {
    private let lock = ConditionLock()
    /// Bounded: a file opened long ago and not since gets its pages dropped at its next open.
    private var versions = BoundedTable<String, FileVersion>(limit: 20_000)

    /// Records the version now open and returns whether the kernel's cached pages (from the
    /// previous open) still hold this version's data.
    func openAndCheck(_ path: String, version: FileVersion) -> Bool {
        lock.withLock {
            let previous = versions.peek(path)
            versions.set(path, version)
            return previous == version
        }
    }

    func forget(_ path: String) {
        lock.withLock { _ = versions.removeValue(forKey: path) }
        if let blockCache { blockCache.invalidate(path: blockCacheKey(path)) }
    }

    /// The block cache holds content by path too: whatever makes the kernel's pages stale
    /// (a write, a rename, a delete) makes its blocks stale. Call once, before any use.
    func useBlockCache(_ cache: BlockCache?, scope: String, serverPath: @escaping @Sendable (String) -> String) {
        blockCache = cache
        blockCacheKey = { scope + serverPath($0) }
    }

    private(set) var blockCache: BlockCache?
    /// The block cache's name for a mount path.
    private(set) var blockCacheKey: @Sendable (String) -> String = { $0 }
}

/// What identifies a file's content without reading it.
struct FileVersion: Hashable, Sendable {
    var size: UInt64
    var modified: Timestamp
}
