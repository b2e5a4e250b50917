import FTPClient
import FTPProtocol
import FuseBridge
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// Names: unlink, mkdir, rmdir, rename and symlink. Each updates the listing cache in place, so
/// the next `ls` here shows the change without listing the directory again.
extension FTPFileSystem {
    /// Runs a change that must not be blindly repeated (DELE, MKD, RMD, RNFR/RNTO). When the
    /// connection drops before the reply, the server may or may not have done it: `hasHappened`
    /// looks, on a new connection, and the change is repeated only when it has not.
    func performChange(_ operation: FileOperation, _ change: (FTPSession) throws(FTPError) -> Void,
                       hasHappened: (FTPSession) throws(FTPError) -> Bool) throws(FTPError)
    {
        let deadline = pool.deadline()
        while true {
            do {
                try pool.withSession(idempotent: false, deadline: deadline, change)
                return
            } catch where error.isConnectionLost && MonotonicClock.now < deadline {
                logger.info("connection lost during \(operation) (\(error)); checking whether the server did it")
                if try pool.withSession(deadline: deadline, hasHappened) { return }
            }
        }
    }

    /// The entry at a server path, looked up in a fresh listing of its parent (nil: missing).
    static func serverEntry(at path: String, on session: FTPSession) throws(FTPError) -> ListingEntry? {
        let name = FTPPath.lastComponent(path)
        do {
            return try session.list(directory: FTPPath.parent(path)).entries.first { $0.name == name }
        } catch {
            if error.replyCode == .fileUnavailable { return nil }
            throw error
        }
    }

    public func unlink(_ path: String) throws(Errno) {
        try requireWritable()
        if let writer = writers.writer(for: path) {
            let onlyLocal = writer.lock.withLock { () -> Bool in
                discardPending(writer)
                writer.isDeleted = true
                writer.needsUpload = false
                return !writer.existsOnServer
            }
            writers.disown(path, from: writer)
            if onlyLocal {
                forgetEntry(path)
                return
            }
        }
        let target = serverPath(path)
        do {
            try performChange(.delete, { (session) throws(FTPError) in try session.delete(target) },
                              hasHappened: { (session) throws(FTPError) in try Self.serverEntry(at: target, on: session) == nil })
        } catch {
            throw mapped(error, .delete)
        }
        forgetEntry(path)
    }

    private func forgetEntry(_ path: String) {
        listings.updateEntry(at: path) { $0 = nil }
        directoryContentChanged(around: path)
        exactTimes.forget(path)
        pageCacheValidity.forget(path)
    }

    public func mkdir(_ path: String, mode: UInt32) throws(Errno) {
        try requireWritable()
        let target = serverPath(path)
        do {
            try performChange(.makeDirectory, { (session) throws(FTPError) in try session.makeDirectory(target) },
                              hasHappened: { (session) throws(FTPError) in
                                  try Self.serverEntry(at: target, on: session)?.kind == .directory
                              })
        } catch {
            // vsftpd says "550 Create directory operation failed." whether the name exists or
            // permission is missing: look before choosing EEXIST.
            if error.replyCode?.isPermanentNegative == true {
                listings.invalidate(path)
                if (try? entry(at: path)) != nil { throw .exists }
                throw Self.errno(forReply: Reply(code: error.replyCode!, lines: []), during: .create)
            }
            throw mapped(error, .makeDirectory)
        }
        let now = FTPTimestamp.now()
        listings.updateEntry(at: path) {
            $0 = ListingEntry(name: FTPPath.lastComponent(path), kind: .directory, modified: now, mode: mode & 0o7777)
        }
        listings.storeEmptyListing(of: path)
        directoryContentChanged(around: path)
    }

    public func rmdir(_ path: String) throws(Errno) {
        try requireWritable()
        let target = serverPath(path)
        do {
            try performChange(.removeDirectory, { (session) throws(FTPError) in try session.removeDirectory(target) },
                              hasHappened: { (session) throws(FTPError) in try Self.serverEntry(at: target, on: session) == nil })
        } catch {
            // "550 Remove directory operation failed." (vsftpd) may mean not empty, missing or
            // not permitted: look.
            if error.replyCode?.isPermanentNegative == true {
                listings.invalidateTree(path)
                listings.invalidate(path)
                guard let entry = try? entry(at: path) else { throw .noSuchFile }
                guard entry.kind == .directory else { throw .notDirectory }
                if let listing = try? directoryListing(of: path), !listing.ordered.isEmpty {
                    throw .directoryNotEmpty
                }
            }
            throw mapped(error, .removeDirectory)
        }
        listings.updateEntry(at: path) { $0 = nil }
        listings.invalidateTree(path)
        directoryContentChanged(around: path)
    }

    public func rename(_ source: String, to destination: String, flags: UInt32) throws(Errno) {
        try requireWritable()
        let noReplace: UInt32 = 1  // RENAME_NOREPLACE
        let exchange: UInt32 = 2  // RENAME_EXCHANGE
        if flags & exchange != 0 { throw .invalidArgument }
        if source == destination { return }
        if destination.hasPrefix(source + "/") { throw .invalidArgument }

        // The server can only rename what it has: finish pending uploads of the source first.
        if let writer = writers.writer(for: source) {
            try writer.lock.withLock { () throws(Errno) in try commit(writer) }
        }
        let sourceEntry = try entry(at: source)
        let destinationEntry = try? entry(at: destination)
        if let destinationEntry {
            if flags & noReplace != 0 { throw .exists }
            if destinationEntry.kind == .directory && sourceEntry.kind != .directory { throw .isDirectory }
            if destinationEntry.kind != .directory && sourceEntry.kind == .directory { throw .notDirectory }
            if destinationEntry.kind == .directory {
                // rename(2) may replace an empty directory.
                guard try directoryListing(of: destination).ordered.isEmpty else { throw .directoryNotEmpty }
                try rmdir(destination)
            }
        }
        if let writer = writers.writer(for: destination) {
            // Whatever was pending for the name being replaced is overwritten by the rename.
            writer.lock.withLock {
                discardPending(writer)
                writer.isDeleted = true
            }
            writers.disown(destination, from: writer)
        }

        let from = serverPath(source)
        let to = serverPath(destination)
        let replacesFile = destinationEntry != nil && destinationEntry?.kind != .directory
        do {
            try performChange(.rename, { (session) throws(FTPError) in
                if replacesFile {
                    try replace(to, with: from, on: session)
                } else {
                    try session.rename(from, to: to)
                }
            }, hasHappened: { (session) throws(FTPError) in
                let sourceGone = try Self.serverEntry(at: from, on: session) == nil
                let destinationThere = try Self.serverEntry(at: to, on: session) != nil
                return sourceGone && destinationThere
            })
        } catch {
            throw mapped(error, .rename)
        }

        listings.updateEntry(at: source) { $0 = nil }
        listings.updateEntry(at: destination) { $0 = sourceEntry }
        if sourceEntry.kind == .directory {
            listings.invalidateTree(source)
            listings.invalidateTree(destination)
        }
        exactTimes.forget(destination)
        exactTimes.move(source, to: destination)
        directoryContentChanged(around: source)
        directoryContentChanged(around: destination)
        pageCacheValidity.forget(source)
        pageCacheValidity.forget(destination)
        writers.rename(source, to: destination, serverPath: serverPath)
        openFiles.rename(source, to: destination, serverPath: serverPath)
    }

    public func symlink(target: String, at path: String) throws(Errno) {
        try requireWritable()
        let location = serverPath(path)
        do {
            try pool.withSession(idempotent: false) { (session) throws(FTPError) in
                try session.symlink(target: target, at: location)
            }
        } catch {
            if FTPSession.isNotImplemented(error) {
                logger.notice("symlink \(path): the server offers no SITE SYMLINK")
                throw .notPermitted
            }
            throw mapped(error, .create)
        }
        listings.updateEntry(at: path) {
            $0 = ListingEntry(name: FTPPath.lastComponent(path), kind: .symlink, modified: .now(), linkTarget: target)
        }
        directoryContentChanged(around: path)
    }
}
