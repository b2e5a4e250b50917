import FTPClient
import FTPProtocol
import FuseBridge
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// Opening, writing, flushing and truncating files: each calls a transition of the path's
/// `FileWriter`, which holds the state and does the uploading.
extension FTPFileSystem {
    func requireWritable() throws(Errno) {
        if configuration.readOnly { throw .readOnlyFileSystem }
    }

    public func create(_ path: String, mode: UInt32, flags: Int32) throws(Errno) -> OpenedFile {
        try requireWritable()
        // The kernel creates only after a lookup said "missing", and that may come from a
        // listing up to dir_cache_timeout old. When what is there matters (O_EXCL; O_APPEND or
        // no O_TRUNC, which keep an existing file's content), ask the server.
        if flags & O_EXCL != 0 || flags & O_TRUNC == 0, let existing = existingOnServer(path) {
            if flags & O_EXCL != 0 { throw .exists }
            logger.info("\(path) exists on the server after all (another client made it): opening it")
            listings.updateEntry(at: path) { $0 = existing }
            return try open(path, flags: flags & ~O_CREAT)
        }
        let now = Timestamp.now()
        let permissions = mode & 0o7777
        let context = writerContext!
        let writer = writers.attach(path) {
            FileWriter(path: path, serverPath: serverPath(path), context: context, existing: nil,
                       created: (now, permissions))
        }
        // Visible at once to this machine (ls, stat); the server gets it at the first flush.
        listings.updateEntry(at: path) {
            $0 = ListingEntry(name: FTPPath.lastComponent(path), kind: .file, size: 0,
                              modified: FTPTimestamp(now), mode: permissions)
        }
        pageCacheValidity.forget(path)
        exactTimes.forget(path)
        directoryContentChanged(around: path)
        let file = openFiles.insert { handle in
            OpenFile(handle: handle, path: path, serverPath: serverPath(path), attributes: writer.attributes,
                     reorderBufferSize: configuration.reorderBufferSize, writer: writer)
        }
        return OpenedFile(handle: file.handle, directIO: Self.bypassesPageCache(flags))
    }

    /// The entry at `path` when the server has one that the cache did not know about: asked
    /// only when the cache's word that the name is missing is older than `revalidateInterval`.
    /// Nil when missing, or when the server cannot say (a drop box).
    func existingOnServer(_ path: String) -> ListingEntry? {
        if listings.knowsMissing(path, within: configuration.revalidateInterval) { return nil }
        let parent = serverPath(FTPPath.parent(path))
        if dropBoxes.contains(parent) { return nil }
        let target = serverPath(path)
        if store.abilities.canStatOnePath {
            do {
                let entry = try store.stat(target)
                return entry.kind == .directory ? nil : entry
            } catch where error.meaning == .notFound {
                listings.storeEntry(nil, at: path)
                return nil
            } catch {
                // MLST refused: the listing tells.
            }
        }
        return (try? changes.entry(at: target)).flatMap { $0?.kind == .directory ? nil : $0 }
    }

    public func open(_ path: String, flags: Int32) throws(Errno) -> OpenedFile {
        let accessMode = flags & O_ACCMODE
        let writes = accessMode != O_RDONLY || flags & O_TRUNC != 0
        if writes { try requireWritable() }
        let attributes = try attributesForOpen(path)
        switch attributes.kind {
        case .regular: break
        case .directory: throw .isDirectory
        default: throw .notSupported
        }
        var writer: FileWriter?
        if writes {
            let context = writerContext!
            let opened = writers.attach(path) {
                FileWriter(path: path, serverPath: serverPath(path), context: context, existing: attributes)
            }
            if flags & O_TRUNC != 0 {
                opened.lockInterruptingStalledStream()
                var failure: Errno?
                do {
                    try opened.truncate(to: 0)
                } catch {
                    failure = error
                }
                opened.lock.unlock()
                if let failure {
                    releaseWriter(opened)
                    throw failure
                }
            }
            writer = opened
        }
        let file = openFiles.insert { handle in
            OpenFile(handle: handle, path: path, serverPath: serverPath(path), attributes: attributes,
                     reorderBufferSize: configuration.reorderBufferSize, writer: writer)
        }
        // The kernel may keep pages cached from an earlier open while the file is unchanged.
        let keep = !writes && writers.writer(for: path) == nil
            && pageCacheValidity.openAndCheck(path, version: FileVersion(size: attributes.size,
                                                                         modified: attributes.modified))
        if writes { pageCacheValidity.forget(path) }
        return OpenedFile(handle: file.handle, keepCache: keep, directIO: Self.bypassesPageCache(flags))
    }

    /// Write-only handles skip the kernel's page cache: their writes reach `write` straight from
    /// the program's buffer instead of being copied into cache pages first (which costs as much
    /// as the upload itself and fills memory with pages nobody reads). Nothing is lost: a
    /// write-only handle cannot be read or mapped, and the writer's data is uploaded anyway.
    static func bypassesPageCache(_ flags: Int32) -> Bool {
        flags & O_ACCMODE == O_WRONLY
    }

    public func write(_ path: String, handle: UInt64, bytes: UnsafeRawBufferPointer,
                      offset: Int64) throws(Errno) -> Int
    {
        guard let file = openFiles.file(handle), let writer = file.writer else { throw .badFileDescriptor }
        guard offset >= 0 else { throw .invalidArgument }
        try writer.lock.withLock { () throws(Errno) in try writer.write(bytes, at: UInt64(offset)) }
        activity.recordWrite(bytes.count)
        return bytes.count
    }

    public func flush(_ path: String, handle: UInt64) throws(Errno) {
        guard let file = openFiles.file(handle), let writer = file.writer else { return }
        try writer.lock.withLock { () throws(Errno) in try writer.commit() }
    }

    public func fsync(_ path: String, handle: UInt64, dataOnly: Bool) throws(Errno) {
        try flush(path, handle: handle)
    }

    public func release(_ path: String, handle: UInt64) {
        guard let file = openFiles.remove(handle) else { return }
        file.close()
        if let writer = file.writer { releaseWriter(writer) }
        if let hidden = file.hiddenCopy, hidden.release() {
            // The last handle of a file unlinked while open: its hidden copy goes now.
            let changes = self.changes
            let target = file.serverPathSnapshot
            WorkerThreads.shared.run { changes.remove(target, what: "a file unlinked while open") }
        }
    }

    /// Drops one handle's hold on a writer; the last one commits what is still pending (an
    /// error can no longer reach the program here, so it is logged) and cleans up.
    func releaseWriter(_ writer: FileWriter) {
        guard writers.detach(writer) else { return }
        let (path, onServer, unlinked) = writer.lock.withLock { () -> (String, Bool, Bool) in
            let unlinked = writer.isUnlinked
            writer.release()
            return (writer.path, writer.serverHasFile, unlinked)
        }
        if !onServer && !unlinked && writers.writer(for: path) == nil {
            // Created here and never uploaded (the upload failed): it does not exist.
            listings.updateEntry(at: path) { $0 = nil }
        }
        pageCacheValidity.forget(path)
    }

    public func truncate(_ path: String, size: Int64, handle: UInt64?) throws(Errno) {
        try requireWritable()
        guard size >= 0 else { throw .invalidArgument }
        if let handle, let writer = openFiles.file(handle)?.writer {
            writer.lockInterruptingStalledStream()
            defer { writer.lock.unlock() }
            try writer.truncate(to: UInt64(size))
            return
        }
        // truncate(2) by path: a writer for the duration, committed before returning.
        let attributes = try attributes(of: path)
        if attributes.kind == .directory { throw .isDirectory }
        let context = writerContext!
        let writer = writers.attach(path) {
            FileWriter(path: path, serverPath: serverPath(path), context: context, existing: attributes)
        }
        defer { releaseWriter(writer) }
        writer.lockInterruptingStalledStream()
        defer { writer.lock.unlock() }
        try writer.truncate(to: UInt64(size))
        try writer.commit()
    }

    /// After a commit (called with the writer's lock held): the listing shows the new size,
    /// mtime and mode at once.
    func recordCommitted(_ writer: FileWriter) {
        let entry = ListingEntry(name: FTPPath.lastComponent(writer.path), kind: .file, size: writer.size,
                                 modified: FTPTimestamp(writer.modified), mode: writer.permissions)
        listings.updateEntry(at: writer.path) { $0 = entry }
        exactTimes.record(writer.path, size: writer.size, time: FTPTimestamp(writer.modified))
        directoryContentChanged(around: writer.path)
    }

    /// Called by the pool when every connection is taken: finishes an upload stream whose
    /// writer is not writing right now (it continues with APPE at its next write).
    func suspendIdleUpload() -> Bool {
        for writer in writers.all() {
            guard writer.lock.tryLock() else { continue }
            defer { writer.lock.unlock() }
            if case .streaming = writer.state {
                logger.debug("suspending the idle upload of \(writer.path) for another operation")
                do {
                    try writer.suspend()
                } catch {
                    logger.error("upload of \(writer.path) failed while suspending: \(error)")
                }
                return true
            }
        }
        return false
    }
}

extension FTPTimestamp {
    init(_ time: Timestamp) {
        self.init(seconds: time.seconds, nanoseconds: time.nanoseconds)
    }
}

extension Timestamp {
    init(_ time: FTPTimestamp) {
        self.init(seconds: time.seconds, nanoseconds: time.nanoseconds)
    }
}
