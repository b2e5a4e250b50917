import FTPProtocol
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// The `RemoteStore` of a real server: each operation borrows a session from the pool, and
/// each transfer keeps one until it ends.
public final class PooledRemoteStore: RemoteStore, @unchecked Sendable {
    public let pool: ConnectionPool

    public init(pool: ConnectionPool) {
        self.pool = pool
    }

    public var abilities: RemoteAbilities {
        let features = pool.features
        let known = pool.capabilities.snapshot
        let hash: HashAlgorithm? = known.hashRefused ? nil : pool.firstSessionHashAlgorithm
        return RemoteAbilities(canStatOnePath: features.supportsMLST, hashAlgorithm: hash,
                               canReportSize: features.supportsSIZE, canReportTime: features.supportsMDTM,
                               mayCopyOnServer: !known.siteCopyRefused, mayRename: !known.renameUnsupported)
    }

    public var timeout: Double { pool.configuration.timeout }

    // MARK: - Queries

    public func list(_ directory: String) throws(FTPError) -> DirectoryListing {
        try pool.withSession { (session) throws(FTPError) in try session.list(directory: directory) }
    }

    public func stat(_ path: String) throws(FTPError) -> ListingEntry {
        try pool.withSession { (session) throws(FTPError) in try session.machineListing(of: path) }
    }

    public func size(of path: String) throws(FTPError) -> UInt64 {
        try pool.withSession { (session) throws(FTPError) in try session.size(of: path) }
    }

    public func modificationTime(of path: String) throws(FTPError) -> FTPTimestamp {
        try pool.withSession { (session) throws(FTPError) in try session.modificationTime(of: path) }
    }

    public func sizeAndModificationTime(of path: String) throws(FTPError) -> (UInt64, FTPTimestamp?) {
        try pool.withSession { (session) throws(FTPError) in try session.sizeAndModificationTime(of: path) }
    }

    public func digest(of path: String, algorithm: HashAlgorithm) throws(FTPError) -> String {
        try pool.withSession { (session) throws(FTPError) in
            guard let method = session.remoteHashMethod(for: algorithm) else {
                throw .reply(command: "HASH " + path,
                             reply: Reply(code: .commandNotImplemented, lines: ["502 no \(algorithm.rawValue) hash offered"]))
            }
            return try session.remoteHash(of: path, method: method)
        }
    }

    public func enterDirectory(_ path: String) throws(FTPError) {
        try pool.withSession { (session) throws(FTPError) in try session.changeDirectory(path) }
    }

    // MARK: - Changes

    public func delete(_ path: String) throws(FTPError) {
        try pool.withSession(idempotent: false) { (session) throws(FTPError) in try session.delete(path) }
    }

    public func rename(_ source: String, to destination: String) throws(FTPError) {
        try pool.withSession(idempotent: false) { (session) throws(FTPError) in try session.rename(source, to: destination) }
    }

    public func makeDirectory(_ path: String) throws(FTPError) {
        try pool.withSession(idempotent: false) { (session) throws(FTPError) in try session.makeDirectory(path) }
    }

    public func removeDirectory(_ path: String) throws(FTPError) {
        try pool.withSession(idempotent: false) { (session) throws(FTPError) in try session.removeDirectory(path) }
    }

    public func setModificationTime(_ time: FTPTimestamp, of path: String) throws(FTPError) {
        try pool.withSession { (session) throws(FTPError) in try session.setModificationTime(time, of: path) }
    }

    public func changeMode(_ mode: UInt32, of path: String) throws(FTPError) {
        try pool.withSession { (session) throws(FTPError) in try session.changeMode(mode, of: path) }
    }

    public func symlink(target: String, at path: String) throws(FTPError) {
        try pool.withSession(idempotent: false) { (session) throws(FTPError) in try session.symlink(target: target, at: path) }
    }

    public func serverCopy(from source: String, to destination: String) throws(FTPError) {
        try pool.withSession(idempotent: false) { (session) throws(FTPError) in
            try session.serverCopy(from: source, to: destination)
        }
    }

    // MARK: - Transfers

    public func download(_ path: String, from offset: UInt64, deadline: Double) throws(FTPError) -> any RemoteDownload {
        try startTransfer(deadline: deadline) { (session) throws(FTPError) in try session.retrieve(path, from: offset) }
    }

    public func upload(_ path: String, appending: Bool, deadline: Double) throws(FTPError) -> any RemoteUpload {
        try startTransfer(deadline: deadline) { (session) throws(FTPError) in
            appending ? try session.append(path) : try session.store(path)
        }
    }

    /// Starts a transfer on a borrowed session, which it keeps. A session that turns out to be
    /// lost or out of step before the transfer is under way is replaced and the start tried
    /// again, until `deadline`: nothing has been transferred yet, and a STOR or APPE that a
    /// broken session may have begun has sent no byte.
    private func startTransfer(deadline: Double,
                               _ start: (FTPSession) throws(FTPError) -> DataTransfer) throws(FTPError) -> PooledTransfer
    {
        var backoff = 0.05
        while true {
            let session = try pool.checkout(deadline: deadline)
            do {
                return PooledTransfer(try start(session), pool: pool)
            } catch {
                pool.checkin(session)
                guard error.isConnectionLost, MonotonicClock.now + backoff < deadline else { throw error }
                pool.logger.info("connection lost before a transfer started (\(error)); starting it on a new connection")
                usleep(UInt32(backoff * 1_000_000))
                backoff = min(backoff * 4, 1)
            }
        }
    }

    // MARK: - Running

    public func idleLister() -> (any RemoteLister)? {
        pool.checkoutIfAvailable().map { PooledLister(session: $0, pool: pool) }
    }

    public var hasWaiters: Bool { pool.hasWaiters }
    public var maxConcurrentOperations: Int { pool.maxConnections }

    public var listsAheadSafely: Bool {
        if case .active = pool.configuration.dataConnectionMode { return false }
        return true
    }

    public func setStarvationHandler(_ handler: @escaping @Sendable () -> Bool) {
        pool.setStarvationHandler(handler)
    }

    public func startMaintenance() { pool.startMaintenance() }
    public func shutdown() { pool.shutdown() }
    public var connectionCounts: (open: Int, idle: Int, cap: Int) { pool.counts }
}

/// A session borrowed for listings ahead of a walk.
final class PooledLister: RemoteLister {
    private let session: FTPSession
    private let pool: ConnectionPool
    private var returned = false

    init(session: FTPSession, pool: ConnectionPool) {
        self.session = session
        self.pool = pool
    }

    deinit { giveBack() }

    func list(_ directory: String) throws(FTPError) -> DirectoryListing {
        try session.list(directory: directory)
    }

    func giveBack() {
        guard !returned else { return }
        returned = true
        pool.checkin(session)
    }
}

/// A transfer on a pooled session: the session goes back to the pool exactly once, when the
/// transfer ends (its last read, `finish`, or `abort`).
final class PooledTransfer: RemoteDownload, RemoteUpload {
    private let transfer: DataTransfer
    private let pool: ConnectionPool
    private var returned = false

    init(_ transfer: DataTransfer, pool: ConnectionPool) {
        self.transfer = transfer
        self.pool = pool
        if transfer.isFinished { giveBack() }  // an empty listing or file answered at once
    }

    deinit {
        if !returned { abort() }
    }

    var isFinished: Bool { returned }

    private func giveBack() {
        guard !returned else { return }
        returned = true
        pool.checkin(transfer.session)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FTPError) -> Int {
        guard !returned else { return 0 }
        let count = try transfer.read(into: buffer)
        if count == 0 { giveBack() }
        return count
    }

    var canSplice: Bool { !returned && transfer.canSplice }

    func splice(into pipe: Int32, count: Int) throws(FTPError) -> Int? {
        guard !returned else { return 0 }
        let moved = try transfer.splice(into: pipe, count: count)
        if moved == 0 { giveBack() }
        return moved
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(FTPError) {
        guard !returned else { throw .protocolViolation("write on a finished upload") }
        try transfer.write(bytes)
    }

    func finish() throws(FTPError) {
        guard !returned else { return }
        defer { giveBack() }
        try transfer.finish()
    }

    func abort() {
        guard !returned else { return }
        if !transfer.isFinished { transfer.abort() }
        giveBack()
    }

    func interrupt() {
        transfer.interrupt()
    }
}
