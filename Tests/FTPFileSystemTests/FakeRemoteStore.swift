import FTPClient
import FTPProtocol
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// An FTP server in memory, behind the `RemoteStore` seam, that fails any step on cue: the
/// file system's fault paths, driven deterministically and fast, without a network.
///
/// Refusals are real replies (`550 …` to `RNFR …`), so FTPClient's decision of what they mean
/// is part of what the tests drive. Uploads land in the file as they are written, as on a real
/// server: a broken upload leaves a partial file behind.
final class FakeRemoteStore: RemoteStore, @unchecked Sendable {
    struct Node {
        var isDirectory: Bool
        var data: [UInt8] = []
        var modified = FTPTimestamp(seconds: 1_700_000_000)
        var mode: UInt32 = 0o644
    }

    /// What a fault does.
    enum Failure: Sendable {
        /// The command is answered with this reply.
        case reply(Int, String)
        /// An upload's data connection breaks after this many bytes of it (they land).
        case dropUploadAfter(Int)
        /// An upload's bytes all land, but its final reply never comes (the wait times out).
        case withholdVerdict
        /// An upload's bytes all land, then the control connection drops before the verdict.
        case dropControlBeforeVerdict
        /// An upload's bytes all land, then it is refused with this reply.
        case refuseAtEnd(Int, String)
        /// An upload stops taking bytes (a stalled server) until interrupted.
        case stallUpload
        /// A download delivers only this many bytes, then ends normally.
        case shortDownload(Int)
        /// HASH answers a wrong digest.
        case wrongDigest
        /// After an upload's connection drops, this many of its last bytes land late: only
        /// after `seconds` (a server still writing what the old connection delivered).
        case lateBytes(count: Int, seconds: Double)
    }

    /// A failure for commands of `verb` whose path satisfies `matches`, `times` times (nil:
    /// always).
    struct Fault {
        var verb: String
        var matches: @Sendable (String) -> Bool
        var failure: Failure
        var times: Int?
    }

    let lock = ConditionLock()
    private(set) var nodes: [String: Node] = ["/": Node(isDirectory: true)]
    private var faults: [Fault] = []
    /// Every command received, as `VERB path`.
    private(set) var log: [String] = []
    var abilitiesValue = RemoteAbilities(canStatOnePath: true, hashAlgorithm: .sha256)
    /// Directories that can be entered, not listed.
    var dropBoxes: Set<String> = []
    var timeoutValue: Double = 2
    /// Servers like IIS: RNTO onto an existing file is refused.
    var renameOverwrites = true
    /// Uploads waiting in a stall right now (`.stallUpload`).
    var stalledUploads = 0
    private var clock: Int64 = 1_700_000_000

    var abilities: RemoteAbilities { lock.withLock { abilitiesValue } }
    var timeout: Double { timeoutValue }

    // MARK: - Setting up and looking

    func file(_ path: String, _ text: String) {
        file(path, Array(text.utf8))
    }

    func file(_ path: String, _ data: [UInt8]) {
        lock.withLock {
            makeParents(of: path)
            nodes[path] = Node(isDirectory: false, data: data, modified: tick())
        }
    }

    func directory(_ path: String) {
        lock.withLock {
            makeParents(of: path)
            nodes[path] = Node(isDirectory: true)
        }
    }

    func content(_ path: String) -> String? {
        lock.withLock { nodes[path].map { String(decoding: $0.data, as: UTF8.self) } }
    }

    func data(_ path: String) -> [UInt8]? {
        lock.withLock { nodes[path]?.data }
    }

    /// Names in `directory` (one level), sorted.
    func names(in directory: String) -> [String] {
        lock.withLock { children(of: directory).map(\.name).sorted() }
    }

    /// ftpfs's temporaries anywhere on the server.
    var temporaries: [String] {
        lock.withLock { nodes.keys.filter { FTPPath.lastComponent($0).hasPrefix(".ftpfs-") }.sorted() }
    }

    var commands: [String] { lock.withLock { log } }

    func fail(_ verb: String, _ failure: Failure, times: Int? = nil,
              where matches: @escaping @Sendable (String) -> Bool = { _ in true })
    {
        lock.withLock { faults.append(Fault(verb: verb, matches: matches, failure: failure, times: times)) }
    }

    /// Waits (at most 10 s) until an upload is stalled.
    func waitForStalledUpload() {
        lock.withLock {
            let deadline = MonotonicClock.now + 10
            while stalledUploads == 0 && MonotonicClock.now < deadline { lock.wait(seconds: 0.05) }
        }
    }

    func clearFaults() {
        lock.withLock { faults.removeAll() }
    }

    // MARK: - RemoteStore: queries

    func list(_ directory: String) throws(FTPError) -> DirectoryListing {
        let result: Result<DirectoryListing, FTPError> = lock.withLock {
            record("LIST", directory)
            if let failure = takeFault("LIST", directory), case .reply(let code, let text) = failure {
                return .failure(refusal("LIST", directory, code, text))
            }
            guard let node = nodes[directory], node.isDirectory else {
                return .failure(refusal("CWD", directory, 550, "No such file or directory."))
            }
            if dropBoxes.contains(directory) {
                return .failure(.listingRefused(directory: directory, reply: Reply(code: .fileUnavailable,
                                                                                 lines: ["550 Permission denied."])))
            }
            return .success(DirectoryListing(entries: children(of: directory), isTruncated: false, skippedLines: []))
        }
        return try result.get()
    }

    func stat(_ path: String) throws(FTPError) -> ListingEntry {
        try lock.withLock { () throws(FTPError) -> ListingEntry in
            record("MLST", path)
            try check("MLST", path)
            guard let node = visibleNode(path) else { throw refusal("MLST", path, 550, "No such file.") }
            return entry(FTPPath.lastComponent(path), node)
        }
    }

    func size(of path: String) throws(FTPError) -> UInt64 {
        try lock.withLock { () throws(FTPError) -> UInt64 in
            record("SIZE", path)
            try check("SIZE", path)
            guard let node = visibleNode(path), !node.isDirectory else { throw refusal("SIZE", path, 550, "No such file.") }
            return UInt64(node.data.count)
        }
    }

    func modificationTime(of path: String) throws(FTPError) -> FTPTimestamp {
        try lock.withLock { () throws(FTPError) -> FTPTimestamp in
            record("MDTM", path)
            try check("MDTM", path)
            guard let node = visibleNode(path) else { throw refusal("MDTM", path, 550, "No such file.") }
            return node.modified
        }
    }

    func sizeAndModificationTime(of path: String) throws(FTPError) -> (UInt64, FTPTimestamp?) {
        let size = try size(of: path)
        return (size, try? modificationTime(of: path))
    }

    func digest(of path: String, algorithm: HashAlgorithm) throws(FTPError) -> String {
        try lock.withLock { () throws(FTPError) -> String in
            record("HASH", path)
            let failure = takeFault("HASH", path)
            if case .reply(let code, let text) = failure { throw refusal("HASH", path, code, text) }
            guard let node = visibleNode(path), !node.isDirectory else { throw refusal("HASH", path, 550, "No such file.") }
            let digest = ContentDigest(algorithm)
            node.data.withUnsafeBytes { digest.update($0) }
            let hex = digest.finish()
            if case .wrongDigest = failure { return String(hex.reversed()) }
            return hex
        }
    }

    func enterDirectory(_ path: String) throws(FTPError) {
        try lock.withLock { () throws(FTPError) in
            record("CWD", path)
            try check("CWD", path)
            guard nodes[path]?.isDirectory == true else { throw refusal("CWD", path, 550, "No such directory.") }
        }
    }

    // MARK: - RemoteStore: changes

    func delete(_ path: String) throws(FTPError) {
        try lock.withLock { () throws(FTPError) in
            record("DELE", path)
            try check("DELE", path)
            guard let node = nodes[path], !node.isDirectory else { throw refusal("DELE", path, 550, "No such file.") }
            nodes[path] = nil
        }
    }

    func rename(_ source: String, to destination: String) throws(FTPError) {
        try lock.withLock { () throws(FTPError) in
            record("RNFR", source)
            record("RNTO", destination)
            try check("RNFR", source)
            guard let node = nodes[source] else { throw refusal("RNFR", source, 550, "No such file.") }
            try check("RNTO", destination)
            if nodes[destination] != nil && (!renameOverwrites || node.isDirectory) {
                throw refusal("RNTO", destination, 550, "Cannot create a file when that file already exists.")
            }
            guard nodes[FTPPath.parent(destination)]?.isDirectory == true else {
                throw refusal("RNTO", destination, 550, "No such directory.")
            }
            let prefix = source + "/"
            for (path, child) in nodes where path.hasPrefix(prefix) {
                nodes[path] = nil
                nodes[destination + path.dropFirst(source.count)] = child
            }
            nodes[source] = nil
            nodes[destination] = node
        }
    }

    func makeDirectory(_ path: String) throws(FTPError) {
        try lock.withLock { () throws(FTPError) in
            record("MKD", path)
            try check("MKD", path)
            guard nodes[path] == nil, nodes[FTPPath.parent(path)]?.isDirectory == true else {
                throw refusal("MKD", path, 550, "Create directory operation failed.")
            }
            nodes[path] = Node(isDirectory: true)
        }
    }

    func removeDirectory(_ path: String) throws(FTPError) {
        try lock.withLock { () throws(FTPError) in
            record("RMD", path)
            try check("RMD", path)
            guard nodes[path]?.isDirectory == true, children(of: path).isEmpty else {
                throw refusal("RMD", path, 550, "Remove directory operation failed.")
            }
            nodes[path] = nil
        }
    }

    func setModificationTime(_ time: FTPTimestamp, of path: String) throws(FTPError) {
        try lock.withLock { () throws(FTPError) in
            record("MFMT", path)
            try check("MFMT", path)
            guard nodes[path] != nil else { throw refusal("MFMT", path, 550, "No such file.") }
            nodes[path]?.modified = time
        }
    }

    func changeMode(_ mode: UInt32, of path: String) throws(FTPError) {
        try lock.withLock { () throws(FTPError) in
            record("SITE CHMOD", path)
            try check("SITE CHMOD", path)
            guard nodes[path] != nil else { throw refusal("SITE CHMOD", path, 550, "No such file.") }
            nodes[path]?.mode = mode
        }
    }

    func symlink(target: String, at path: String) throws(FTPError) {
        try lock.withLock { () throws(FTPError) in
            record("SITE SYMLINK", path)
            throw refusal("SITE SYMLINK", path, 500, "Unknown SITE command.")
        }
    }

    func serverCopy(from source: String, to destination: String) throws(FTPError) {
        try lock.withLock { () throws(FTPError) in
            record("SITE CPFR", source)
            throw refusal("SITE CPFR", source, 500, "Unknown SITE command.")
        }
    }

    // MARK: - RemoteStore: transfers

    func download(_ path: String, from offset: UInt64, deadline: Double) throws(FTPError) -> any RemoteDownload {
        try lock.withLock { () throws(FTPError) -> any RemoteDownload in
            record("RETR", path)
            let failure = takeFault("RETR", path)
            if case .reply(let code, let text) = failure { throw refusal("RETR", path, code, text) }
            guard let node = visibleNode(path), !node.isDirectory else { throw refusal("RETR", path, 550, "No such file.") }
            var data = node.data
            if case .shortDownload(let count) = failure { data = Array(data.prefix(count)) }
            return FakeDownload(Array(data.dropFirst(Int(min(offset, UInt64(data.count))))))
        }
    }

    func upload(_ path: String, appending: Bool, deadline: Double) throws(FTPError) -> any RemoteUpload {
        try lock.withLock { () throws(FTPError) -> any RemoteUpload in
            let verb = appending ? "APPE" : "STOR"
            record(verb, path)
            let failure = takeFault(verb, path)
            if case .reply(let code, let text) = failure { throw refusal(verb, path, code, text) }
            guard nodes[FTPPath.parent(path)]?.isDirectory == true else {
                throw refusal(verb, path, 553, "Could not create file.")
            }
            if nodes[path]?.isDirectory == true { throw refusal(verb, path, 550, "Is a directory.") }
            if !appending || nodes[path] == nil {
                nodes[path] = Node(isDirectory: false, modified: tick())
            }
            return FakeUpload(store: self, path: path, failure: failure)
        }
    }

    // MARK: - RemoteStore: running

    func idleLister() -> (any RemoteLister)? { nil }
    var hasWaiters: Bool { false }
    var maxConcurrentOperations: Int { 4 }
    var listsAheadSafely: Bool { false }
    func setStarvationHandler(_ handler: @escaping @Sendable () -> Bool) {}
    func startMaintenance() {}
    func shutdown() {}
    var connectionCounts: (open: Int, idle: Int, cap: Int) { (0, 0, 4) }

    // MARK: - For the transfers (called with `lock` held)

    func appendLanded(_ bytes: UnsafeRawBufferPointer, to path: String) {
        nodes[path]?.data.append(contentsOf: bytes)
        nodes[path]?.modified = tick()
    }

    func appendLate(_ bytes: [UInt8], to path: String, after seconds: Double) {
        let store = self
        WorkerThreads.shared.run {
            usleep(UInt32(seconds * 1_000_000))
            store.lock.withLock {
                store.nodes[path]?.data.append(contentsOf: bytes)
                store.lock.broadcast()
            }
        }
    }

    // MARK: - Private

    private func record(_ verb: String, _ path: String) {
        log.append(verb + " " + path)
    }

    private func check(_ verb: String, _ path: String) throws(FTPError) {
        if let failure = takeFault(verb, path), case .reply(let code, let text) = failure {
            throw refusal(verb, path, code, text)
        }
    }

    /// The next fault for `verb` and `path`, used up once.
    private func takeFault(_ verb: String, _ path: String) -> Failure? {
        guard let index = faults.firstIndex(where: { $0.verb == verb && $0.matches(path) }) else { return nil }
        let fault = faults[index]
        if let times = fault.times {
            if times <= 1 { faults.remove(at: index) } else { faults[index].times = times - 1 }
        }
        return fault.failure
    }

    private func refusal(_ verb: String, _ path: String, _ code: Int, _ text: String) -> FTPError {
        .reply(command: verb + " " + path, reply: Reply(code: ReplyCode(code), lines: ["\(code) \(text)"]))
    }

    private func visibleNode(_ path: String) -> Node? {
        if dropBoxes.contains(FTPPath.parent(path)) { return nil }
        return nodes[path]
    }

    private func children(of directory: String) -> [ListingEntry] {
        let prefix = directory == "/" ? "/" : directory + "/"
        return nodes.compactMap { path, node in
            guard path != directory, path.hasPrefix(prefix), !path.dropFirst(prefix.count).contains("/") else { return nil }
            return entry(String(path.dropFirst(prefix.count)), node)
        }.sorted { $0.name < $1.name }
    }

    private func entry(_ name: String, _ node: Node) -> ListingEntry {
        ListingEntry(name: name, kind: node.isDirectory ? .directory : .file,
                     size: node.isDirectory ? nil : UInt64(node.data.count), modified: node.modified, mode: node.mode)
    }

    private func makeParents(of path: String) {
        var parent = FTPPath.parent(path)
        while parent != "/" && nodes[parent] == nil {
            nodes[parent] = Node(isDirectory: true)
            parent = FTPPath.parent(parent)
        }
    }

    private func tick() -> FTPTimestamp {
        clock += 1
        return FTPTimestamp(seconds: clock)
    }
}

/// A download of a snapshot of a file.
final class FakeDownload: RemoteDownload {
    private let data: [UInt8]
    private var position = 0
    private(set) var isFinished = false

    init(_ data: [UInt8]) {
        self.data = data
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FTPError) -> Int {
        let count = min(buffer.count, data.count - position)
        if count == 0 {
            isFinished = true
            return 0
        }
        data.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + position, byteCount: count)
        }
        position += count
        return count
    }

    var canSplice: Bool { false }
    func splice(into pipe: Int32, count: Int) throws(FTPError) -> Int? { nil }
    func abort() { isFinished = true }
    func interrupt() {}
}

/// An upload into a `FakeRemoteStore` file, failing as its fault says.
final class FakeUpload: RemoteUpload, @unchecked Sendable {
    private let store: FakeRemoteStore
    private let path: String
    private let failure: FakeRemoteStore.Failure?
    private var sent = 0
    private(set) var isFinished = false
    private var interrupted = false
    private var broken = false

    init(store: FakeRemoteStore, path: String, failure: FakeRemoteStore.Failure?) {
        self.store = store
        self.path = path
        self.failure = failure
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(FTPError) {
        try store.lock.withLock { () throws(FTPError) in
            if broken || interrupted { throw .connectionClosed("(fake data connection broken)") }
            switch failure {
            case .stallUpload:
                store.stalledUploads += 1
                store.lock.broadcast()
                // A real socket gives up after the timeout; so does this one.
                let deadline = MonotonicClock.now + store.timeoutValue
                while !interrupted && MonotonicClock.now < deadline { store.lock.wait(seconds: 0.05) }
                store.stalledUploads -= 1
                if !interrupted { throw .timedOut("sending to the fake stalled server") }
                throw .connectionClosed("(fake stalled upload interrupted)")
            case .dropUploadAfter(let limit) where sent + bytes.count > limit:
                let landing = max(0, limit - sent)
                store.appendLanded(UnsafeRawBufferPointer(rebasing: bytes[0..<landing]), to: path)
                sent += landing
                broken = true
                throw .connectionClosed("(fake data connection dropped)")
            case .lateBytes(let count, let seconds) where sent + bytes.count > count && !broken:
                // The connection drops now; its last `count` bytes land late.
                let landing = bytes.count
                let early = max(0, landing - count)
                store.appendLanded(UnsafeRawBufferPointer(rebasing: bytes[0..<early]), to: path)
                store.appendLate(Array(bytes[early...]), to: path, after: seconds)
                sent += landing
                broken = true
                throw .connectionClosed("(fake connection dropped, bytes still being written)")
            default:
                store.appendLanded(bytes, to: path)
                sent += bytes.count
            }
        }
    }

    func finish() throws(FTPError) {
        isFinished = true
        switch failure {
        case .withholdVerdict:
            throw .timedOut("waiting for the fake server's verdict")
        case .dropControlBeforeVerdict:
            throw .connectionClosed("(fake control connection dropped before the verdict)")
        case .refuseAtEnd(let code, let text):
            throw .reply(command: "STOR " + path, reply: Reply(code: ReplyCode(code), lines: ["\(code) \(text)"]))
        case .stallUpload:
            throw .connectionClosed("(fake stalled upload)")
        default:
            if broken { throw .connectionClosed("(fake data connection broken)") }
        }
    }

    func abort() { isFinished = true }

    func interrupt() {
        store.lock.withLock {
            interrupted = true
            store.lock.broadcast()
        }
    }
}
