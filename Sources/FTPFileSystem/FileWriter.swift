import FTPClient
import FTPProtocol
import FuseBridge
import Logging
import Synchronization
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// Everything pending for one path that is open for writing, shared by every handle that
/// writes it, from the first open to the last release: the writer's state machine.
///
/// Its state says where the file's content is:
///
///     clean ──write at 0 / at the end──▶ streaming ──finish early──▶ suspended
///       │  ▲                              │   ▲                          │
///       │  └─────────── commit ───────────┘   └──────── write on ────────┘
///       ├──write elsewhere, truncate to N──▶ staged ──commit──▶ staged (clean copy)
///       └──truncate to 0──▶ empty ──commit──▶ clean
///     any ──upload failed──▶ failed ──truncate to 0──▶ empty
///     any ──unlinked while open──▶ unlinked (local copy, never uploaded)
///     any ──last release──▶ closed
///
/// - `clean`: the server's file is the content (or, for a file created here, nothing yet
///   to write: see `empty`).
/// - `empty`: the content is empty and the server does not have it yet (a created or
///   truncated file).
/// - `streaming`: written from offset 0 upward (or onto the end), the bytes go to an upload as
///   they come, through a bounded `UploadPipeline`, whatever the file's size.
/// - `suspended`: such an upload was finished early (its connection was needed elsewhere, or a
///   reader needed the bytes on the server); APPE continues it.
/// - `staged`: a local copy (random writes, O_RDWR edits, truncate to N), uploaded whole at
///   commit.
/// - `failed`: an upload failed; what was written is lost, and every flush says so until the
///   file is truncated to 0.
/// - `unlinked`: the name was removed while handles were open; they go on with a local copy,
///   which is never uploaded.
///
/// A commit goes through committing (the last bytes and the server's verdict), verifying
/// (digest or SIZE) and placing (the rename into place). Every upload goes to a temporary name
/// beside the file (`TemporaryNames`) and is renamed over it only when complete and verified,
/// so a crash never leaves a partial file under the final name and a failure never touches the
/// old content; only `-o atomic_upload=no`, a directory that cannot be listed (a drop box) or a
/// server that cannot rename write in place. Appends copy the old content into the temporary
/// first, for the same reason.
///
/// Every change of `state` is in this file, in the transitions below; the file-system methods
/// call transitions. The mechanics (`ServerChanges`, `UploadPipeline`, `StagingArea`) never
/// change it.
///
/// Lock order: a reading `OpenFile`'s lock may be held when taking `lock`; `lock` is held
/// across the FTP I/O of transitions, and the pool's lock and the stream's `UploadPipeline`
/// lock may be taken under it (the pipeline's sender thread takes only the pipeline's lock).
final class FileWriter: @unchecked Sendable {
    enum State {
        case clean
        case empty
        case streaming(UploadStream)
        case suspended(SuspendedUpload)
        case staged(StagedFile)
        case failed(Errno)
        case unlinked(StagedFile?)
        case closed

        var name: String {
            switch self {
            case .clean: "clean"
            case .empty: "empty"
            case .streaming: "streaming"
            case .suspended: "suspended"
            case .staged: "staged"
            case .failed: "failed"
            case .unlinked: "unlinked"
            case .closed: "closed"
            }
        }
    }

    /// Where a reader finds the bytes of a file being written.
    enum ReadSource: Equatable {
        /// On the server, at this path (the file, or an upload not yet in place).
        case server(String)
        /// In the local copy.
        case local(StagedFile)
        /// Nowhere: the file is empty.
        case nothing

        static func == (lhs: ReadSource, rhs: ReadSource) -> Bool {
            switch (lhs, rhs) {
            case (.server(let a), .server(let b)): a == b
            case (.local(let a), .local(let b)): a === b
            case (.nothing, .nothing): true
            default: false
            }
        }
    }

    let lock = ConditionLock()
    let context: WriterContext
    private(set) var state: State
    /// The path under the mountpoint and on the server (both follow renames).
    private(set) var path: String
    private(set) var serverPath: String
    /// The file's size as the writers see it now.
    private(set) var size: UInt64
    private(set) var modified: Timestamp
    private(set) var permissions: UInt32
    /// The server has a file under the final name (one this writer replaces, or one it put
    /// there): replacing it must leave it intact until the replacement is complete.
    private(set) var serverHasFile: Bool
    /// A mode or time set while the file existed only here, applied after its upload.
    private var pendingMode: UInt32?
    private var pendingModificationTime: Timestamp?
    /// The mode of the file this writer replaces, restored after an atomic replacement (a
    /// temporary file gets the server's default mode). Nil for a file created here: then
    /// nothing on the server predates this writer.
    private let originalPermissions: UInt32?
    private var predatesWriter: Bool { originalPermissions != nil }
    /// Bumped whenever the content moves or changes, so read streams opened before restart.
    private(set) var generation: UInt64 = 0
    /// Open handles that write through this writer (kept by `WriterTable`).
    var handles = 0
    /// The stream, readable by other threads to cancel it (`interruptStream`).
    private let cancellableStream = Mutex<UploadStream?>(nil)

    /// A writer for a new file (created here, nothing on the server yet) or for an existing
    /// one (`existing` says its size, time and mode on the server).
    init(path: String, serverPath: String, context: WriterContext, existing: FileAttributes?,
         created: (modified: Timestamp, permissions: UInt32)? = nil)
    {
        self.path = path
        self.serverPath = serverPath
        self.context = context
        if let existing {
            state = .clean
            size = existing.size
            modified = existing.modified
            permissions = existing.permissions
            serverHasFile = true
            originalPermissions = existing.permissions
        } else {
            state = .empty
            size = 0
            modified = created?.modified ?? .now()
            permissions = created?.permissions ?? 0o644
            serverHasFile = false
            originalPermissions = nil
        }
        publish()
    }

    /// Whether anything the writers did is not on the server yet.
    var hasPendingChanges: Bool {
        switch state {
        case .empty, .streaming, .suspended: true
        case .staged(let file): file.isDirty
        case .clean, .failed, .unlinked, .closed: false
        }
    }

    var isUnlinked: Bool {
        if case .unlinked = state { return true }
        return false
    }

    /// Empty or as on the server, with nothing of its own (what a server-side copy may fill).
    var isEmptyOrClean: Bool {
        switch state {
        case .empty, .clean: true
        default: false
        }
    }

    private var isFailed: Bool {
        if case .failed = state { return true }
        return false
    }

    /// A copy of size, mtime and mode that `getattr` reads without waiting for `lock`, which a
    /// commit holds for as long as an upload takes.
    private let published = Mutex<FileAttributes?>(nil)

    var attributes: FileAttributes {
        published.withLock { $0 } ?? FileAttributes(kind: .regular, permissions: permissions, size: size, modified: modified)
    }

    private func publish() {
        let current = FileAttributes(kind: .regular, permissions: permissions, size: size, modified: modified)
        published.withLock { $0 = current }
    }

    private var logger: Logger { context.logger }

    // MARK: - Transitions: writing

    /// A write of `bytes` at `offset`: into the open stream when it continues it, into a new
    /// upload when it starts the file or continues its end, into the local copy otherwise.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(Errno) {
        switch state {
        case .failed(let error):
            throw error
        case .closed:
            throw .badFileDescriptor
        case .unlinked(let local):
            guard let local else { throw .ioError }
            try local.write(bytes, at: offset)
        case .streaming(let stream) where stream.position == offset:
            try send(bytes, on: stream)
        case .suspended(let suspended) where suspended.position == offset:
            if let stream = try resume(suspended) {
                try send(bytes, on: stream)
            } else {
                try stage().write(bytes, at: offset)  // no APPE here
            }
        case .empty where offset == 0, .clean where offset == 0 && size == 0:
            try send(bytes, on: try startUpload(appending: false)!)
        case .clean where offset == size:
            if let stream = try startUpload(appending: true) {
                try send(bytes, on: stream)
            } else {
                try stage().write(bytes, at: offset)  // no APPE here
            }
        default:
            try stage().write(bytes, at: offset)
        }
        size = max(size, offset + UInt64(bytes.count))
        modified = .now()
        publish()
    }

    /// Truncation to 0 drops everything pending (the file becomes empty, and a failure is
    /// forgotten); any other size needs the content, so the file is staged and cut or extended
    /// locally.
    func truncate(to newSize: UInt64) throws(Errno) {
        switch state {
        case .closed:
            throw .badFileDescriptor
        case .unlinked(let local):
            guard let local else { throw .ioError }
            try local.truncate(to: newSize)
        case .failed(let error) where newSize != 0:
            throw error
        default:
            if newSize == size && !(newSize == 0 && hasPendingChanges) { return }
            if newSize == 0 {
                dropPending()
                state = .empty
            } else {
                let local = try stage()
                try local.truncate(to: newSize)
            }
        }
        size = newSize
        modified = .now()
        generation &+= 1
        publish()
    }

    // MARK: - Transitions: committing

    /// Makes the server's file what the writers wrote: finishes or performs the upload,
    /// verifies it, moves it into place, applies a pending mode or time. Throws what went
    /// wrong; after a failure the server still holds what it held before.
    func commit() throws(Errno) {
        let upload: CompletedUpload
        switch state {
        case .failed(let error):
            throw error
        case .unlinked, .closed, .clean:
            return
        case .staged(let local) where !local.isDirty:
            return
        case .streaming(let stream):
            do {
                try finish(stream)
            } catch {
                state = .failed(fail(stream, error))
                throw mapped(error)
            }
            upload = CompletedUpload(stream)
        case .suspended(let suspended):
            upload = CompletedUpload(suspended)
        case .staged(let local):
            upload = try uploadWhole(from: local)
        case .empty:
            do {
                upload = try uploadWhole(from: nil)
            } catch {
                state = .failed(error)
                throw error
            }
        }
        let serverTime: FTPTimestamp?
        do {
            serverTime = try verify(upload)
            try place(upload)
        } catch {
            discard(upload)
            let code = mapped(error)
            logger.error("upload of \(path) failed: \(error)")
            if case .staged = state {} else { state = .failed(code) }
            throw code
        }
        if case .staged(let local) = state {
            local.isDirty = false
        } else {
            state = .clean
        }
        serverHasFile = true
        size = upload.size
        applyPendingAttributes(replaced: upload.placement == .temporary, serverTime: serverTime)
        generation &+= 1
        publish()
        context.onCommitted(self)
    }

    /// Finishes the stream where it is (its connection is needed elsewhere, or a reader needs
    /// the bytes on the server); APPE continues it at the next write.
    func suspend() throws(Errno) {
        guard case .streaming(let stream) = state else { return }
        do {
            try finish(stream)
        } catch {
            state = .failed(fail(stream, error))
            throw mapped(error)
        }
        state = .suspended(SuspendedUpload(stream))
        generation &+= 1
    }

    /// Where a reader finds the content now. A stream is suspended first, so that everything
    /// written is on the server (under the upload's temporary name until it is placed).
    func readSource() throws(Errno) -> ReadSource {
        switch state {
        case .clean: return .server(serverPath)
        case .empty: return .nothing
        case .staged(let local): return .local(local)
        case .unlinked(let local?): return .local(local)
        case .unlinked(nil): throw .ioError
        case .failed(let error): throw error
        case .closed: throw .badFileDescriptor
        case .streaming:
            try suspend()
            return try readSource()
        case .suspended(let suspended): return .server(suspended.target)
        }
    }

    // MARK: - Transitions: names

    /// The name was unlinked while handles are open: they go on with a local copy, and
    /// nothing is uploaded any more. Returns whether the server has a file under the name,
    /// which the caller then deletes.
    func unlink() -> Bool {
        let hadFile = serverHasFile
        let local: StagedFile?
        switch state {
        case .unlinked, .closed:
            return false
        case .failed:
            local = nil
        case .staged(let file):
            local = file
        case .empty:
            local = try? context.staging.makeFile()
        case .clean:
            local = try? stage()
        case .streaming(let stream):
            local = localCopy(of: stream)
            abandon(stream)
        case .suspended(let suspended):
            local = try? downloadCopy(of: suspended.target, size: suspended.position)
            context.changes.remove(suspended.target, what: "an upload of a file unlinked while open")
        }
        if local == nil, !isFailed {
            logger.warning("\(path) was unlinked while open and its content could not be kept; its handles now fail")
        }
        state = .unlinked(local)
        serverHasFile = false
        generation &+= 1
        return hadFile
    }

    /// Another file was renamed over this one's name while it was open: the server's file is
    /// gone (replaced), so the handles go on with a local copy, as after `unlink`.
    func replacedByRename() {
        serverHasFile = false  // nothing to delete: the rename replaced it
        _ = unlink()
    }

    /// The file (or a directory above it) was renamed.
    func rename(to newPath: String, serverPath newServerPath: String) {
        path = newPath
        serverPath = newServerPath
    }

    /// The last handle is gone: what is still pending is committed (an error can only be
    /// logged now), and everything local is dropped.
    func release() {
        if hasPendingChanges {
            do {
                try commit()
            } catch {
                logger.error("\(path): changes not saved to the server: \(error)")
            }
        }
        dropPending()
        state = .closed
    }

    /// The server copied another file to this (empty) one (copy_file_range through SITE
    /// CPFR/CPTO): the server's file is the content now.
    func copiedOnServer(size newSize: UInt64) {
        state = .clean
        serverHasFile = true
        size = newSize
        modified = .now()
        generation &+= 1
        publish()
    }

    /// A mode set through the mount: kept for after the upload when one is to come (the upload
    /// would reset it). Returns whether it was deferred.
    func deferMode(_ mode: UInt32) -> Bool {
        permissions = mode
        publish()
        guard hasPendingChanges || !serverHasFile else { return false }
        pendingMode = mode
        return true
    }

    /// A modification time set through the mount: kept for after the upload when one is to
    /// come. Returns whether it was deferred.
    func deferModificationTime(_ time: Timestamp) -> Bool {
        guard hasPendingChanges || !serverHasFile else { return false }
        pendingModificationTime = time
        modified = time
        publish()
        return true
    }

    /// The server's file got this modification time.
    func modificationTimeSet(_ time: Timestamp) {
        modified = time
        publish()
    }

    // MARK: - Cancelling from another thread

    /// From any thread, without the lock: breaks off the stream's connection, so that a
    /// holder of the lock blocked on a stalled server (a write waiting for room, a commit
    /// waiting for the verdict) wakes at once. That holder then abandons the stream, keeping
    /// its content locally when the pipeline still holds all of it. Returns whether there was
    /// a stream to interrupt.
    @discardableResult
    func interruptStream() -> Bool {
        guard let stream = cancellableStream.withLock({ $0 }) else { return false }
        stream.isCancelled.store(true, ordering: .releasing)
        stream.pipeline.cancelNow()
        stream.transfer.interrupt()
        return true
    }

    /// Takes `lock`, interrupting the stream when the holder does not let go within a moment
    /// (it is waiting on a stalled server): an unlink or truncate returns promptly.
    func lockInterruptingStalledStream() {
        let deadline = MonotonicClock.now + Self.patienceBeforeInterrupting
        while !lock.tryLock() {
            if MonotonicClock.now >= deadline {
                interruptStream()
                lock.lock()
                return
            }
            usleep(2_000)
        }
    }

    /// How long an unlink or truncate waits for a writer before interrupting its upload.
    static let patienceBeforeInterrupting = 0.2

    // MARK: - Private: streaming

    /// Opens an upload for the writes to come: a new file's or a replacement's from offset 0,
    /// or one that continues the end of the server's file (`appending`). Replacements and
    /// appends go to a temporary name beside the file; an append first copies the server's
    /// content into it. Nil when an append in place meets a server without APPE (the caller
    /// stages the file instead).
    private func startUpload(appending: Bool) throws(Errno) -> UploadStream? {
        let placement = try choosePlacement()
        let inPlaceAppend = appending && placement == .inPlace
        let target = placement == .temporary ? context.names.make(.upload, beside: serverPath) : serverPath
        if placement == .temporary { context.journal?.recordTemporary(target) }
        let origin = inPlaceAppend ? size : 0
        let transfer: any RemoteUpload
        do {
            transfer = try context.store.upload(target, appending: inPlaceAppend, deadline: context.store.deadline())
        } catch {
            if placement == .temporary { context.journal?.recordGone(target) }
            if inPlaceAppend && error.meaning == .notSupported {
                logger.info("server refused APPE (\(error)); staging \(path) locally instead")
                return nil
            }
            throw mapped(error)
        }
        let digest = inPlaceAppend ? nil : context.store.abilities.hashAlgorithm.map(ContentDigest.init)
        let stream = UploadStream(transfer: transfer, target: target, placement: placement, origin: origin,
                                  digest: digest, spoolDirectory: context.staging.directory)
        state = .streaming(stream)
        cancellableStream.withLock { $0 = stream }
        generation &+= 1
        if appending && !inPlaceAppend {
            try copyServerContent(into: stream)
        }
        return stream
    }

    /// Where an upload goes: a temporary name, renamed into place once complete, unless the
    /// user, the directory or the server rules that out.
    private func choosePlacement() throws(Errno) -> Placement {
        if !context.atomicUpload { return .inPlace }
        let directory = FTPPath.parent(serverPath)
        if context.isDropBox(directory) { return .inPlace }
        // Without renames, a file created here goes in place: nothing on the server predates
        // it (it may be ours from an earlier flush of this same writer). A file that was there
        // before cannot be replaced without risking it.
        if !context.store.abilities.mayRename {
            guard !predatesWriter else {
                logger.error("\(path): the server cannot rename files, so it cannot be replaced without risking its content; mount with -o atomic_upload=no to write it in place")
                throw .notPermitted
            }
            return .inPlace
        }
        // Where renames were refused, the same for files created here; a file that was there
        // before still tries: the server decides, and the old file stays if it refuses.
        if context.renameRefusals.contains(directory) && !predatesWriter { return .inPlace }
        return .temporary
    }

    /// An append through a temporary: the server's current content goes into the upload
    /// first, so the temporary becomes the whole new file.
    private func copyServerContent(into stream: UploadStream) throws(Errno) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var copied: UInt64 = 0
        do throws(FTPError) {
            let download = try context.store.download(serverPath, from: 0, deadline: context.store.deadline())
            defer { download.abort() }
            while true {
                let count = try download.read(into: buffer)
                if count == 0 { break }
                copied += UInt64(count)
                guard copied <= size else { break }
                // `send` fails the writer itself when the upload fails.
                do throws(Errno) {
                    try send(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), on: stream)
                } catch {
                    throw FTPError.io(errno: error.rawValue, context: "copying the old content into the upload")
                }
            }
        } catch {
            if case .streaming = state { state = .failed(fail(stream, error)) }
            throw mapped(error, .read)
        }
        guard copied == size else {
            logger.error("\(path) changed on the server while being appended to (\(copied) bytes there, \(size) expected)")
            state = .failed(fail(stream, .protocolViolation("the file changed on the server")))
            throw .ioError
        }
    }

    /// Continues a suspended upload with APPE. Nil for a server without APPE: the caller stages
    /// the file instead.
    private func resume(_ suspended: SuspendedUpload) throws(Errno) -> UploadStream? {
        let transfer: any RemoteUpload
        do {
            transfer = try context.store.upload(suspended.target, appending: true, deadline: context.store.deadline())
        } catch {
            guard error.meaning == .notSupported || error.meaning == .badArgument else { throw mapped(error) }
            logger.info("server refused APPE (\(error)); staging \(path) locally instead")
            return nil
        }
        let stream = UploadStream(transfer: transfer, target: suspended.target, placement: suspended.placement,
                                  origin: suspended.position, digest: suspended.digest,
                                  spoolDirectory: context.staging.directory, position: suspended.position)
        state = .streaming(stream)
        cancellableStream.withLock { $0 = stream }
        return stream
    }

    /// Gives bytes to the stream's pipeline, which sends them while the program goes on
    /// writing. A send that failed, now or since the last write, is dealt with here: a dropped
    /// connection is resumed; a cancelled stream is abandoned (the bytes stay local when
    /// possible); anything else loses what was streamed, and the writer fails.
    private func send(_ bytes: UnsafeRawBufferPointer, on stream: UploadStream) throws(Errno) {
        var done = 0
        while true {
            let accepted = stream.pipeline.accept(UnsafeRawBufferPointer(rebasing: bytes[done...]))
            if accepted > 0 {
                stream.digest?.update(UnsafeRawBufferPointer(rebasing: bytes[done..<(done + accepted)]))
                stream.position += UInt64(accepted)
                done += accepted
            }
            if done == bytes.count && stream.pipeline.failure == nil { return }
            guard let error = stream.pipeline.failure else { continue }
            if stream.isCancelled.load(ordering: .acquiring) {
                let local = localCopy(of: stream)
                abandon(stream)
                guard let local else {
                    state = .failed(.ioError)
                    throw .ioError
                }
                state = .staged(local)
                local.isDirty = true
                if done < bytes.count {
                    try local.write(UnsafeRawBufferPointer(rebasing: bytes[done...]), at: stream.position)
                }
                return
            }
            if resumeAfterLoss(stream, error: error) { continue }
            state = .failed(fail(stream, error))
            throw mapped(error)
        }
    }

    /// Waits until the pipeline sent everything, ends the transfer and reads the server's
    /// verdict, resuming after a drop.
    private func finish(_ stream: UploadStream) throws(FTPError) {
        while true {
            do {
                try stream.pipeline.drain()
                try stream.transfer.finish()
                cancellableStream.withLock { $0 = nil }
                return
            } catch {
                if stream.isCancelled.load(ordering: .acquiring) { throw error }
                if resumeAfterLoss(stream, error: error) { continue }
                throw error
            }
        }
    }

    /// After a streaming upload lost its connection: asks a new connection how much of the
    /// file arrived (SIZE, repeated until the server's file stops growing: a server may still
    /// be writing what the old connection delivered), and lets the pipeline send everything
    /// from there again with APPE. Returns false when that cannot be done: another kind of
    /// error, no way back to the server within `timeout` seconds, resumes that keep failing
    /// without a byte getting through, or more missing than the pipeline holds.
    private func resumeAfterLoss(_ stream: UploadStream, error: FTPError) -> Bool {
        guard error.isConnectionLost || error.meaning == .transferInterrupted else { return false }
        stream.pipeline.cancel()  // no sender runs (a failed one has stopped already)
        stream.transfer.abort()
        if stream.pipeline.lastProgress > stream.lastResume {
            stream.fruitlessResumes = 0
        } else {
            stream.fruitlessResumes += 1
            guard stream.fruitlessResumes <= Self.maximumFruitlessResumes else {
                logger.error("upload of \(path) keeps failing without progress; giving up after: \(error)")
                return false
            }
        }
        stream.lastResume = MonotonicClock.now
        // A window of its own: the failure may have come after waiting out a whole timeout
        // (a final reply that never came).
        let deadline = MonotonicClock.now + context.store.timeout
        var backoff = 0.05
        while MonotonicClock.now < deadline {
            do throws(FTPError) {
                let received = try settledSize(of: stream.target, origin: stream.origin, until: deadline)
                guard stream.pipeline.heldFrom(received) else {
                    logger.error("upload of \(path) cannot resume: the server has \(received) of \(stream.position) bytes, more is missing than ftpfs kept")
                    return false
                }
                let transfer = try context.store.upload(stream.target, appending: true, deadline: deadline)
                stream.transfer = transfer
                guard stream.pipeline.restart(from: received, on: UploadTransferSink(transfer)) else {
                    logger.error("upload of \(path) cannot resume at byte \(received)")
                    return false
                }
                logger.notice("upload of \(path) resumed at byte \(received) (\(stream.position - received) bytes to send again) after: \(error)")
                return true
            } catch {
                guard [.connectionLost, .unreachable, .transferInterrupted].contains(error.meaning) else { return false }
                usleep(UInt32(backoff * 1_000_000))
                backoff = min(backoff * 2, 1)
            }
        }
        return false
    }

    /// The size of an upload's file on the server once it stops changing: the same three
    /// times, `settleInterval` apart. A file not there at all has received nothing.
    private func settledSize(of target: String, origin: UInt64, until deadline: Double) throws(FTPError) -> UInt64 {
        var last: UInt64?
        var unchanged = 0
        while true {
            let current: UInt64
            do {
                current = try context.store.size(of: target)
            } catch where error.meaning == .notFound && origin == 0 {
                current = 0
            }
            unchanged = current == last ? unchanged + 1 : 0
            if unchanged == 2 || MonotonicClock.now + Self.settleInterval >= deadline { return current }
            last = current
            usleep(UInt32(Self.settleInterval * 1_000_000))
        }
    }

    /// How long the server's file must keep its size before a resume trusts it.
    static let settleInterval = 0.5
    /// Resumes in a row that may fail before a byte gets through, before the upload fails.
    static let maximumFruitlessResumes = 3

    /// A stream failed for good: its transfer is ended and what it left on the server removed
    /// before the failure is reported. Returns the errno to keep.
    private func fail(_ stream: UploadStream, _ error: FTPError) -> Errno {
        cancellableStream.withLock { $0 = nil }
        stream.pipeline.cancel()
        stream.transfer.abort()
        if stream.placement == .temporary || !serverHasFile {
            context.changes.remove(stream.target, what: "a failed upload")
        }
        logger.error("upload of \(path) failed: \(error)")
        return mapped(error)
    }

    /// Ends a stream without completing it, in the background, so that a stalled server holds
    /// up nobody: the sender stops (its transfer is broken off when it does not stop within a
    /// second: it is blocked on a server that takes no data), the transfer is aborted (ABOR)
    /// and what it left on the server removed.
    private func abandon(_ stream: UploadStream) {
        cancellableStream.withLock { $0 = nil }
        stream.pipeline.cancelNow()
        let changes = context.changes
        let removeTarget = stream.placement == .temporary || !serverHasFile
        let target = stream.target
        let transfer = stream.transfer
        let pipeline = stream.pipeline
        context.background.run {
            if !pipeline.cancel(waitingAtMost: 1) {
                transfer.interrupt()
                pipeline.cancel()
            }
            transfer.abort()
            if removeTarget { changes.remove(target, what: "an abandoned upload") }
        }
    }

    /// The stream's bytes as a local file, when the pipeline still holds all of them (from
    /// offset 0); nil otherwise. For the lock's holder, once no sender runs.
    private func localCopy(of stream: UploadStream) -> StagedFile? {
        guard stream.origin == 0, stream.pipeline.heldFrom(0), let local = try? context.staging.makeFile() else {
            return nil
        }
        stream.pipeline.cancel()
        let copied = stream.pipeline.withHeldBytes(from: 0) { piece, offset in
            (try? local.write(piece, at: offset)) != nil
        }
        return copied ? local : nil
    }

    // MARK: - Private: staging

    /// Moves the content into a local file (fetching the server's copy when it has one) and
    /// returns it.
    private func stage() throws(Errno) -> StagedFile {
        switch state {
        case .staged(let local):
            return local
        case .unlinked(let local?):
            return local
        case .failed(let error):
            throw error
        case .unlinked(nil), .closed:
            throw .ioError
        case .streaming(let stream):
            if let local = localCopy(of: stream) {
                abandon(stream)
                return stageFinally(local, dirty: true)
            }
            try suspend()
            return try stage()
        case .suspended(let suspended):
            let local = try downloadCopy(of: suspended.target, size: suspended.position)
            if suspended.placement == .temporary {
                context.changes.remove(suspended.target, what: "a suspended upload, now staged")
            }
            return stageFinally(local, dirty: true)
        case .empty:
            return stageFinally(try context.staging.makeFile(), dirty: true)
        case .clean:
            let local = try downloadCopy(of: serverPath, size: size)
            return stageFinally(local, dirty: false)
        }
    }

    private func stageFinally(_ local: StagedFile, dirty: Bool) -> StagedFile {
        local.isDirty = dirty
        state = .staged(local)
        generation &+= 1
        return local
    }

    /// A local copy of a server file, cut or extended to `size`.
    private func downloadCopy(of serverFile: String, size: UInt64) throws(Errno) -> StagedFile {
        let local = try context.staging.makeFile()
        do {
            try context.transfers.download(serverFile, into: local)
        } catch {
            switch error {
            case .local(let code): throw code
            case .remote(let failure): throw mapped(failure, .read)
            }
        }
        if local.size != size { try local.truncate(to: size) }
        return local
    }

    // MARK: - Private: whole uploads, verification, placing

    /// Uploads the local copy (or nothing, for an empty file) in one STOR, sending it again
    /// when the connection drops (a few times, while the server keeps answering).
    private func uploadWhole(from local: StagedFile?) throws(Errno) -> CompletedUpload {
        let placement = try choosePlacement()
        let target = placement == .temporary ? context.names.make(.upload, beside: serverPath) : serverPath
        if placement == .temporary { context.journal?.recordTemporary(target) }
        var attempt = 0
        while true {
            do {
                let (sent, digest) = try context.transfers.upload(from: local, to: target)
                return CompletedUpload(target: target, placement: placement, size: sent, digest: digest,
                                       resendSource: local.map { .local($0) } ?? .empty)
            } catch {
                if case .remote(let failure) = error, failure.isConnectionLost, attempt < 4 {
                    attempt += 1
                    logger.notice("upload of \(path) lost its connection (\(failure)); sending it again")
                    usleep(UInt32(100_000 * attempt))
                    continue
                }
                discard(CompletedUpload(target: target, placement: placement, size: 0, digest: nil, resendSource: .none))
                switch error {
                case .local(let code):
                    logger.error("upload of \(path) failed: local copy: \(code)")
                    throw code
                case .remote(let failure):
                    logger.error("upload of \(path) failed: \(failure)")
                    throw mapped(failure)
                }
            }
        }
    }

    /// Compares the uploaded file with what was sent (`UploadVerifier`). A mismatch sends the
    /// content again once when it is all at hand (a local copy, or a stream's pipeline still
    /// holding all of it); otherwise, or when that fails too, the commit fails.
    private func verify(_ upload: CompletedUpload) throws(FTPError) -> FTPTimestamp? {
        do {
            return try context.verifier.check(upload.target, size: upload.size, digest: upload.digest)
        } catch where error.meaning == .protocolViolation {
            switch upload.resendSource {
            case .none:
                throw error
            case .empty:
                logger.notice("upload of \(path) failed verification (\(error)); sending it again")
                do {
                    _ = try context.transfers.upload(from: nil, to: upload.target)
                } catch {
                    if case .remote(let failure) = error { throw failure }
                    throw .protocolViolation("resending failed")
                }
            case .local(let local):
                logger.notice("upload of \(path) failed verification (\(error)); sending it again")
                do {
                    _ = try context.transfers.upload(from: local, to: upload.target)
                } catch {
                    if case .remote(let failure) = error { throw failure }
                    throw .protocolViolation("reading the local copy to send it again failed")
                }
            case .pipeline(let pipeline):
                logger.notice("upload of \(path) failed verification (\(error)); sending it again")
                try context.transfers.resend(pipeline, to: upload.target)
            }
            return try context.verifier.check(upload.target, size: upload.size, digest: upload.digest)
        }
    }

    /// Moves a verified upload into place. A server or directory that refuses the rename gets
    /// a new file copied into place instead (and is remembered, so the next upload there goes
    /// in place); a replacement it refuses fails, the old file untouched.
    private func place(_ upload: CompletedUpload) throws(FTPError) {
        guard upload.placement == .temporary else { return }
        do {
            try context.changes.move(upload.target, over: serverPath, expectedSize: upload.size)
            context.journal?.recordGone(upload.target)
        } catch {
            // The temporary was just verified there: "not found" to RNFR is a refusal too.
            let refusal: Set<FTPError.Meaning> = [.notSupported, .permissionDenied, .refused, .badArgument, .notFound]
            guard refusal.contains(error.meaning), !predatesWriter else { throw error }
            logger.notice("server refused to rename the upload of \(path) into place (\(error)); copying it there, and writing new files in \(FTPPath.parent(serverPath)) in place from now on")
            context.renameRefusals.insert(FTPPath.parent(serverPath))
            try context.changes.copyThrough(from: upload.target, to: serverPath, size: upload.size)
            context.changes.remove(upload.target, what: "an upload copied into place")
        }
    }

    /// Removes what a failed upload left: its temporary, or the partial file it was creating.
    private func discard(_ upload: CompletedUpload) {
        if upload.placement == .temporary || !serverHasFile {
            context.changes.remove(upload.target, what: "a failed upload")
        }
    }

    /// Applies what was set while the file existed only locally, and restores the mode an
    /// atomic replacement lost; then learns the time the server gave the file. Failures are
    /// logged: the upload itself succeeded.
    private func applyPendingAttributes(replaced: Bool, serverTime: FTPTimestamp?) {
        let store = context.store
        let restoredMode = replaced ? originalPermissions.flatMap { $0 == 0o644 ? nil : $0 } : nil
        if let mode = pendingMode ?? restoredMode {
            do {
                try store.changeMode(mode, of: serverPath)
            } catch {
                logger.warning("could not set mode \(String(mode, radix: 8)) on \(path): \(error)")
            }
        }
        pendingMode = nil
        if let time = pendingModificationTime {
            pendingModificationTime = nil
            do {
                try store.setModificationTime(FTPTimestamp(time), of: serverPath)
                modified = time
                return
            } catch {
                logger.warning("could not set the modification time of \(path): \(error)")
            }
        }
        if let serverTime {
            modified = Timestamp(serverTime)  // learned with the verification; a rename keeps it
        } else if store.abilities.canReportTime, let time = try? store.modificationTime(of: serverPath) {
            modified = Timestamp(time)
        } else {
            modified = .now()
        }
    }

    /// Drops whatever is pending without uploading it.
    private func dropPending() {
        switch state {
        case .streaming(let stream):
            abandon(stream)
        case .suspended(let suspended):
            if suspended.placement == .temporary || !serverHasFile {
                let changes = context.changes
                context.background.run { changes.remove(suspended.target, what: "a dropped upload") }
            }
        case .clean, .empty, .staged, .failed, .unlinked, .closed:
            break
        }
        if case .streaming = state { state = .empty } else if case .suspended = state { state = .empty }
    }

    private func mapped(_ error: FTPError, _ operation: FileOperation = .write) -> Errno {
        FTPFileSystem.errno(for: error, during: operation)
    }
}

/// Where an upload is written.
enum Placement: Sendable {
    /// Under a temporary name beside the file, renamed into place once complete.
    case temporary
    /// Under the file's own name.
    case inPlace
}

/// An upload in progress. Owned by its writer (under the writer's lock), except that another
/// thread may cancel it: `isCancelled`, `pipeline.cancelNow()` and `transfer.interrupt()`
/// are safe from anywhere (`FileWriter.interruptStream`).
final class UploadStream: @unchecked Sendable {
    /// The transfer (replaced when the upload resumes on a new connection). While the
    /// pipeline's sender runs, only the sender writes to it; see `UploadPipeline`.
    var transfer: any RemoteUpload {
        get { transferLock.withLock { currentTransfer } }
        set { transferLock.withLock { currentTransfer = newValue } }
    }
    private var currentTransfer: any RemoteUpload
    private let transferLock = ConditionLock()
    /// The bytes written and not yet sent, and the last ones sent (to send again when a dropped
    /// connection lost them).
    let pipeline: UploadPipeline
    /// Where the bytes go: a temporary name beside the file, or the file itself.
    let target: String
    let placement: Placement
    /// The file offset this upload's target started at (0, or the old size for an APPE in place).
    let origin: UInt64
    /// The file offset of the next byte the writers give (bytes before it may still be in the
    /// pipeline: they are the server's only once the transfer finishes).
    var position: UInt64
    /// A digest of the whole file so far, when the upload started at offset 0 and the server
    /// can hash files for comparison.
    let digest: ContentDigest?
    /// Set by `FileWriter.interruptStream` (from another thread).
    let isCancelled = Atomic<Bool>(false)
    /// When the upload last resumed, and how many resumes in a row got no byte through.
    var lastResume: Double = 0
    var fruitlessResumes = 0

    /// `spoolDirectory`: where sent bytes beyond the pipeline's memory are kept, on machines
    /// whose TCP buffers hold more (`UploadPipeline.defaultSpoolCapacity`).
    init(transfer: any RemoteUpload, target: String, placement: Placement, origin: UInt64, digest: ContentDigest?,
         spoolDirectory: String, position: UInt64? = nil)
    {
        self.currentTransfer = transfer
        let spoolCapacity = UploadPipeline.defaultSpoolCapacity
        let start = position ?? origin
        self.pipeline = UploadPipeline(
            startingAt: start, sink: UploadTransferSink(transfer),
            spool: spoolCapacity > 0 ? UploadSpool(capacity: spoolCapacity, directory: spoolDirectory) : nil)
        self.target = target
        self.placement = placement
        self.origin = origin
        self.position = start
        self.digest = digest
    }
}

/// An upload finished before its file was complete; APPE to `target` continues it.
struct SuspendedUpload {
    let target: String
    let placement: Placement
    let position: UInt64
    let digest: ContentDigest?

    init(_ stream: UploadStream) {
        target = stream.target
        placement = stream.placement
        position = stream.position
        digest = stream.digest
    }
}

/// An upload whose bytes are all on the server, not yet verified or placed.
struct CompletedUpload {
    /// Where the whole content can be had again, for a second try after a mismatch.
    enum ResendSource {
        case none
        /// The content is empty.
        case empty
        case local(StagedFile)
        /// The stream's pipeline, which still holds every byte from offset 0.
        case pipeline(UploadPipeline)
    }

    var target: String
    var placement: Placement
    var size: UInt64
    var digest: FileDigest?
    var resendSource: ResendSource

    init(target: String, placement: Placement, size: UInt64, digest: FileDigest?, resendSource: ResendSource) {
        self.target = target
        self.placement = placement
        self.size = size
        self.digest = digest
        self.resendSource = resendSource
    }

    init(_ stream: UploadStream) {
        target = stream.target
        placement = stream.placement
        size = stream.position
        digest = stream.digest.map { FileDigest(algorithm: $0.algorithm, hex: $0.finish()) }
        resendSource = stream.origin == 0 && stream.pipeline.heldFrom(0) ? .pipeline(stream.pipeline) : .none
    }

    init(_ suspended: SuspendedUpload) {
        target = suspended.target
        placement = suspended.placement
        size = suspended.position
        digest = suspended.digest.map { FileDigest(algorithm: $0.algorithm, hex: $0.finish()) }
        resendSource = .none
    }
}
