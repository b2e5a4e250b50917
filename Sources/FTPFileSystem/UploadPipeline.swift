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

extension DataTransfer: UploadSink {}

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
    /// (possibly none) when a send failed (see `failure`); accepted bytes are the pipeline's to
    /// deliver or report lost. Not after `cancel` (until `restart`).
    func accept(_ bytes: UnsafeRawBufferPointer) -> Int {
        var done = 0
        var inline = false
        lock.lock()
        precondition(!stopping, "accept after cancel")
        while done < bytes.count {
            while storedFailure == nil && Int(acceptedEnd - sentEnd) >= maxPending {
                lock.wait()
            }
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
                    UploadSenders.shared.run { [self] in sendLoop() }
                    lock.lock()
                }
            }
        }
        lock.unlock()
        if inline { sendLoop() }
        return done
    }

    /// Waits until everything accepted was handed to the socket and no sender runs, or a send
    /// failed; throws that failure. Not after `cancel` (until `restart`).
    func drain() throws(FTPError) {
        lock.lock()
        defer { lock.unlock() }
        precondition(!stopping, "drain after cancel")
        while sending || (storedFailure == nil && acceptedEnd != sentEnd) {
            lock.wait()
        }
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
            precondition(!sending, "restart while a sender runs")
            sink = newSink
            sentEnd = resumeAt
            storedFailure = nil
            stopping = false
            sending = acceptedEnd > sentEnd
            return sending
        }
        if start { UploadSenders.shared.run { [self] in sendLoop() } }
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

    /// The bytes held from file offset `start` to the end of what was accepted, for tests and
    /// diagnostics; nil when they are not all held.
    func heldBytes(from start: UInt64) -> [UInt8]? {
        guard heldFrom(start) else { return nil }
        var spooled: [UInt8] = []
        let memoryStart = lock.withLock { retainedStart }
        if start < memoryStart, let spool {
            spooled = [UInt8](repeating: 0, count: Int(memoryStart - start))
            guard spooled.withUnsafeMutableBytes({ spool.read(into: $0, at: start) }) else { return nil }
        }
        return lock.withLock { () -> [UInt8]? in
            guard let storage else { return spooled }
            return spooled + (max(start, retainedStart)..<acceptedEnd).map {
                storage.load(fromByteOffset: Int($0 % UInt64(capacity)), as: UInt8.self)
            }
        }
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

    /// The ring, mapped on first use: anonymous pages cost memory only once written, and go
    /// back to the system when the pipeline ends.
    private func ringStorage() -> UnsafeMutableRawPointer {
        if let storage { return storage }
        let mapped = mmap(nil, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapped, mapped != MAP_FAILED else {
            fatalError("cannot map \(capacity) bytes for an upload buffer: \(String(cString: strerror(errno)))")
        }
        storage = mapped
        return mapped
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

/// Threads that run upload senders: started when needed, reused, and ended after a while idle,
/// so a burst of uploads does not pay for a thread each and an idle mount keeps none.
final class UploadSenders: @unchecked Sendable {
    static let shared = UploadSenders()

    private let lock = ConditionLock()
    private var jobs: [() -> Void] = []
    private var idle = 0
    private let idleSeconds = 10.0

    func run(_ job: @escaping () -> Void) {
        let needsThread = lock.withLock { () -> Bool in
            jobs.append(job)
            // Every queued job needs a thread of its own: a sender may run for a whole upload.
            if jobs.count > idle { return true }
            lock.broadcast()
            return false
        }
        if needsThread { startThread() }
    }

    private func startThread() {
        if DetachedThread.start({ [self] in work(once: false) }) != 0 {
            // No thread to be had: run the job here rather than leave a writer waiting forever.
            work(once: true)
        }
    }

    private func work(once: Bool) {
        lock.lock()
        while true {
            let since = MonotonicClock.now
            while jobs.isEmpty {
                let waited = MonotonicClock.now - since
                if once || waited >= idleSeconds {
                    lock.unlock()
                    return
                }
                idle += 1
                lock.wait(seconds: idleSeconds - waited)
                idle -= 1
            }
            let job = jobs.removeFirst()
            lock.unlock()
            job()
            lock.lock()
        }
    }
}
