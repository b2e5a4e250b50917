import FTPClient
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// Where a pipeline's bytes go: the data connection of a STOR or APPE (tests use fakes).
protocol UploadSink: AnyObject {
    /// Sends all of `bytes`, or throws.
    func write(_ bytes: UnsafeRawBufferPointer) throws(FTPError)
}

/// A remote store's upload as a pipeline's sink.
final class UploadTransferSink: UploadSink {
    let upload: any RemoteUpload

    init(_ upload: any RemoteUpload) {
        self.upload = upload
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(FTPError) {
        try upload.write(bytes)
    }
}

/// The bytes of one streaming upload between the writer and the data connection: writes are
/// copied in and return at once, while a sender thread pushes them into the socket, so the
/// program writing the file and the network work at the same time.
///
/// One ring buffer of fixed `capacity`, allocated on first use (pages are only touched as
/// bytes arrive, so a small file costs a few pages), holds by file offset:
/// - `[sentEnd, acceptedEnd)`: accepted from the writer, not yet handed to the socket
///   (at most `maxPending` bytes; a writer waits for room beyond that);
/// - `[retainedStart, sentEnd)`: already sent, kept for as long as room allows (at least
///   `capacity - maxPending` bytes) because a dropped connection may have lost them in the
///   kernel's or the server's buffers: after the server says how much it has, `restart`
///   rewinds to there and sends everything from that offset again on a new connection.
/// Memory is bounded by `capacity` whatever the file's size.
///
/// A send that fails stops the sender and is kept as `failure`; nothing more is sent until the
/// owner (holding the `FileWriter`'s lock) resumes the upload with `restart` or gives it up.
/// The owner touches the sink itself (to finish or abort the transfer) only after `drain` or
/// `cancel` returned, when no sender is running.
///
/// Lock order: the owning `FileWriter`'s lock may be held when taking `lock`. The sender takes
/// only `lock`, and never holds it while sending.
final class UploadPipeline: @unchecked Sendable {
    /// Unsent bytes a writer may get ahead by: enough to keep the socket busy while the program
    /// produces the next writes (FUSE sends at most 1 MiB at a time).
    static let defaultMaxPending = 2 << 20
    /// Sent bytes kept in memory for a resume: what sat in our send buffer and in the server's
    /// receive buffer when the server dropped the connection is lost, so keep more than both
    /// can hold: the kernel's send buffer (4 MiB at most by default) plus a receive buffer,
    /// which Linux grows to `tcp_rmem`'s maximum (6 MiB by Debian's default).
    static let defaultRetained = 16 << 20
    /// Sent bytes kept on disk beyond those (see `UploadSpool`), on machines whose TCP buffers
    /// hold more: tuned for fast networks (32 MiB receive buffers), a lagging loopback server
    /// really held 28 MB when it dropped the connection. A server tuned like this machine is
    /// the common case, and the loopback one.
    static let defaultSpoolCapacity = spoolBytes(forBuffers: TCPBufferLimits.current)
    static let defaultCapacity = defaultMaxPending + defaultRetained

    /// What a sender and a receiver buffer at their largest hold, plus a margin, beyond
    /// `defaultRetained`; in all at most 64 MiB.
    static func spoolBytes(forBuffers limits: TCPBufferLimits?) -> Int {
        let buffers = limits.map { $0.largestSendBuffer + $0.largestReceiveBuffer } ?? 0
        return max(0, min(buffers + (1 << 20), 64 << 20) - defaultRetained)
    }

    let capacity: Int
    let maxPending: Int
    /// While no more than this many bytes were accepted, a writer finding the pipeline empty and
    /// idle sends its bytes itself: a small file then needs no other thread at all.
    let inlineLimit: UInt64
    /// The most one send hands to the socket, so room for the writer comes back in steps.
    let chunkSize: Int

    private let lock = ConditionLock()
    private var storage: UnsafeMutableRawPointer?
    private var sink: any UploadSink
    /// Where sent bytes go when the ring needs their room: [spool.start, retainedStart).
    /// Only the owner (in `accept`, `heldFrom` and `restart`) touches it.
    private let spool: UploadSpool?
    /// The file offset where the pipeline started.
    private let origin: UInt64
    private(set) var retainedStart: UInt64
    private(set) var sentEnd: UInt64
    private(set) var acceptedEnd: UInt64
    /// A sender (a worker thread, or the writer itself) is running.
    private var sending = false
    private var stopping = false
    private var storedFailure: FTPError?
    private var storedLastProgress: Double

    init(startingAt offset: UInt64, sink: any UploadSink, capacity: Int = UploadPipeline.defaultCapacity, maxPending: Int = UploadPipeline.defaultMaxPending,
         inlineLimit: UInt64 = 256 << 10, chunkSize: Int = 512 << 10, spool: UploadSpool? = nil)
    {
        precondition(maxPending > 0 && maxPending < capacity, "maxPending must leave room for a retained tail")
        self.spool = spool
        self.capacity = capacity
        self.maxPending = maxPending
        self.inlineLimit = inlineLimit
        self.chunkSize = chunkSize
        self.sink = sink
        self.origin = offset
        self.retainedStart = offset
        self.sentEnd = offset
        self.acceptedEnd = offset
        self.storedLastProgress = MonotonicClock.now
    }

    deinit {
        if let storage { munmap(storage, capacity) }
    }

    /// The error of the send that stopped the sender, until `restart`.
    var failure: FTPError? { lock.withLock { storedFailure } }

    /// When bytes last went out (resuming is worth it while this is recent).
    var lastProgress: Double { lock.withLock { storedLastProgress } }

    /// `cancel` was called (and no `restart` since).
    var isStopping: Bool { lock.withLock { stopping } }

    /// Bytes accepted and not yet handed to the socket.
    var pendingCount: Int { lock.withLock { Int(acceptedEnd - sentEnd) } }

    /// Copies `bytes` in, waiting for room while more than `maxPending` bytes are unsent, and
    /// makes sure a sender runs. Returns how many bytes were accepted: all of them, or fewer
    /// (possibly none) when a send failed (see `failure`) or the pipeline was cancelled;
    /// accepted bytes are the pipeline's to deliver or report lost.
    func accept(_ bytes: UnsafeRawBufferPointer) -> Int {
        var done = 0
        var inline = false
        lock.lock()
        if stopping && storedFailure == nil { storedFailure = Self.cancelled }
        if storage == nil && storedFailure == nil {
            lock.unlock()
            mapStorage()
            lock.lock()
        }
        while done < bytes.count {
            while storedFailure == nil && !stopping && Int(acceptedEnd - sentEnd) >= maxPending {
                lock.wait()
            }
            if stopping && storedFailure == nil { storedFailure = Self.cancelled }
            if storedFailure != nil { break }
            let piece = min(bytes.count - done, maxPending - Int(acceptedEnd - sentEnd))
            let end = acceptedEnd + UInt64(piece)
            // Make room by forgetting the oldest sent bytes (never unsent ones: pending stays
            // below maxPending < capacity), or moving them to the spool.
            var evicted: Range<UInt64>?
            if end - retainedStart > UInt64(capacity) {
                evicted = retainedStart..<(end - UInt64(capacity))
                retainedStart = end - UInt64(capacity)
            }
            let start = acceptedEnd
            lock.unlock()
            if let spool, let evicted { spoolOut(evicted, to: spool) }
            // The sender reads only [sentEnd, acceptedEnd) and nobody else writes: no lock needed
            // while copying.
            copyIn(UnsafeRawBufferPointer(rebasing: bytes[done..<(done + piece)]), at: start)
            lock.lock()
            acceptedEnd = end
            done += piece
            if !sending {
                sending = true
                if done == bytes.count && acceptedEnd - origin <= inlineLimit {
                    inline = true
                } else {
                    lock.unlock()
                    WorkerThreads.shared.run { [self] in sendLoop() }
                    lock.lock()
                }
            }
        }
        lock.unlock()
        if inline { sendLoop() }
        return done
    }

    /// Waits until everything accepted was handed to the socket and no sender runs, or a send
    /// failed; throws that failure (`cancelled` after `cancel`).
    func drain() throws(FTPError) {
        lock.lock()
        defer { lock.unlock() }
        while sending || (storedFailure == nil && !stopping && acceptedEnd != sentEnd) {
            lock.wait()
        }
        if stopping && storedFailure == nil { storedFailure = Self.cancelled }
        if let storedFailure { throw storedFailure }
    }

    /// Stops sending after the current chunk and waits until no sender runs; nothing more goes
    /// out (the owner then aborts the transfer).
    func cancel() {
        lock.lock()
        defer { lock.unlock() }
        stopping = true
        lock.broadcast()
        while sending { lock.wait() }
    }

    /// Stops sending after the current chunk and waits at most `seconds` for the sender to
    /// stop; returns whether it did (a sender blocked in a send to a stalled server does not,
    /// until its transfer is interrupted).
    func cancel(waitingAtMost seconds: Double) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        stopping = true
        lock.broadcast()
        let deadline = MonotonicClock.now + seconds
        while sending {
            let left = deadline - MonotonicClock.now
            if left <= 0 { return false }
            lock.wait(seconds: left)
        }
        return true
    }

    /// From any thread, without waiting: nothing more is sent, and a writer waiting for room or
    /// for the pipeline to drain wakes with `cancelled`. (A sender blocked inside a send stays
    /// there until its transfer is interrupted.)
    func cancelNow() {
        lock.withLock {
            stopping = true
            lock.broadcast()
        }
    }

    /// The failure of a cancelled pipeline.
    static let cancelled = FTPError.io(errno: ECANCELED, context: "upload cancelled")

    /// Continues after a failure on a new sink, from file offset `offset` (what the server
    /// has): everything from there is sent again. Returns false, changing nothing, when the
    /// bytes from `offset` on are no longer all held, or `offset` is past what was accepted.
    /// (`offset` may be past `sentEnd`: a chunk whose send failed partway may have arrived in
    /// part.)
    /// Bytes the spool holds are sent from there first, on this thread; when that send fails,
    /// the failure is kept as from any send (the owner resumes again).
    func restart(from offset: UInt64, on newSink: any UploadSink) -> Bool {
        guard heldFrom(offset) else { return false }
        let memoryStart = lock.withLock { retainedStart }
        var resumeAt = offset
        if offset < memoryStart, let spool {
            do throws(FTPError) {
                try replay(offset..<memoryStart, from: spool, to: newSink)
                resumeAt = memoryStart
            } catch {
                lock.withLock {
                    sink = newSink
                    storedFailure = error
                    stopping = false
                }
                return true
            }
        }
        let start = lock.withLock { () -> Bool in
            while sending { lock.wait() }  // a cancelled sender finishes its send first
            sink = newSink
            sentEnd = resumeAt
            storedFailure = nil
            stopping = false
            sending = acceptedEnd > sentEnd
            return sending
        }
        if start { WorkerThreads.shared.run { [self] in sendLoop() } }
        return true
    }

    /// Whether `restart(from: offset, ...)` can work: every byte from `offset` on is held, in
    /// memory or in memory and the spool.
    func heldFrom(_ offset: UInt64) -> Bool {
        let (memoryStart, accepted) = lock.withLock { (retainedStart, acceptedEnd) }
        guard offset <= accepted else { return false }
        if offset >= memoryStart { return true }
        guard let spool, !spool.isBroken else { return false }
        return offset >= spool.start && spool.end == memoryStart
    }

    /// Hands the bytes held from file offset `start` to the end of what was accepted to `body`,
    /// in order, a piece at a time with the file offset of each (spooled bytes through a
    /// buffer), until `body` returns false. Returns false when they are not all held or `body`
    /// stopped. For the owner only, while no sender runs (after `drain` or `cancel`).
    func withHeldBytes(from start: UInt64, _ body: (UnsafeRawBufferPointer, UInt64) -> Bool) -> Bool {
        guard heldFrom(start) else { return false }
        let (memoryStart, accepted) = lock.withLock { (retainedStart, acceptedEnd) }
        var position = start
        if position < memoryStart, let spool {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
            defer { buffer.deallocate() }
            while position < memoryStart {
                let count = min(chunkSize, Int(memoryStart - position))
                let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
                guard spool.read(into: piece, at: position), body(UnsafeRawBufferPointer(piece), position) else {
                    return false
                }
                position += UInt64(count)
            }
        }
        guard let storage else { return position == accepted }
        while position < accepted {
            let index = Int(position % UInt64(capacity))
            let count = min(Int(accepted - position), capacity - index)
            guard body(UnsafeRawBufferPointer(start: storage + index, count: count), position) else { return false }
            position += UInt64(count)
        }
        return true
    }

    /// The bytes held from file offset `start` to the end of what was accepted, for tests and
    /// diagnostics; nil when they are not all held.
    func heldBytes(from start: UInt64) -> [UInt8]? {
        var bytes: [UInt8] = []
        return withHeldBytes(from: start) { piece, _ in
            bytes.append(contentsOf: piece)
            return true
        } ? bytes : nil
    }

    // MARK: - Private

    /// Copies sent bytes from the ring to the spool before the ring reuses their room (only the
    /// owner writes the ring, and it is here: they cannot change meanwhile).
    private func spoolOut(_ range: Range<UInt64>, to spool: UploadSpool) {
        let ring = ringStorage()
        var position = range.lowerBound
        while position < range.upperBound {
            let index = Int(position % UInt64(capacity))
            let count = min(Int(range.upperBound - position), capacity - index)
            spool.append(UnsafeRawBufferPointer(start: ring + index, count: count), at: position)
            position += UInt64(count)
        }
    }

    /// Sends the spooled bytes of `range` to `sink`, a chunk at a time.
    private func replay(_ range: Range<UInt64>, from spool: UploadSpool, to sink: any UploadSink) throws(FTPError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var position = range.lowerBound
        while position < range.upperBound {
            let count = min(chunkSize, Int(range.upperBound - position))
            let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
            guard spool.read(into: chunk, at: position) else {
                throw .io(errno: EIO, context: "reading the upload's spool file")
            }
            try sink.write(UnsafeRawBufferPointer(chunk))
            position += UInt64(count)
        }
        lock.withLock { storedLastProgress = MonotonicClock.now }
    }

    private func copyIn(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) {
        guard bytes.count > 0 else { return }
        let ring = ringStorage()
        let index = Int(offset % UInt64(capacity))
        let first = min(bytes.count, capacity - index)
        (ring + index).copyMemory(from: bytes.baseAddress!, byteCount: first)
        if first < bytes.count {
            ring.copyMemory(from: bytes.baseAddress! + first, byteCount: bytes.count - first)
        }
    }

    /// The ring, mapped by the first `accept` (`mapStorage`).
    private func ringStorage() -> UnsafeMutableRawPointer {
        storage!
    }

    /// Maps the ring on first use: anonymous pages cost memory only once written, and go back
    /// to the system when the pipeline ends. Without memory for it, the upload fails (ENOMEM)
    /// rather than the daemon.
    private func mapStorage() {
        let mapped = mmap(nil, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        let code = errno
        lock.withLock {
            if let mapped, mapped != MAP_FAILED {
                storage = mapped
            } else {
                storedFailure = .io(errno: code, context: "mapping \(capacity) bytes for an upload buffer")
            }
        }
    }

    /// Hands the pending bytes to the sink until none are left, a send fails, or `cancel`.
    private func sendLoop() {
        lock.lock()
        while !stopping && storedFailure == nil && acceptedEnd > sentEnd {
            let start = sentEnd
            let index = Int(start % UInt64(capacity))
            let count = min(Int(acceptedEnd - start), capacity - index, chunkSize)
            let chunk = UnsafeRawBufferPointer(start: storage! + index, count: count)
            let sink = self.sink
            lock.unlock()
            // The writer never overwrites [sentEnd, acceptedEnd): safe to read unlocked.
            let outcome = Result { () throws(FTPError) in try sink.write(chunk) }
            lock.lock()
            switch outcome {
            case .success:
                sentEnd = start + UInt64(count)
                storedLastProgress = MonotonicClock.now
            case .failure(let error):
                storedFailure = error
            }
            lock.broadcast()  // room for a waiting writer
        }
        sending = false
        lock.broadcast()  // drain, cancel, and writers waiting on a failure
        lock.unlock()
    }
}
