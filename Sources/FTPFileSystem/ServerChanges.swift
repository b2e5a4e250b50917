import FTPClient
import FTPProtocol
import Logging
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// Changes to the server that must never lose what was there: moving a file over another
/// (uploads into place, rename(2)), and changes that cannot be repeated blindly after a
/// dropped connection. Used by the writer and by the namespace operations; it keeps no state
/// of its own beyond what the journal records.
struct ServerChanges: Sendable {
    let store: any RemoteStore
    let names: TemporaryNames
    let journal: TemporaryJournal?
    let logger: Logger

    /// Runs a change that must not be blindly repeated (DELE, MKD, RMD, RNFR/RNTO). When the
    /// connection drops before the reply, the server may or may not have done it: `hasHappened`
    /// looks, and the change is repeated only when it has not, until the deadline.
    func perform(_ what: String, _ change: () throws(FTPError) -> Void,
                 hasHappened: () throws(FTPError) -> Bool) throws(FTPError)
    {
        let deadline = store.deadline()
        while true {
            do {
                try change()
                return
            } catch where error.isConnectionLost && MonotonicClock.now < deadline {
                logger.info("connection lost during \(what) (\(error)); checking whether the server did it")
                if try hasHappened() { return }
            }
        }
    }

    /// The entry at a server path, from a fresh listing of its parent (nil: missing).
    func entry(at path: String) throws(FTPError) -> ListingEntry? {
        let name = FTPPath.lastComponent(path)
        do {
            return try store.list(FTPPath.parent(path))[name]
        } catch {
            if error.meaning == .notFound { return nil }
            throw error
        }
    }

    /// Moves `source` to `destination`, replacing a file there, so that a failure at any step
    /// leaves the destination's old content where it was.
    ///
    /// Most servers replace the destination in the rename itself. Those that refuse to rename
    /// over a file (IIS, FileZilla Server) get the old file set aside under a temporary name
    /// first, the source moved in, and the old one deleted; when moving the source in fails,
    /// the old file is moved back. The journal records the set-aside file, so that a crash
    /// between the steps is repaired by the next mount. Throws the rename's error when the
    /// source could not be moved: the caller decides what becomes of the source.
    func move(_ source: String, over destination: String, expectedSize: UInt64?) throws(FTPError) {
        do throws(FTPError) {
            try perform("rename \(source) → \(destination)", { () throws(FTPError) in
                try store.rename(source, to: destination)
            }, hasHappened: { () throws(FTPError) in
                guard try self.entry(at: source) == nil else { return false }
                return try isPlaced(destination, size: expectedSize)
            })
            return
        } catch {
            guard [.alreadyExists, .permissionDenied, .refused, .busy, .badArgument].contains(error.meaning),
                  (try? self.entry(at: destination)) ?? nil != nil
            else { throw error }
            logger.info("server refused to rename over \(destination) (\(error)); setting the old file aside first")
            try moveAside(source, over: destination, expectedSize: expectedSize, refusal: error)
        }
    }

    private func isPlaced(_ path: String, size: UInt64?) throws(FTPError) -> Bool {
        guard let entry = try entry(at: path) else { return false }
        return size == nil || entry.size == nil || entry.size == size
    }

    private func moveAside(_ source: String, over destination: String, expectedSize: UInt64?,
                           refusal: FTPError) throws(FTPError)
    {
        let backup = names.make(.backup, beside: destination)
        journal?.recordBackup(backup, of: destination)
        do throws(FTPError) {
            try perform("set \(destination) aside", { () throws(FTPError) in
                try store.rename(destination, to: backup)
            }, hasHappened: { () throws(FTPError) in
                guard try self.entry(at: destination) == nil else { return false }
                return try self.entry(at: backup) != nil
            })
        } catch {
            journal?.recordGone(backup)
            logger.warning("could not set \(destination) aside to replace it: \(error)")
            throw refusal
        }
        do throws(FTPError) {
            try perform("rename \(source) → \(destination)", { () throws(FTPError) in
                try store.rename(source, to: destination)
            }, hasHappened: { () throws(FTPError) in
                guard try self.entry(at: source) == nil else { return false }
                return try isPlaced(destination, size: expectedSize)
            })
        } catch {
            // Put the old file back where it was; only then report the failure.
            do throws(FTPError) {
                try perform("restore \(destination)", { () throws(FTPError) in
                    try store.rename(backup, to: destination)
                }, hasHappened: { () throws(FTPError) in
                    guard try self.entry(at: backup) == nil else { return false }
                    return try self.entry(at: destination) != nil
                })
                journal?.recordGone(backup)
            } catch let restoreError {
                logger.error("could not move \(destination) back from \(backup) after a failed replace: \(restoreError); the next mount restores it")
            }
            throw error
        }
        remove(backup, what: "the replaced file set aside")
    }

    /// Deletes a temporary of ours (a failed upload, a set-aside file, an unlinked file at its
    /// last close). Best effort: what cannot be deleted now stays in the journal, and the next
    /// mount (or a listing of its directory) removes it.
    func remove(_ temporary: String, what: String) {
        do throws(FTPError) {
            try perform("delete \(temporary)", { () throws(FTPError) in try store.delete(temporary) },
                        hasHappened: { () throws(FTPError) in try self.entry(at: temporary) == nil })
            journal?.recordGone(temporary)
        } catch where error.meaning == .notFound {
            journal?.recordGone(temporary)
        } catch {
            logger.warning("could not remove \(what) \(temporary): \(error)")
        }
    }

    /// Removes what dead ftpfs processes of this login on this machine left on the server, as
    /// their journals say: uploads in flight are deleted, files set aside during a replace are
    /// put back when their name is empty (the crash came between the two renames) and deleted
    /// otherwise. Logged, one line each.
    func recoverAbandonedTemporaries() {
        guard let journal else { return }
        for (file, leftovers) in journal.abandonedJournals() {
            var complete = true
            /// One step; a temporary already gone is fine, any other failure keeps the journal.
            func attempt(_ what: String, _ step: () throws(FTPError) -> String) {
                do throws(FTPError) {
                    let done = try step()
                    logger.notice("\(done)")
                } catch where error.meaning == .notFound {
                    return
                } catch {
                    complete = false
                    logger.warning("could not deal with \(what), left by an ftpfs that ended abruptly: \(error)")
                }
            }
            for temporary in leftovers.temporaries {
                attempt(temporary) { () throws(FTPError) in
                    try store.delete(temporary)
                    return "removed \(temporary), left on the server by an ftpfs that ended abruptly"
                }
            }
            for (backup, original) in leftovers.backups {
                attempt("\(backup) (set aside for \(original))") { () throws(FTPError) in
                    if try entry(at: original) == nil, try entry(at: backup) != nil {
                        try store.rename(backup, to: original)
                        return "restored \(original) from \(backup): an ftpfs ended abruptly while replacing it"
                    }
                    try store.delete(backup)
                    return "removed \(backup), set aside by an ftpfs that ended abruptly"
                }
            }
            if complete { journal.remove(file) }
        }
    }

    /// Copies a file on the server by reading it and writing it back: for servers or
    /// directories where an upload cannot be renamed into place. The destination is written in
    /// place; a failure removes what it wrote (the destination did not exist before).
    func copyThrough(from source: String, to destination: String, size: UInt64) throws(FTPError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        let deadline = store.deadline()
        let download = try store.download(source, from: 0, deadline: deadline)
        defer { download.abort() }
        let upload = try store.upload(destination, appending: false, deadline: deadline)
        var copied: UInt64 = 0
        do throws(FTPError) {
            while true {
                let count = try download.read(into: buffer)
                if count == 0 { break }
                try upload.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                copied += UInt64(count)
            }
            try upload.finish()
            guard copied == size else {
                throw .protocolViolation("copied \(copied) bytes of \(source), expected \(size)")
            }
        } catch {
            upload.abort()
            remove(destination, what: "a partial copy")
            throw error
        }
    }
}
