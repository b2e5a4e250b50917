import FTPClient
import FTPProtocol
import FuseBridge

#if canImport(Glibc)
import Glibc
#endif

/// Times, modes, owners and server-side copies.
extension FTPFileSystem {
    public func utimens(_ path: String, accessed: Timestamp?, modified: Timestamp?, handle: UInt64?) throws(Errno) {
        try requireWritable()
        // FTP keeps no access time; only the modification time can be set.
        guard let modified else { return }
        if let writer = writer(for: path, handle: handle) {
            // An upload still to come would overwrite the time: set it after that upload.
            let deferred = writer.lock.withLock { writer.deferModificationTime(modified) }
            if deferred { return }
        }
        let target = serverPath(path)
        do {
            try store.setModificationTime(FTPTimestamp(modified), of: target)
        } catch {
            // Servers refuse times they cannot set in many words: "not implemented", a syntax
            // error, or a bare 550 that reads as "not found" for a file that is there.
            let existing = try? entry(at: path)
            let unsupported = [.notSupported, .badArgument].contains(error.meaning)
                || (existing != nil && [.notFound, .refused].contains(error.meaning))
            if unsupported, existing?.kind == .directory {
                // Servers that set file times often refuse directories; rsync -a and cp -a set
                // them anyway. The time is kept here until the directory changes.
                logger.debug("utimens \(path): the server cannot set directory times; keeping it locally")
                exactTimes.recordDirectory(path, time: FTPTimestamp(modified))
                listings.updateEntry(at: path) { $0?.modified = FTPTimestamp(modified) }
                return
            }
            // A server that cannot set times stamps uploads with its own clock: "now" is what
            // it has already (touch of an existing file, or the upload just made).
            let now = Timestamp.now()
            if unsupported, abs(now.seconds - modified.seconds) <= 2 {
                logger.debug("utimens \(path): the server cannot set times; it keeps its own (now)")
                return
            }
            if unsupported {
                logger.notice("utimens \(path): the server offers no MFMT, MDTM or SITE UTIME that works (\(error))")
                throw .notPermitted
            }
            throw mapped(error, .setAttributes)
        }
        if let writer = writer(for: path, handle: handle) {
            writer.lock.withLock { writer.modificationTimeSet(modified) }
        }
        let updated = try? entry(at: path)
        listings.updateEntry(at: path) { $0?.modified = FTPTimestamp(modified) }
        if let size = updated?.size, updated?.kind == .file {
            exactTimes.record(path, size: size, time: FTPTimestamp(modified))
        }
    }

    public func chmod(_ path: String, mode: UInt32, handle: UInt64?) throws(Errno) {
        try requireWritable()
        if let writer = writer(for: path, handle: handle) {
            let deferred = writer.lock.withLock { writer.deferMode(mode) }
            if deferred { return }
        }
        do {
            try store.changeMode(mode, of: serverPath(path))
        } catch {
            if error.meaning == .notSupported {
                logger.notice("chmod \(path): the server offers no SITE CHMOD")
                throw .notPermitted
            }
            throw mapped(error, .setAttributes)
        }
        listings.updateEntry(at: path) { $0?.mode = mode }
    }

    /// FTP cannot change owners. Setting the owner and group ftpfs already shows succeeds (cp -p
    /// and rsync -a ask for that); anything else is refused.
    public func chown(_ path: String, uid: UInt32?, gid: UInt32?, handle: UInt64?) throws(Errno) {
        try requireWritable()
        let shown = try getattr(path, handle: handle)
        if let uid, uid != shown.uid { throw .notPermitted }
        if let gid, gid != shown.gid { throw .notPermitted }
    }

    /// A whole-file copy between two files of this server, done by the server (SITE CPFR/CPTO)
    /// when it offers that; otherwise EOPNOTSUPP, and the kernel or cp copies through us.
    public func copyFileRange(from source: String, handle sourceHandle: UInt64, offset sourceOffset: Int64,
                              to destination: String, handle destinationHandle: UInt64,
                              offset destinationOffset: Int64, length: Int) throws(Errno) -> Int
    {
        try requireWritable()
        guard store.abilities.mayCopyOnServer, sourceOffset == 0, destinationOffset == 0,
              let sourceFile = openFiles.file(sourceHandle), let writer = openFiles.file(destinationHandle)?.writer,
              writers.writer(for: sourceFile.path)?.hasPendingChangesLocked != true
        else { throw .notSupported }
        let sourceSize = try attributes(of: sourceFile.path).size
        guard UInt64(length) >= sourceSize else { throw .notSupported }
        return try writer.lock.withLock { () throws(Errno) -> Int in
            // Only into a file that is empty and has nothing pending but becoming empty.
            guard writer.size == 0, writer.isEmptyOrClean else { throw .notSupported }
            let from = sourceFile.serverPath
            let to = writer.serverPath
            do {
                try store.serverCopy(from: from, to: to)
            } catch {
                logger.debug("server-side copy \(from) → \(to) not possible (\(error)); copying through ftpfs")
                throw .notSupported
            }
            writer.copiedOnServer(size: sourceSize)
            recordCommitted(writer)
            return Int(sourceSize)
        }
    }

    /// The writer of an open handle, or of the path when another handle writes it.
    func writer(for path: String, handle: UInt64?) -> FileWriter? {
        if let handle, let writer = openFiles.file(handle)?.writer { return writer }
        return writers.writer(for: path)
    }
}

extension FileWriter {
    /// `hasPendingChanges`, taking the lock.
    var hasPendingChangesLocked: Bool { lock.withLock { hasPendingChanges } }
}
