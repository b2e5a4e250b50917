import FTPClient
import FuseBridge
import ThreadSupport

/// Open files by handle.
///
/// Lock order: an `OpenFile`'s lock may be held while taking this table's lock, never the
/// reverse; the table's lock is never held during I/O.
final class OpenFileTable: @unchecked Sendable {
    private let lock = ConditionLock()
    private var files: [UInt64: OpenFile] = [:]
    private var nextHandle: UInt64 = 1

    func insert(_ make: (UInt64) -> OpenFile) -> OpenFile {
        lock.withLock {
            let handle = nextHandle
            nextHandle += 1
            let file = make(handle)
            files[handle] = file
            return file
        }
    }

    func file(_ handle: UInt64) -> OpenFile? {
        lock.withLock { files[handle] }
    }

    func remove(_ handle: UInt64) -> OpenFile? {
        lock.withLock { files.removeValue(forKey: handle) }
    }

    func removeAll() -> [OpenFile] {
        lock.withLock {
            let all = Array(files.values)
            files.removeAll()
            return all
        }
    }

    /// Points open files at or below `source` to their new paths.
    func rename(_ source: String, to destination: String, serverPath: (String) -> String) {
        let prefix = source + "/"
        let affected = lock.withLock { files.values.filter { $0.pathSnapshot == source || $0.pathSnapshot.hasPrefix(prefix) } }
        for file in affected {
            file.lock.withLock {
                let newPath = destination + file.path.dropFirst(source.count)
                file.move(to: newPath, serverPath: serverPath(newPath))
            }
        }
    }

    /// Open files at `path` that read only (no writer of their own).
    func readers(of path: String) -> [OpenFile] {
        lock.withLock { files.values.filter { $0.pathSnapshot == path && $0.writer == nil } }
    }

    /// Open files holding a read stream, least recently used first.
    func filesWithStreams() -> [OpenFile] {
        lock.withLock { Array(files.values) }
            .filter { $0.hasStream }
            .sorted { $0.lastUse < $1.lastUse }
    }
}

/// One open file: its attributes at open, and the read stream that serves it.
final class OpenFile: @unchecked Sendable {
    let handle: UInt64
    /// The path under the mountpoint, and on the server (guarded by `lock`; renames change them).
    var path: String
    var serverPath: String
    /// The writer, for a handle opened for writing.
    let writer: FileWriter?
    /// For a handle that only reads: the writer of its file, once the file's name was unlinked
    /// while that writer kept it open (the content then lives only there). Guarded by `lock`.
    var linkedWriter: FileWriter?
    /// For a handle that only reads: the hidden copy its file became when its name was
    /// unlinked while open (deleted when the last handle on it closes). Set before the
    /// handle is shared, or under `lock`.
    var hiddenCopy: HiddenCopy?
    /// Where the read stream's bytes come from, and the writer generation they belong to.
    var readSource: String?
    /// The writer generation the read stream and reorder buffer belong to.
    var readGeneration: UInt64 = 0
    /// Serialises reads of this handle: the kernel sends read-ahead requests in parallel and
    /// they all feed from one stream.
    let lock = ConditionLock()
    private(set) var attributes: FileAttributes
    /// Guarded by `lock`.
    var stream: ReadStream?
    var reorderBuffer: ReorderBuffer
    /// Where the server ended the transfer, once a stream reached it (guarded by `lock`).
    private(set) var endOfFile: UInt64?
    /// `path` and `serverPath` as last set, readable without `lock` (a hint for finding files
    /// to rename, and for release).
    var pathSnapshot: String
    var serverPathSnapshot: String
    /// Updated without `lock` by readers; only an ordering hint for reclaiming streams.
    private(set) var lastUse: Double = MonotonicClock.now
    private(set) var hasStream = false

    init(handle: UInt64, path: String, serverPath: String, attributes: FileAttributes, reorderBufferSize: Int,
         writer: FileWriter? = nil)
    {
        self.handle = handle
        self.path = path
        self.pathSnapshot = path
        self.serverPath = serverPath
        self.serverPathSnapshot = serverPath
        self.writer = writer
        self.attributes = attributes
        self.reorderBuffer = ReorderBuffer(capacity: reorderBufferSize)
    }

    func currentAttributes() -> FileAttributes {
        attributes
    }

    /// The file goes by another name (a rename, or hidden for its readers after an unlink; call
    /// with `lock` held).
    func move(to newPath: String, serverPath newServerPath: String) {
        path = newPath
        pathSnapshot = newPath
        serverPath = newServerPath
        serverPathSnapshot = newServerPath
    }

    /// The server ended the file earlier than its attributes said (call with `lock` held).
    func correctSize(to size: UInt64) {
        attributes.size = size
    }

    func touch() { lastUse = MonotonicClock.now }

    /// Offsets of the reads that have arrived and not finished (with how many at each), noted
    /// before they wait for `lock`: a read can tell that an earlier one is on its way.
    private let arrivalsLock = ConditionLock()
    private var arrivals: [UInt64: Int] = [:]

    func arrive(at offset: UInt64) {
        arrivalsLock.withLock { arrivals[offset, default: 0] += 1 }
    }

    func depart(from offset: UInt64) {
        arrivalsLock.withLock {
            if let count = arrivals[offset], count > 1 { arrivals[offset] = count - 1 } else { arrivals[offset] = nil }
        }
    }

    /// Whether a read that has arrived and not finished starts before `position`, no further
    /// than `window` before it.
    func hasEarlierArrival(before position: UInt64, within window: UInt64) -> Bool {
        arrivalsLock.withLock { arrivals.keys.contains { $0 < position && position - $0 <= window } }
    }

    /// The last read that failed, and when (guarded by `lock`).
    private var lastFailure: (time: Double, errno: Errno)?

    /// Reads queue on `lock` (the kernel sends several at once); when one fails after waiting
    /// out the timeout, those that were already queued fail with it instead of each waiting out
    /// the timeout again. Call with `lock` held.
    func throwFailure(since arrival: Double) throws(Errno) {
        if let lastFailure, lastFailure.time >= arrival { throw lastFailure.errno }
    }

    func recordFailure(_ errno: Errno) {
        lastFailure = (MonotonicClock.now, errno)
    }

    /// Streams a seek set aside, each still open where its reader left it, so that a reader
    /// coming back there (one handle read at several places at once: a media player, a zip
    /// reader, interleaved preads) goes on without a new RETR. Guarded by `lock`.
    private(set) var parkedStreams: [ReadStream] = []
    /// At most this many parked streams per file (each holds a connection).
    static let maximumParkedStreams = 2
    /// A parked stream unused this long has stopped paying off and is stopped; so is the
    /// oldest when a third would be parked (a random reader's streams go that way).
    static let parkedStreamLifetime = 5.0

    /// Replaces the stream (call with `lock` held).
    func setStream(_ newStream: ReadStream?) {
        stream = newStream
        hasStream = newStream != nil || !parkedStreams.isEmpty
    }

    /// A seek: parks the current stream, in case its reader comes back (call with `lock` held).
    func setStreamAside() {
        guard let current = stream else { return }
        guard !current.transfer.isFinished else {
            closeStream()
            return
        }
        current.lastUse = MonotonicClock.now
        parkedStreams.append(current)
        while parkedStreams.count > Self.maximumParkedStreams {
            parkedStreams.removeFirst().stop()
        }
        setStream(nil)
    }

    /// Makes a parked stream current when it serves `position` (standing at it, or at most
    /// `window` before it) and the current one does not; stops parked streams that have not
    /// been used for a while (call with `lock` held).
    func resumeParkedStream(for position: UInt64, window: UInt64) {
        let now = MonotonicClock.now
        parkedStreams.removeAll { parked in
            guard now - parked.lastUse > Self.parkedStreamLifetime else { return false }
            parked.stop()
            return true
        }
        defer { hasStream = stream != nil || !parkedStreams.isEmpty }
        func serves(_ candidate: ReadStream) -> Bool {
            candidate.position <= position && position - candidate.position <= window
        }
        if let current = stream, serves(current) { return }
        guard let index = parkedStreams.firstIndex(where: serves) else { return }
        let resumed = parkedStreams.remove(at: index)
        setStreamAside()
        setStream(resumed)
    }

    /// Stops the parked streams (call with `lock` held). Returns whether there were any.
    @discardableResult
    func stopParkedStreams() -> Bool {
        guard !parkedStreams.isEmpty else { return false }
        for parked in parkedStreams { parked.stop() }
        parkedStreams.removeAll()
        hasStream = stream != nil
        return true
    }

    /// Stops the stream and gives its connection back (call with `lock` held).
    func closeStream() {
        guard let current = stream else { return }
        setStream(nil)
        current.stop()
    }

    /// Forgets what was read from the server's old copy after the file changed or moved (call
    /// with `lock` held).
    func discardReadState(generation: UInt64, source: String?) {
        guard readGeneration != generation || readSource != source else { return }
        readGeneration = generation
        readSource = source
        closeStream()
        stopParkedStreams()
        reorderBuffer.removeAll()
        endOfFile = nil
    }

    /// The stream delivered its last byte at `offset` (call with `lock` held).
    func reachedEnd(at offset: UInt64) {
        endOfFile = offset
        closeStream()
    }

    /// Release: drop everything this handle holds.
    func close() {
        lock.withLock {
            closeStream()
            stopParkedStreams()
            reorderBuffer.removeAll()
        }
    }
}

/// A RETR that stays open across FUSE reads, and where it has got to.
final class ReadStream {
    let transfer: any RemoteDownload
    /// The file offset of the next byte the stream will deliver.
    var position: UInt64
    /// When it was last set aside (parked streams only).
    var lastUse: Double = 0

    init(transfer: any RemoteDownload, position: UInt64) {
        self.transfer = transfer
        self.position = position
    }

    /// Ends the transfer (aborting it when data is left) and gives its connection back.
    func stop() {
        transfer.abort()
    }
}

/// Data the stream delivered ahead of the request that wanted it: the kernel's parallel
/// read-ahead requests reach us out of order, and reading through a short gap is far cheaper
/// than restarting the transfer. Bounded: the oldest chunks go first.
struct ReorderBuffer {
    private struct Chunk {
        var offset: UInt64
        var bytes: [UInt8]
        var end: UInt64 { offset + UInt64(bytes.count) }
    }

    let capacity: Int
    private var chunks: [Chunk] = []
    private var size = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    var isEmpty: Bool { chunks.isEmpty }

    mutating func insert(offset: UInt64, bytes: [UInt8]) {
        guard !bytes.isEmpty, capacity > 0 else { return }
        chunks.append(Chunk(offset: offset, bytes: bytes))
        size += bytes.count
        while size > capacity, !chunks.isEmpty {
            size -= chunks.removeFirst().bytes.count
        }
    }

    /// Whether a chunk holds the byte at `offset`.
    func holds(_ offset: UInt64) -> Bool {
        chunks.contains { $0.offset <= offset && offset < $0.end }
    }

    /// Copies the bytes at `offset` into `destination` when a chunk holds them; returns how many.
    func copy(at offset: UInt64, into destination: UnsafeMutableRawBufferPointer) -> Int {
        for chunk in chunks where chunk.offset <= offset && offset < chunk.end {
            let start = Int(offset - chunk.offset)
            let count = min(destination.count, chunk.bytes.count - start)
            chunk.bytes.withUnsafeBytes { source in
                destination.baseAddress!.copyMemory(from: source.baseAddress! + start, byteCount: count)
            }
            return count
        }
        return 0
    }

    mutating func removeAll() {
        chunks.removeAll()
        size = 0
    }
}

/// The hidden copy a file became on the server when its name was unlinked while handles kept
/// it open (NFS's "silly rename"): those handles read on from it, and the last one to close
/// deletes it.
final class HiddenCopy: @unchecked Sendable {
    private let lock = ConditionLock()
    private var handles: Int

    init(handles: Int) {
        self.handles = handles
    }

    /// Drops one handle; true for the last.
    func release() -> Bool {
        lock.withLock {
            handles -= 1
            return handles == 0
        }
    }
}
