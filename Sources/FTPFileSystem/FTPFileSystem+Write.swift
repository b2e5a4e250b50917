import FTPClient
import FTPProtocol
import FuseBridge

#if canImport(Glibc)
import Glibc
#endif

/// Opening, writing, flushing and truncating files. The mechanics of getting bytes to the
/// server are in FTPFileSystem+Upload.swift; see `FileWriter` for the states a file goes through.
extension FTPFileSystem {
    func requireWritable() throws(Errno) {
        if configuration.readOnly { throw .readOnlyFileSystem }
    }

    public func create(_ path: String, mode: UInt32, flags: Int32) throws(Errno) -> OpenedFile {
        try requireWritable()
        let now = Timestamp.now()
        let permissions = mode & 0o7777
        let writer = writers.attach(path) {
            FileWriter(path: path, serverPath: serverPath(path), size: 0, modified: now, permissions: permissions,
                       existsOnServer: false, needsUpload: true)
        }
        writer.lock.withLock {
            writer.publish()
            // Visible at once to this machine (ls, stat); the server gets it at the first flush.
            listings.updateEntry(at: path) {
                $0 = ListingEntry(name: FTPPath.lastComponent(path), kind: .file, size: 0,
                                  modified: FTPTimestamp(now), mode: permissions)
            }
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

    public func open(_ path: String, flags: Int32) throws(Errno) -> OpenedFile {
        let accessMode = flags & O_ACCMODE
        let writes = accessMode != O_RDONLY || flags & O_TRUNC != 0
        if writes { try requireWritable() }
        let attributes = try attributes(of: path)
        switch attributes.kind {
        case .regular: break
        case .directory: throw .isDirectory
        default: throw .notSupported
        }
        var writer: FileWriter?
        if writes {
            let opened = writers.attach(path) {
                let writer = FileWriter(path: path, serverPath: serverPath(path), size: attributes.size,
                                        modified: attributes.modified, permissions: attributes.permissions,
                                        existsOnServer: true, needsUpload: false)
                writer.originalPermissions = attributes.permissions
                return writer
            }
            if flags & O_TRUNC != 0 {
                do {
                    try opened.lock.withLock { () throws(Errno) in try truncateLocked(opened, to: 0) }
                } catch {
                    releaseWriter(opened)
                    throw error
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
        writer.lock.lock()
        defer { writer.lock.unlock() }
        if writer.isDeleted { return bytes.count }  // an unlinked file's data goes nowhere
        if let failure = writer.failure { throw failure }
        let start = UInt64(offset)
        try write(bytes, at: start, through: writer)
        writer.size = max(writer.size, start + UInt64(bytes.count))
        writer.modified = .now()
        writer.publish()
        activity.recordWrite(bytes.count)
        return bytes.count
    }

    /// Routes one write: into the open stream when it continues it, into a new STOR or APPE when
    /// it starts the file or continues its end, and into the staged copy otherwise.
    private func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, through writer: FileWriter) throws(Errno) {
        switch writer.state {
        case .streaming(let stream) where stream.position == offset:
            try send(bytes, on: stream, of: writer)
            return
        case .suspended(let suspended) where suspended.position == offset:
            try resume(writer, suspended)
            if case .streaming(let stream) = writer.state {
                try send(bytes, on: stream, of: writer)
                return
            }
        case .idle where offset == 0 && writer.size == 0 && (writer.needsUpload || !writer.existsOnServer):
            try startUpload(writer, appending: false)
            if case .streaming(let stream) = writer.state {
                try send(bytes, on: stream, of: writer)
                return
            }
        case .idle where offset == writer.size && writer.existsOnServer && !writer.needsUpload:
            do {
                try startUpload(writer, appending: true)
            } catch where error == .notImplemented {
                break  // no APPE: stage below
            }
            if case .streaming(let stream) = writer.state {
                try send(bytes, on: stream, of: writer)
                return
            }
        default:
            break
        }
        let staged = try stage(writer)
        try staged.write(bytes, at: offset)
    }

    public func flush(_ path: String, handle: UInt64) throws(Errno) {
        guard let file = openFiles.file(handle), let writer = file.writer else { return }
        try writer.lock.withLock { () throws(Errno) in try commit(writer) }
    }

    public func fsync(_ path: String, handle: UInt64, dataOnly: Bool) throws(Errno) {
        try flush(path, handle: handle)
    }

    public func release(_ path: String, handle: UInt64) {
        guard let file = openFiles.remove(handle) else { return }
        file.close(pool: pool)
        if let writer = file.writer { releaseWriter(writer) }
    }

    /// Drops one handle's hold on a writer; the last one commits what is still pending (an
    /// error can no longer reach the program here, so it is logged) and cleans up.
    func releaseWriter(_ writer: FileWriter) {
        guard writers.detach(writer) else { return }
        writer.lock.withLock {
            if writer.hasPendingChanges && writer.failure == nil {
                do {
                    try commit(writer)
                } catch {
                    logger.error("\(writer.path): changes not saved to the server: \(error)")
                }
            }
            discardPending(writer)
            writer.state = .idle
            if !writer.existsOnServer && !writer.isDeleted {
                // Created here and never uploaded (the upload failed): it does not exist.
                listings.updateEntry(at: writer.path) { $0 = nil }
            }
        }
        pageCacheValidity.forget(writer.path)
    }

    public func truncate(_ path: String, size: Int64, handle: UInt64?) throws(Errno) {
        try requireWritable()
        guard size >= 0 else { throw .invalidArgument }
        if let handle, let writer = openFiles.file(handle)?.writer {
            try writer.lock.withLock { () throws(Errno) in try truncateLocked(writer, to: UInt64(size)) }
            return
        }
        // truncate(2) by path: a writer for the duration, committed before returning.
        let attributes = try attributes(of: path)
        if attributes.kind == .directory { throw .isDirectory }
        let writer = writers.attach(path) {
            let writer = FileWriter(path: path, serverPath: serverPath(path), size: attributes.size,
                                    modified: attributes.modified, permissions: attributes.permissions,
                                    existsOnServer: true, needsUpload: false)
            writer.originalPermissions = attributes.permissions
            return writer
        }
        defer { releaseWriter(writer) }
        try writer.lock.withLock { () throws(Errno) in
            try truncateLocked(writer, to: UInt64(size))
            try commit(writer)
        }
    }

    /// Truncation to 0 drops everything pending (the upload becomes an empty file); any other
    /// size needs the content, so the file is staged and cut or extended locally.
    func truncateLocked(_ writer: FileWriter, to size: UInt64) throws(Errno) {
        if size == writer.size && !(size == 0 && writer.hasPendingChanges) { return }
        if size == 0 {
            discardPending(writer)
            writer.state = .idle
            writer.needsUpload = true
            writer.failure = nil
        } else {
            let staged = try stage(writer)
            try staged.truncate(to: size)
        }
        writer.size = size
        writer.modified = .now()
        writer.publish()
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
                    try suspend(writer)
                } catch {
                    logger.error("upload of \(writer.path) failed while suspending: \(error)")
                }
                return true
            }
        }
        return false
    }
}
