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
    public func unlink(_ path: String) throws(Errno) {
        try requireWritable()
        var serverHasFile = true
        if let writer = writers.writer(for: path) {
            // Handles that write it go on with a local copy; the name goes at once.
            writer.lockInterruptingStalledStream()
            serverHasFile = writer.unlink()
            writer.lock.unlock()
            writers.disown(path, from: writer)
            for reader in openFiles.readers(of: path) {
                reader.lock.withLock { reader.linkedWriter = writer }
            }
        }
        if serverHasFile {
            let target = serverPath(path)
            if hideForOpenReaders(path) == nil {
                do {
                    try changes.perform("delete \(target)", { () throws(FTPError) in try store.delete(target) },
                                       hasHappened: { () throws(FTPError) in try changes.entry(at: target) == nil })
                } catch {
                    throw mapped(error, .delete)
                }
            }
        }
        forgetEntry(path)
    }

    /// When handles only read `path`, its file is renamed to a hidden temporary instead of
    /// being deleted (as NFS does): they read on from there, and the last to close deletes it.
    /// Returns the hidden copy's server path when it did that (nil: nobody reads it, or the
    /// server would not rename).
    @discardableResult
    func hideForOpenReaders(_ path: String) -> String? {
        let readers = openFiles.readers(of: path)
        guard !readers.isEmpty, store.abilities.mayRename else { return nil }
        let target = serverPath(path)
        let hidden = names.make(.unlinked, beside: target)
        journal?.recordTemporary(hidden)
        do throws(FTPError) {
            try changes.perform("hide \(target)", { () throws(FTPError) in try store.rename(target, to: hidden) },
                                hasHappened: { () throws(FTPError) in
                                    guard try changes.entry(at: hidden) != nil else { return false }
                                    return try changes.entry(at: target) == nil
                                })
        } catch {
            journal?.recordGone(hidden)
            logger.info("could not keep \(path) for the handles still reading it (\(error))")
            return nil
        }
        let copy = HiddenCopy(handles: readers.count)
        let hiddenPath = FTPPath.join(FTPPath.parent(path), FTPPath.lastComponent(hidden))
        for reader in readers {
            reader.lock.withLock {
                reader.hiddenCopy = copy
                reader.move(to: hiddenPath, serverPath: hidden)
            }
        }
        logger.debug("\(path) unlinked while \(readers.count) handle(s) read it: kept as \(hidden) until they close")
        return hidden
    }

    /// Puts a file hidden for its readers back under `path` (a rename over it failed).
    private func unhide(_ hidden: String, to path: String) {
        let target = serverPath(path)
        do throws(FTPError) {
            try store.rename(hidden, to: target)
            journal?.recordGone(hidden)
        } catch {
            logger.error("could not move \(target) back from \(hidden): \(error); the next mount restores it")
            return
        }
        let hiddenPath = FTPPath.join(FTPPath.parent(path), FTPPath.lastComponent(hidden))
        for reader in openFiles.readers(of: hiddenPath) {
            reader.lock.withLock {
                reader.hiddenCopy = nil
                reader.move(to: path, serverPath: target)
            }
        }
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
            try changes.perform("mkdir \(target)", { () throws(FTPError) in try store.makeDirectory(target) },
                                hasHappened: { () throws(FTPError) in try changes.entry(at: target)?.kind == .directory })
        } catch {
            // vsftpd says "550 Create directory operation failed." whether the name exists or
            // permission is missing: look before choosing EEXIST.
            if [.refused, .alreadyExists, .permissionDenied].contains(error.meaning) {
                listings.invalidate(path)
                if (try? entry(at: path)) != nil { throw .exists }
                throw Self.errno(for: error.meaning == .refused ? .permissionDenied : error.meaning, during: .makeDirectory)
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
            try changes.perform("rmdir \(target)", { () throws(FTPError) in try store.removeDirectory(target) },
                                hasHappened: { () throws(FTPError) in try changes.entry(at: target) == nil })
        } catch {
            // "550 Remove directory operation failed." (vsftpd) may mean not empty, missing or
            // not permitted: look.
            if [.refused, .notFound, .permissionDenied, .notEmpty].contains(error.meaning) {
                listings.invalidateTree(path)
                listings.invalidate(path)
                guard let entry = try? entry(at: path) else { throw .noSuchFile }
                guard entry.kind == .directory else { throw .notDirectory }
                if let listing = try? directoryListing(of: path), !listing.isEmpty {
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
            try writer.lock.withLock { () throws(Errno) in try writer.commit() }
        }
        let sourceEntry = try entry(at: source)
        let destinationEntry = try? entry(at: destination)
        var removedDirectory = false
        if let destinationEntry {
            if flags & noReplace != 0 { throw .exists }
            if destinationEntry.kind == .directory && sourceEntry.kind != .directory { throw .isDirectory }
            if destinationEntry.kind != .directory && sourceEntry.kind == .directory { throw .notDirectory }
            if destinationEntry.kind == .directory {
                // rename(2) may replace an empty directory.
                guard try directoryListing(of: destination).isEmpty else { throw .directoryNotEmpty }
                try rmdir(destination)
                removedDirectory = true
            }
        }
        let from = serverPath(source)
        let to = serverPath(destination)
        let replacesFile = destinationEntry != nil && destinationEntry?.kind != .directory
        // Handles reading the file being replaced keep reading it: it is set aside for them.
        let hiddenDestination = replacesFile ? hideForOpenReaders(destination) : nil
        do {
            try changes.move(from, over: to, expectedSize: sourceEntry.kind == .file ? sourceEntry.size : nil)
        } catch {
            // Put back what rename(2) would not have touched.
            if removedDirectory { try? store.makeDirectory(to) }
            if let hiddenDestination { unhide(hiddenDestination, to: destination) }
            throw mapped(error, .rename)
        }
        if let writer = writers.writer(for: destination) {
            // The file being replaced: its handles go on with a local copy.
            writer.lockInterruptingStalledStream()
            writer.replacedByRename()
            writer.lock.unlock()
            writers.disown(destination, from: writer)
            for reader in openFiles.readers(of: destination) {
                reader.lock.withLock { reader.linkedWriter = writer }
            }
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
            try store.symlink(target: target, at: location)
        } catch {
            if error.meaning == .notSupported {
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
