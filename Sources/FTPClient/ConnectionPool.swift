import FTPProtocol
import Logging
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// Hands out logged-in sessions, at most `maxConnections` at a time.
///
/// Each operation borrows one session and returns it, so parallel readers of different files
/// proceed in parallel. A session that failed is closed instead of being returned to the idle
/// list, and an idempotent operation that lost its connection is retried on a fresh one.
///
/// Lock order: `lock` is a leaf — nothing else is locked while it is held, and no I/O happens
/// under it. The starvation handler is called without it.
public final class ConnectionPool: @unchecked Sendable {
    public let configuration: ClientConfiguration
    public let capabilities = ServerCapabilities()
    public let logger: Logger

    private let lock = ConditionLock()
    /// Sessions ready for use, most recently used last (so the warmest is reused first).
    private var idle: [FTPSession] = []
    /// Sessions that exist or are being connected: idle + borrowed + connecting.
    private var openCount = 0
    /// The current cap: `maxConnections`, lowered when the server refuses more connections.
    private var cap: Int
    private var isShutDown = false
    private var starvationHandler: (@Sendable () -> Bool)?
    private var firstSessionInfo: (home: String, features: FeatureSet)?

    public let maxConnections: Int

    public init(configuration: ClientConfiguration, maxConnections: Int, logger: Logger) {
        self.configuration = configuration
        self.maxConnections = max(1, maxConnections)
        self.cap = max(1, maxConnections)
        self.logger = logger
    }

    /// Connects and logs in the first session, so a bad host or password is reported before
    /// anything is mounted. The session stays in the pool.
    public func start() throws(FTPError) {
        let session = try FTPSession.connect(configuration: configuration, capabilities: capabilities,
                                             logger: logger)
        lock.withLock {
            firstSessionInfo = (session.homeDirectory, session.features)
            openCount += 1
            idle.append(session)
        }
    }

    /// The login directory reported by the first session.
    public var homeDirectory: String { lock.withLock { firstSessionInfo?.home ?? "/" } }
    /// The features the server advertised to the first session.
    public var features: FeatureSet { lock.withLock { firstSessionInfo?.features ?? FeatureSet() } }

    /// Called when every connection is borrowed and an operation must wait. It may release a
    /// connection held by something idle (a read stream between reads) and returns whether it did.
    public func setStarvationHandler(_ handler: @escaping @Sendable () -> Bool) {
        lock.withLock { starvationHandler = handler }
    }

    /// Borrows a session; waits when all are in use. Must be returned with `checkin`.
    public func checkout() throws(FTPError) -> FTPSession {
        lock.lock()
        while true {
            if isShutDown {
                lock.unlock()
                throw .connectionClosed("(the file system is shutting down)")
            }
            if let session = idle.popLast() {
                lock.unlock()
                return session
            }
            if openCount < cap {
                openCount += 1
                lock.unlock()
                do {
                    return try FTPSession.connect(configuration: configuration, capabilities: capabilities,
                                                  logger: logger)
                } catch {
                    lock.lock()
                    openCount -= 1
                    if case .serviceUnavailable = error, openCount > 0 {
                        // The server limits connections per user or address: live with what we have.
                        cap = max(1, openCount)
                        logger.notice("server refused another connection (\(error)); using at most \(cap)")
                        lock.broadcast()
                        continue
                    }
                    lock.broadcast()
                    lock.unlock()
                    throw error
                }
            }
            let handler = starvationHandler
            lock.unlock()
            if let handler, handler() {
                lock.lock()
                continue
            }
            lock.lock()
            if idle.isEmpty && openCount >= cap && !isShutDown {
                // Timed, so an idle read stream that becomes reclaimable is noticed.
                lock.wait(seconds: 0.05)
            }
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
            idle.append(session)
            lock.signal()
            return true
        }
        if !keep {
            session.quit()
            lock.withLock { openCount -= 1 }
        }
    }

    /// Runs `body` with a borrowed session. When the connection is lost and the operation is
    /// idempotent, it is retried on a new connection (twice at most).
    public func withSession<T>(idempotent: Bool = true,
                               _ body: (FTPSession) throws(FTPError) -> T) throws(FTPError) -> T
    {
        var attempt = 0
        while true {
            let session = try checkout()
            do {
                let result = try body(session)
                checkin(session)
                return result
            } catch {
                checkin(session)
                if idempotent, error.isConnectionLost, attempt < 2 {
                    attempt += 1
                    logger.info("connection lost (\(error)); retrying on a new connection")
                    continue
                }
                throw error
            }
        }
    }

    /// Closes every idle session with QUIT; later checkouts fail.
    public func shutdown() {
        let sessions = lock.withLock { () -> [FTPSession] in
            isShutDown = true
            let all = idle
            idle.removeAll()
            openCount -= all.count
            lock.broadcast()
            return all
        }
        for session in sessions { session.quit() }
    }

    /// Sessions in use and idle, for status reports.
    public var counts: (open: Int, idle: Int) { lock.withLock { (openCount, idle.count) } }
}
