import FTPClient
import FTPProtocol
import FuseBridge
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// How an upload gets from a `FileWriter` to the server. Every function here is called with
/// the writer's lock held.
extension FTPFileSystem {
    /// The prefix of temporary upload names: hidden, and recognisable so listings can hide
    /// uploads in flight.
    static let temporaryPrefix = ".ftpfs-upload-"

    func temporaryName(beside serverPath: String) -> String {
        let random = (0..<2).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 16) }.joined()
        return FTPPath.join(FTPPath.parent(serverPath), Self.temporaryPrefix + random)
    }

    // MARK: - Streaming

    /// Opens STOR (from offset 0) or APPE (at the end of the server's file) for `writer`.
    func startUpload(_ writer: FileWriter, appending: Bool) throws(Errno) {
        let session: FTPSession
        do {
            session = try pool.checkout(deadline: pool.deadline())
        } catch {
            throw mapped(error, .write)
        }
        let isTemporary = !appending && writer.existsOnServer && configuration.atomicUpload
        let target = isTemporary ? temporaryName(beside: writer.serverPath) : writer.serverPath
        do {
            let transfer = appending ? try session.append(target) : try session.store(target)
            let digest = appending ? nil : wantedDigest(session)
            writer.state = .streaming(UploadStream(transfer: transfer, target: target, isTemporary: isTemporary,
                                                   position: appending ? writer.size : 0, digest: digest,
                                                   spoolDirectory: stagingDirectory))
            if !appending && !isTemporary { writer.existsOnServer = true }
        } catch {
            pool.checkin(session)
            throw mapped(error, .write)
        }
    }

    /// Gives bytes to the writer's stream: they are copied into its pipeline, which sends them
    /// while the program goes on writing (waiting only while the pipeline is full). A send that
    /// failed, now or since the last write, is dealt with here: a dropped connection is resumed
    /// (see `resumeAfterLoss`); any other failure loses what was streamed: the writer keeps the
    /// error for every later flush, and the partial upload is removed.
    func send(_ bytes: UnsafeRawBufferPointer, on stream: UploadStream, of writer: FileWriter) throws(Errno) {
        var done = 0
        while true {
            let accepted = stream.pipeline.accept(UnsafeRawBufferPointer(rebasing: bytes[done...]))
            if accepted > 0 {
                let part = UnsafeRawBufferPointer(rebasing: bytes[done..<(done + accepted)])
                stream.digest?.update(part)
                stream.position += UInt64(accepted)
                done += accepted
            }
            if let error = stream.pipeline.failure {
                if resumeAfterLoss(stream, of: writer, error: error) { continue }
                throw fail(stream, of: writer, error)
            }
            if done == bytes.count { return }
        }
    }

    /// Waits until the pipeline sent everything, ends the stream's transfer and reads the
    /// server's verdict, resuming after a drop.
    func finish(_ stream: UploadStream, of writer: FileWriter) throws(Errno) {
        while true {
            do {
                try stream.pipeline.drain()
                try stream.transfer.finish()
                pool.checkin(stream.transfer.session)
                return
            } catch {
                if resumeAfterLoss(stream, of: writer, error: error) { continue }
                throw fail(stream, of: writer, error)
            }
        }
    }

    /// A stream failed for good: the partial upload is removed and the error kept.
    private func fail(_ stream: UploadStream, of writer: FileWriter, _ error: FTPError) -> Errno {
        stream.pipeline.cancel()
        let code = mapped(error, .write)
        stream.transfer.abort()
        pool.checkin(stream.transfer.session)
        abandon(stream.target, isTemporary: stream.isTemporary, of: writer)
        writer.state = .idle
        writer.failure = code
        logger.error("upload of \(writer.path) failed: \(error)")
        return code
    }

    /// After a streaming upload lost its connection (the server dropped it, restarted, or the
    /// network broke): asks a new connection how much of the file arrived (SIZE), and lets the
    /// pipeline send everything from there again with APPE (what was written and not yet sent,
    /// and what was sent but did not arrive, which the pipeline keeps). Returns false when that
    /// cannot be done: another kind of error, no progress for `timeout` seconds, or more missing
    /// than the pipeline holds. The upload is never left silently short.
    private func resumeAfterLoss(_ stream: UploadStream, of writer: FileWriter, error: FTPError) -> Bool {
        guard error.isConnectionLost else { return false }
        stream.pipeline.cancel()  // no sender runs (a failed one has stopped already)
        stream.transfer.abort()
        pool.checkin(stream.transfer.session)
        let deadline = stream.pipeline.lastProgress + pool.configuration.timeout
        var backoff = 0.05
        while MonotonicClock.now < deadline {
            let session: FTPSession
            do {
                session = try pool.checkout(deadline: deadline)
            } catch {
                guard error.isConnectionLost || error.isConnectionRefusal else { return false }
                usleep(UInt32(backoff * 1_000_000))
                backoff = min(backoff * 2, 1)
                continue
            }
            do throws(FTPError) {
                let received: UInt64
                do {
                    received = try session.size(of: stream.target)
                } catch where error.replyCode == .fileUnavailable {
                    received = 0  // nothing arrived at all
                }
                guard stream.pipeline.heldFrom(received) else {
                    pool.checkin(session)
                    logger.error("upload of \(writer.path) cannot resume: the server has \(received) of \(stream.position) bytes, more is missing than ftpfs kept")
                    return false
                }
                let transfer = try session.append(stream.target)
                // The session stays borrowed by the stream until it finishes.
                stream.transfer = transfer
                guard stream.pipeline.restart(from: received, on: transfer) else {
                    preconditionFailure("the pipeline dropped bytes it said it held")
                }
                logger.notice("upload of \(writer.path) resumed at byte \(received) (\(stream.position - received) bytes to send again) after: \(error)")
                return true
            } catch {
                pool.checkin(session)
                guard error.isConnectionLost else { return false }
                usleep(UInt32(backoff * 1_000_000))
                backoff = min(backoff * 2, 1)
            }
        }
        return false
    }

    /// Finishes the writer's stream where it is (its connection is needed elsewhere, or what it
    /// sent must be read back); APPE continues it later.
    func suspend(_ writer: FileWriter) throws(Errno) {
        guard case .streaming(let stream) = writer.state else { return }
        try finish(stream, of: writer)
        writer.state = .suspended(SuspendedUpload(target: stream.target, isTemporary: stream.isTemporary,
                                                  position: stream.position, digest: stream.digest))
    }

    /// Continues a suspended upload with APPE; a server without APPE gets the file staged.
    func resume(_ writer: FileWriter, _ suspended: SuspendedUpload) throws(Errno) {
        let session: FTPSession
        do {
            session = try pool.checkout(deadline: pool.deadline())
        } catch {
            throw mapped(error, .write)
        }
        do {
            let transfer = try session.append(suspended.target)
            writer.state = .streaming(UploadStream(transfer: transfer, target: suspended.target,
                                                   isTemporary: suspended.isTemporary,
                                                   position: suspended.position, digest: suspended.digest,
                                                   spoolDirectory: stagingDirectory))
        } catch {
            pool.checkin(session)
            guard FTPSession.isUnsupported(error) else { throw mapped(error, .write) }
            logger.info("server refused APPE (\(error)); staging \(writer.path) locally instead")
            _ = try stage(writer)
        }
    }

    /// Removes what a failed upload left on the server: its temporary file, or the partial file
    /// it was creating. Best effort: the failure being reported matters more.
    func abandon(_ target: String, isTemporary: Bool, of writer: FileWriter) {
        let createdByUs = isTemporary || (target == writer.serverPath && !writer.hadServerFile)
        guard createdByUs else { return }
        do {
            try pool.withSession(idempotent: false) { (session) throws(FTPError) in try session.delete(target) }
            if !isTemporary { writer.existsOnServer = false }
        } catch {
            logger.warning("could not remove the partial upload \(target): \(error)")
        }
    }

    /// The digest to compute while uploading, when the server can hash files to compare.
    func wantedDigest(_ session: FTPSession) -> ContentDigest? {
        guard configuration.verification == .auto, let method = session.remoteHashMethod else { return nil }
        return ContentDigest(method.algorithm)
    }

    // MARK: - Staging

    /// Moves the writer's content into a local file (fetching the server's copy when it has
    /// one) and returns it.
    @discardableResult
    func stage(_ writer: FileWriter) throws(Errno) -> StagedFile {
        if case .staged(let staged) = writer.state { return staged }
        if case .streaming = writer.state { try suspend(writer) }
        let staged = try staging.makeFile()
        switch writer.state {
        case .idle:
            if writer.existsOnServer && !writer.needsUpload {
                try download(writer.serverPath, into: staged)
            }
        case .suspended(let suspended):
            try download(suspended.target, into: staged)
            if suspended.isTemporary {
                abandon(suspended.target, isTemporary: true, of: writer)
            }
            writer.needsUpload = true
        case .streaming, .staged:
            break
        }
        if staged.size != writer.size { try staged.truncate(to: writer.size) }
        staged.isDirty = writer.needsUpload
        writer.state = .staged(staged)
        return staged
    }

    private func download(_ serverPath: String, into staged: StagedFile) throws(Errno) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 1)
        defer { buffer.deallocate() }
        // Errors inside are FTP errors or local ones; keep the local errno when there is one.
        var localFailure: Errno?
        do throws(FTPError) {
            try pool.withSession { (session) throws(FTPError) -> Void in
                let transfer = try session.retrieve(serverPath)
                var offset: UInt64 = 0
                while true {
                    let count = try transfer.read(into: buffer)
                    if count == 0 { break }
                    do throws(Errno) {
                        try staged.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), at: offset)
                    } catch {
                        localFailure = error
                        transfer.abort()
                        throw FTPError.invalidArgument("local staging file: \(error)")
                    }
                    offset += UInt64(count)
                }
            }
        } catch {
            throw localFailure ?? mapped(error, .read)
        }
    }

    // MARK: - Commit

    /// Makes the server's file what the writers wrote: finishes or performs the upload, verifies
    /// it, moves it into place, applies a pending mode or time, and updates the caches.
    func commit(_ writer: FileWriter) throws(Errno) {
        if let failure = writer.failure { throw failure }
        if writer.isDeleted {
            discardPending(writer)
            return
        }
        guard writer.hasPendingChanges else { return }

        let upload: CompletedUpload
        switch writer.state {
        case .streaming(let stream):
            try finish(stream, of: writer)
            upload = CompletedUpload(target: stream.target, isTemporary: stream.isTemporary,
                                     size: stream.position, digest: stream.digest?.finish())
            writer.state = .idle
        case .suspended(let suspended):
            upload = CompletedUpload(target: suspended.target, isTemporary: suspended.isTemporary,
                                     size: suspended.position, digest: suspended.digest?.finish())
            writer.state = .idle
        case .staged(let staged):
            upload = try uploadWhole(writer, from: staged)
            staged.isDirty = false
        case .idle:
            upload = try uploadWhole(writer, from: nil)
        }

        do {
            // Verifying only reads: it may be retried. The rename that puts a replacement in
            // place may not be repeated blindly after a drop: look first.
            try pool.withSession { (session) throws(FTPError) in try verify(upload, of: writer, on: session) }
            if upload.isTemporary {
                let final = writer.serverPath
                try performChange(.rename, { (session) throws(FTPError) in
                    try replace(final, with: upload.target, on: session)
                }, hasHappened: { (session) throws(FTPError) in
                    let temporaryGone = try Self.serverEntry(at: upload.target, on: session) == nil
                    let placed = try Self.serverEntry(at: final, on: session)?.size == upload.size
                    return temporaryGone && placed
                })
            }
            writer.existsOnServer = true
            writer.needsUpload = false
            writer.hadServerFile = true
            try pool.withSession { (session) throws(FTPError) in
                applyPendingAttributes(writer, on: session, replaced: upload.isTemporary)
            }
        } catch {
            let code = mapped(error, .write)
            abandon(upload.target, isTemporary: upload.isTemporary, of: writer)
            if case .staged = writer.state {} else { writer.failure = code }
            logger.error("upload of \(writer.path) failed: \(error)")
            throw code
        }
        writer.size = upload.size
        writer.generation &+= 1
        writer.publish()
        recordCommitted(writer)
    }

    struct CompletedUpload {
        var target: String
        var isTemporary: Bool
        var size: UInt64
        var digest: String?
    }

    /// Uploads a whole file (the staged copy, or nothing for an empty file) in one STOR.
    private func uploadWhole(_ writer: FileWriter, from staged: StagedFile?) throws(Errno) -> CompletedUpload {
        // The staged copy (or an empty file) can always be sent again: a dropped connection
        // redoes the upload, a few times, while the server keeps answering.
        var attempt = 0
        while true {
            do {
                return try uploadWholeOnce(writer, from: staged)
            } catch let failure as DroppedUpload where attempt < 4 {
                attempt += 1
                logger.notice("upload of \(writer.path) lost its connection (\(failure.error)); sending it again")
                usleep(UInt32(100_000 * attempt))
            } catch let failure as DroppedUpload {
                throw mapped(failure.error, .write)
            } catch let errno as Errno {
                throw errno
            } catch {
                throw .ioError
            }
        }
    }

    /// An upload whose connection dropped: it may be tried again.
    struct DroppedUpload: Error {
        var error: FTPError
    }

    private func uploadWholeOnce(_ writer: FileWriter, from staged: StagedFile?) throws -> CompletedUpload {
        let isTemporary = writer.existsOnServer && configuration.atomicUpload
        let target = isTemporary ? temporaryName(beside: writer.serverPath) : writer.serverPath
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 1)
        defer { buffer.deallocate() }
        var localFailure: Errno?
        var digestText: String?
        var sent: UInt64 = 0
        do throws(FTPError) {
            try pool.withSession(idempotent: false) { (session) throws(FTPError) -> Void in
                let digest = wantedDigest(session)
                let transfer = try session.store(target)
                if let staged {
                    while true {
                        let count: Int
                        do throws(Errno) {
                            count = try staged.read(into: buffer, at: sent)
                        } catch {
                            localFailure = error
                            transfer.abort()
                            throw FTPError.invalidArgument("local staging file: \(error)")
                        }
                        if count == 0 { break }
                        let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                        try transfer.write(chunk)
                        digest?.update(chunk)
                        sent += UInt64(count)
                    }
                }
                try transfer.finish()
                digestText = digest?.finish()
            }
        } catch {
            if !isTemporary && !writer.hadServerFile { writer.existsOnServer = true }
            abandon(target, isTemporary: isTemporary, of: writer)
            if localFailure == nil && error.isConnectionLost { throw DroppedUpload(error: error) }
            let code = localFailure ?? mapped(error, .write)
            logger.error("upload of \(writer.path) failed: \(error)")
            throw code
        }
        if !isTemporary { writer.existsOnServer = true }
        return CompletedUpload(target: target, isTemporary: isTemporary, size: sent, digest: digestText)
    }

    /// Compares the uploaded file with what was sent: by digest when the server can hash and
    /// one was computed, else by SIZE. A mismatch fails the flush with EIO.
    private func verify(_ upload: CompletedUpload, of writer: FileWriter, on session: FTPSession) throws(FTPError) {
        switch configuration.verification {
        case .off:
            return
        case .auto:
            if let expected = upload.digest, let method = session.remoteHashMethod {
                let actual = try session.remoteHash(of: upload.target, method: method)
                guard actual == expected else {
                    logger.error("upload of \(writer.path) failed verification: server's \(method.algorithm.rawValue) is \(actual), sent \(expected)")
                    throw .protocolViolation("\(method.algorithm.rawValue) mismatch after upload")
                }
                return
            }
            guard session.features.supportsSIZE else { return }
        case .size:
            break
        }
        let size = try session.size(of: upload.target)
        guard size == upload.size else {
            logger.error("upload of \(writer.path) failed verification: the server has \(size) bytes, sent \(upload.size)")
            throw .protocolViolation("size mismatch after upload")
        }
    }

    /// Moves the temporary upload over the final name. Servers that refuse to rename onto an
    /// existing file (IIS, FileZilla Server) get the old file deleted first.
    func replace(_ destination: String, with temporary: String, on session: FTPSession) throws(FTPError) {
        do {
            try session.rename(temporary, to: destination)
        } catch {
            guard let code = error.replyCode, [550, 553, 450].contains(code.rawValue) else { throw error }
            logger.info("server refused to rename over \(destination) (\(error)); deleting it first")
            try session.delete(destination)
            try session.rename(temporary, to: destination)
        }
    }

    /// Applies what was set while the file existed only locally, and restores the mode an
    /// atomic replacement lost. Failures are logged: the upload itself succeeded.
    private func applyPendingAttributes(_ writer: FileWriter, on session: FTPSession, replaced: Bool) {
        let mode = writer.pendingMode ?? (replaced ? writer.originalPermissions.flatMap { $0 == 0o644 ? nil : $0 } : nil)
        if let mode {
            do {
                try session.changeMode(mode, of: writer.serverPath)
            } catch {
                logger.warning("could not set mode \(String(mode, radix: 8)) on \(writer.path): \(error)")
            }
        }
        writer.pendingMode = nil
        if let time = writer.pendingModificationTime {
            do {
                try session.setModificationTime(FTPTimestamp(time), of: writer.serverPath)
                writer.modified = time
                writer.pendingModificationTime = nil
                return
            } catch {
                logger.warning("could not set the modification time of \(writer.path): \(error)")
            }
            writer.pendingModificationTime = nil
        }
        if session.features.supportsMDTM, let time = try? session.modificationTime(of: writer.serverPath) {
            writer.modified = Timestamp(time)
        } else {
            writer.modified = .now()
        }
    }

    /// After a commit: the listing shows the new size, mtime and mode at once.
    func recordCommitted(_ writer: FileWriter) {
        let entry = ListingEntry(name: FTPPath.lastComponent(writer.path), kind: .file, size: writer.size,
                                 modified: FTPTimestamp(writer.modified), mode: writer.permissions)
        listings.updateEntry(at: writer.path) { $0 = entry }
        exactTimes.record(writer.path, size: writer.size, time: FTPTimestamp(writer.modified))
        directoryContentChanged(around: writer.path)
    }

    /// Drops whatever is pending without uploading it.
    func discardPending(_ writer: FileWriter) {
        switch writer.state {
        case .streaming(let stream):
            stream.pipeline.cancel()
            stream.transfer.abort()
            pool.checkin(stream.transfer.session)
            abandon(stream.target, isTemporary: stream.isTemporary, of: writer)
        case .suspended(let suspended):
            abandon(suspended.target, isTemporary: suspended.isTemporary, of: writer)
        case .staged, .idle:
            break
        }
        writer.state = .idle
    }

    func mapped(_ error: FTPError, _ operation: FileOperation) -> Errno {
        let code = Self.errno(for: error, during: operation)
        logFailure(error, operation: operation, errno: code)
        return code
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
