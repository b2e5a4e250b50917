import FTPProtocol
import Logging
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// Hands out logged-in sessions, at most `maxConnections` at a time, and keeps them working
/// through what real servers and networks do to them.
///
/// - Each operation borrows one session and returns it, so parallel readers proceed in parallel.
/// - An idle session is checked before reuse (a dropped one is replaced without a round trip)
///   and closed after `idleTimeout`, before servers drop it themselves.
/// - A server that refuses another connection ("421 Too many connections", or a 530 that says
///   so) lowers the cap; waiting operations queue instead of failing, and the cap grows back by
///   one after a quiet minute.
/// - An idempotent operation that lost its connection is retried on a fresh one with backoff,
///   as long as its deadline allows: a dead server gives an error in bounded time.
///
/// Lock order: `lock` is a leaf — nothing else is locked while it is held, and no I/O happens
/// under it. The starvation handler is called without it.
public final class ConnectionPool: @unchecked Sendable {
    public let configuration: ClientConfiguration
    public let capabilities = ServerCapabilities()
    public let logger: Logger
    public let maxConnections: Int
    /// Seconds an idle session is kept.
    public let idleTimeout: Double

    private struct IdleSession {
        var session: FTPSession
        var since: Double
    }

    private let lock = ConditionLock()
    /// Sessions ready for use, most recently used last (so the warmest is reused first).
    private var idle: [IdleSession] = []
    /// Sessions that exist or are being connected: idle + borrowed + connecting.
    private var openCount = 0
    /// The current cap: `maxConnections`, lowered when the server refuses more connections.
    private var cap: Int
    /// When the server last refused a connection (to grow the cap back cautiously).
    private var lastRefusal: Double = 0
    private var isShutDown = false
    private var starvationHandler: (@Sendable () -> Bool)?
    private var firstSessionInfo: (home: String, features: FeatureSet, hashAlgorithm: HashAlgorithm?)?
    private var maintenanceStarted = false
    /// Operations waiting in `checkout` for a session: background work leaves them first in line.
    private var waiting = 0

    public init(configuration: ClientConfiguration, maxConnections: Int, idleTimeout: Double = 60, logger: Logger) {
        self.configuration = configuration
        self.maxConnections = max(1, maxConnections)
        self.cap = max(1, maxConnections)
        self.idleTimeout = idleTimeout > 0 ? idleTimeout : 60
        self.logger = logger
    }

    /// Connects and logs in the first session, so a bad host or password is reported before
    /// anything is mounted. The session stays in the pool.
    public func start() throws(FTPError) {
        let session = try FTPSession.connect(configuration: configuration, capabilities: capabilities,
                                             logger: logger)
        lock.withLock {
            firstSessionInfo = (session.homeDirectory, session.features, session.remoteHashMethod?.algorithm)
            openCount += 1
            idle.append(IdleSession(session: session, since: MonotonicClock.now))
        }
    }

    /// Starts the thread that closes sessions idle too long and grows a lowered cap back. Call
    /// after daemonizing (a thread does not survive fork).
    public func startMaintenance() {
        let start = lock.withLock { () -> Bool in
            defer { maintenanceStarted = true }
            return !maintenanceStarted
        }
        guard start else { return }
        DetachedThread.start { [weak self] in
            while let pool = self, pool.maintain() {
                usleep(500_000)
            }
        }
    }

    /// One round of maintenance; returns false once the pool is shut down.
    private func maintain() -> Bool {
        let now = MonotonicClock.now
        let expired = lock.withLock { () -> [FTPSession]? in
            if isShutDown { return nil }
            let (old, fresh) = idle.partitioned { now - $0.since >= idleTimeout }
            idle = fresh
            openCount -= old.count
            if cap < maxConnections, lastRefusal > 0, now - lastRefusal >= 60 {
                cap += 1
                lastRefusal = now
                logger.info("trying \(cap) connections again")
                lock.broadcast()
            }
            return old.map(\.session)
        }
        guard let expired else { return false }
        for session in expired {
            logger.debug("closing a session idle for \(Int(idleTimeout)) s")
            session.quit()
        }
        return true
    }

    /// The login directory reported by the first session.
    public var homeDirectory: String { lock.withLock { firstSessionInfo?.home ?? "/" } }
    /// The features the server advertised to the first session.
    public var features: FeatureSet { lock.withLock { firstSessionInfo?.features ?? FeatureSet() } }
    /// The algorithm the first session would hash uploads with (HASH, XSHA256, …).
    public var firstSessionHashAlgorithm: HashAlgorithm? { lock.withLock { firstSessionInfo?.hashAlgorithm } }

    /// Called when every connection is borrowed and an operation must wait. It may release a
    /// connection held by something idle (a read stream between reads) and returns whether it did.
    public func setStarvationHandler(_ handler: @escaping @Sendable () -> Bool) {
        lock.withLock { starvationHandler = handler }
    }

    /// Borrows a session; waits while all are in use. Must be returned with `checkin`.
    /// Gives up with `.timedOut` at `deadline` (monotonic seconds) when one is given.
    public func checkout(deadline: Double? = nil) throws(FTPError) -> FTPSession {
        var backoff = 0.1
        lock.lock()
        while true {
            if isShutDown {
                lock.unlock()
                throw .connectionClosed("(the file system is shutting down)")
            }
            if let candidate = idle.popLast() {
                lock.unlock()
                if candidate.session.looksAlive && MonotonicClock.now - candidate.since < idleTimeout {
                    return candidate.session
                }
                logger.debug("replacing a session the server dropped or that idled too long")
                candidate.session.close()
                lock.lock()
                openCount -= 1
                continue
            }
            if openCount < cap {
                openCount += 1
                lock.unlock()
                do {
                    // A new connection must not outlive the operation that asked for it.
                    var bounded = configuration
                    if let deadline {
                        bounded.connectTimeout = max(0.5, min(configuration.connectTimeout, deadline - MonotonicClock.now))
                    }
                    return try FTPSession.connect(configuration: bounded, capabilities: capabilities,
                                                  logger: logger)
                } catch {
                    lock.lock()
                    openCount -= 1
                    lock.broadcast()
                    guard Self.isConnectionLimit(error) else {
                        lock.unlock()
                        throw error
                    }
                    lastRefusal = MonotonicClock.now
                    if openCount > 0 {
                        // The server limits connections per user or address: live with what we have.
                        if cap > openCount {
                            cap = openCount
                            logger.notice("server refused another connection (\(error)); using at most \(cap)")
                        }
                        continue
                    }
                    // Not even one: someone else holds the server's slots. Wait for one to free up.
                    if let deadline, MonotonicClock.now + backoff > deadline {
                        lock.unlock()
                        throw error
                    }
                    lock.unlock()
                    logger.info("server refused a connection (\(error)); retrying in \(backoff) s")
                    usleep(UInt32(backoff * 1_000_000))
                    backoff = min(backoff * 2, 2)
                    lock.lock()
                    continue
                }
            }
            let handler = starvationHandler
            lock.unlock()
            if let handler, handler() {
                lock.lock()
                continue
            }
            lock.lock()
            if let deadline, MonotonicClock.now >= deadline {
                lock.unlock()
                throw .timedOut("waiting for a free connection (all \(cap) are busy)")
            }
            if idle.isEmpty && openCount >= cap && !isShutDown {
                // Timed, so an idle read stream that becomes reclaimable is noticed.
                waiting += 1
                lock.wait(seconds: 0.05)
                waiting -= 1
            }
        }
    }

    /// Borrows a session only if that needs no waiting: an idle one, or a new one while the pool
    /// is below its cap. Nil when every session is busy, an operation is already waiting for one,
    /// or a new connection fails. For background work (listing ahead of a directory walk), which
    /// must never queue in front of, or hold up, what a user asked for.
    public func checkoutIfAvailable() -> FTPSession? {
        lock.lock()
        while true {
            if isShutDown || waiting > 0 {
                lock.unlock()
                return nil
            }
            if let candidate = idle.popLast() {
                lock.unlock()
                if candidate.session.looksAlive && MonotonicClock.now - candidate.since < idleTimeout {
                    return candidate.session
                }
                candidate.session.close()
                lock.lock()
                openCount -= 1
                continue
            }
            guard openCount < cap else {
                lock.unlock()
                return nil
            }
            openCount += 1
            lock.unlock()
            do {
                return try FTPSession.connect(configuration: configuration, capabilities: capabilities, logger: logger)
            } catch {
                lock.withLock {
                    openCount -= 1
                    if Self.isConnectionLimit(error) {
                        lastRefusal = MonotonicClock.now
                        if openCount > 0, cap > openCount {
                            cap = openCount
                            logger.notice("server refused another connection (\(error)); using at most \(cap)")
                        }
                    }
                    lock.broadcast()
                }
                logger.debug("no connection for background work: \(error)")
                return nil
            }
        }
    }

    /// Whether an operation is waiting in `checkout` for a session to come back.
    public var hasWaiters: Bool { lock.withLock { waiting > 0 } }

    /// 421 at the greeting, or a login refused with words that mean "too many" (vsftpd:
    /// "421 There are too many connected users", ProFTPD: "530 Sorry, the maximum number of
    /// clients (2) from your host are already connected", Pure-FTPd, IIS, FileZilla alike).
    static func isConnectionLimit(_ error: FTPError) -> Bool {
        switch error {
        case .serviceUnavailable:
            return true
        case .loginFailed(let reply):
            let text = reply.text.lowercased()
            return reply.code.rawValue == 421
                || ["too many", "maximum number", "connection limit", "limit reached", "try again later"]
                    .contains { text.contains($0) }
        default:
            return false
        }
    }

    /// Returns a borrowed session. A session that is unusable or still inside a transfer is closed.
    public func checkin(_ session: FTPSession) {
        if !session.isUsable || session.transferInProgress {
            session.close()
            lock.withLock {
                openCount -= 1
                lock.broadcast()
            }
            return
        }
        let keep = lock.withLock { () -> Bool in
            if isShutDown { return false }
            idle.append(IdleSession(session: session, since: MonotonicClock.now))
            lock.signal()
            return true
        }
        if !keep {
            session.quit()
            lock.withLock { openCount -= 1 }
        }
    }

    /// The deadline for an operation starting now: the reply timeout, from now.
    public func deadline() -> Double {
        MonotonicClock.now + configuration.timeout
    }

    /// Runs `body` with a borrowed session. When the connection is lost and the operation is
    /// idempotent, it is retried on a new connection with backoff until `deadline` (default:
    /// `timeout` from now). Non-idempotent operations are never repeated here.
    public func withSession<T>(idempotent: Bool = true, deadline: Double? = nil,
                               _ body: (FTPSession) throws(FTPError) -> T) throws(FTPError) -> T
    {
        let end = deadline ?? self.deadline()
        var backoff = 0.05
        while true {
            let session = try checkout(deadline: end)
            do {
                let result = try body(session)
                checkin(session)
                return result
            } catch {
                checkin(session)
                guard idempotent, error.isConnectionLost, MonotonicClock.now + backoff < end else { throw error }
                logger.info("connection lost (\(error)); retrying on a new connection")
                usleep(UInt32(backoff * 1_000_000))
                backoff = min(backoff * 4, 1)
            }
        }
    }

    /// Closes every idle session with QUIT; later checkouts fail.
    public func shutdown() {
        let sessions = lock.withLock { () -> [FTPSession] in
            isShutDown = true
            let all = idle.map(\.session)
            idle.removeAll()
            openCount -= all.count
            lock.broadcast()
            return all
        }
        for session in sessions { session.quit() }
    }

    /// Sessions in use and idle, and the current cap, for status reports.
    public var counts: (open: Int, idle: Int, cap: Int) { lock.withLock { (openCount, idle.count, cap) } }
}

extension Array {
    /// The elements that satisfy `belongs`, and the others, in order.
    func partitioned(_ belongs: (Element) -> Bool) -> ([Element], [Element]) {
        var yes: [Element] = []
        var no: [Element] = []
        for element in self {
            if belongs(element) { yes.append(element) } else { no.append(element) }
        }
        return (yes, no)
    }
}
