import FTPProtocol
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// Lists directories ahead of a directory walk, on connections nobody else is using, as
/// `WalkPrefetchPolicy` decides; the listings go into the `ListingCache`, where the walk finds
/// them (or waits for the one being fetched instead of listing it again).
///
/// It never holds up what a user asked for: it borrows a connection only when one is idle or
/// the pool may open another and no operation is waiting (`acquire` never waits), returns it after
/// each listing, and leaves at least one connection to the user (`maxConcurrent` is one less
/// than the pool's size). The readdir that reveals a walk only notes it; threads of the
/// prefetcher's own do the listing. After `shutdown` nothing new starts.
///
/// Generic over the session type so that its scheduling is tested without a server.
///
/// Lock order: `lock` → the listing cache's lock (a leaf; looked at to skip what is cached).
/// No I/O happens under `lock`, and `acquire`, `release` and `list` (the pool's lock, the
/// network) are called without it.
final class DirectoryPrefetcher<Session>: @unchecked Sendable {
    /// How to borrow a session without waiting (nil: none free), give it back, list one
    /// directory on it (nil: the listing failed), and whether an operation is waiting for a
    /// session (then the prefetcher gives its own back after the listing under way).
    struct Operations {
        var acquire: () -> Session?
        var release: (Session) -> Void
        var list: (Session, String) -> CachedListing?
        var shouldYield: () -> Bool
    }

    private let operations: Operations
    private let cache: ListingCache
    private let lock = ConditionLock()
    private var policy: WalkPrefetchPolicy
    private var threads = 0
    private var idleThreads = 0
    private var isShutDown = false
    /// Since when candidates have found no free connection (threads then look again every 20 ms).
    private var starvedSince: Double?
    /// Seconds a thread with nothing to do lingers before it ends.
    private let threadIdleTime: Double = 5

    /// Directories listed ahead so far.
    private var listedAhead = 0

    init(limits: WalkPrefetchPolicy.Limits, cache: ListingCache, operations: Operations) {
        self.policy = WalkPrefetchPolicy(limits: limits)
        self.cache = cache
        self.operations = operations
    }

    /// A directory was read (readdir) and gave `listing`. Returns at once.
    func directoryRead(_ path: String, listing: CachedListing) {
        let cache = self.cache
        lock.withLock {
            guard !isShutDown else { return }
            let walking = policy.directoryRead(path, subdirectories: { Self.subdirectories(of: path, in: listing) },
                                               siblings: {
                let parent = FTPPath.parent(path)
                return cache.cachedListing(of: parent).map { Self.subdirectories(of: parent, in: $0) }
            }, now: MonotonicClock.now)
            if walking { dispatch() }
        }
    }

    /// Stops: nothing new is listed; listings under way finish on their own.
    func shutdown() {
        lock.withLock {
            isShutDown = true
            policy.reset()
            lock.broadcast()
        }
    }

    /// Forgets the candidates (the caches were dropped).
    func reset() {
        lock.withLock { policy.reset() }
    }

    /// Threads running, listings under way, and directories listed ahead so far.
    var counts: (threads: Int, running: Int, listedAhead: Int) {
        lock.withLock { (threads, policy.runningCount, listedAhead) }
    }

    /// The subdirectories of `path` named in its listing, in name (byte) order. Links are not
    /// followed, as `find` and `ls -R` do not follow them.
    static func subdirectories(of path: String, in listing: CachedListing) -> [String] {
        let prefix = path == "/" ? "/" : path + "/"
        return (0..<listing.positions).lazy.compactMap { listing.entry(atPosition: $0) }
            .filter { $0.kind == .directory }.map(\.name)
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .map { prefix + $0 }
    }

    // MARK: - Threads

    /// A directory whose listing is fresh in the cache or being fetched needs no listing ahead:
    /// a walk over cached listings (ls -lR again) takes no connection.
    private func isKnown(_ path: String) -> Bool {
        cache.cachedListing(of: path) != nil || cache.isBeingFetched(path)
    }

    /// Wakes an idle thread or starts one, when there is work and room. Called with `lock` held.
    private func dispatch() {
        guard policy.mayStart(now: MonotonicClock.now, isKnown: isKnown) else { return }
        if idleThreads > 0 {
            lock.signal()
        } else if threads < policy.limits.maxConcurrent {
            threads += 1
            let started = DetachedThread.start { [self] in self.work() } == 0
            if !started { threads -= 1 }
        }
    }

    private func work() {
        lock.lock()
        var idleSince = MonotonicClock.now
        // Kept from one listing to the next while there is more to list and nobody waits for a
        // connection: the next directory is claimed the moment the last one is in, so a walk that
        // catches up finds it being listed rather than listing it itself.
        var session: Session?
        while !isShutDown {
            let now = MonotonicClock.now
            if let since = starvedSince, now - since >= policy.limits.walkWindow {
                // No free connection for that long: the walk has moved on or is using them all.
                policy.reset()
                starvedSince = nil
            }
            guard policy.mayStart(now: now, isKnown: isKnown) else {
                if let held = session {
                    session = nil
                    lock.unlock()
                    operations.release(held)
                    lock.lock()
                    continue
                }
                if now - idleSince >= threadIdleTime { break }
                idleThreads += 1
                // Starved: look again soon, a connection may be free by then; else wait for a
                // readdir or a listing to offer more.
                lock.wait(seconds: starvedSince != nil && policy.hasCandidates ? 0.02 : 1)
                idleThreads -= 1
                continue
            }
            if session == nil {
                // The connection first (a new one means a login), then whichever directory is
                // most worth listing by the time it is there.
                lock.unlock()
                session = operations.acquire()
                lock.lock()
                if session == nil {
                    if starvedSince == nil { starvedSince = MonotonicClock.now }
                    idleThreads += 1
                    lock.wait(seconds: 0.02)
                    idleThreads -= 1
                    continue
                }
                starvedSince = nil
                if isShutDown { break }
            }
            guard let path = policy.nextDirectory(now: MonotonicClock.now, isKnown: isKnown) else { continue }
            dispatch()  // more to do than this thread: let another help
            lock.unlock()
            let outcome = list(path, on: session!)
            var yield = operations.shouldYield()
            lock.lock()
            switch outcome {
            case .skipped:
                policy.listed(path, subdirectories: nil, entries: 0, now: MonotonicClock.now)
            case .failed:
                policy.listed(path, subdirectories: nil, entries: 0, now: MonotonicClock.now)
                yield = true  // the pool decides whether the session is still good
            case .listed(let listing):
                listedAhead += 1
                policy.listed(path, subdirectories: Self.subdirectories(of: path, in: listing),
                              entries: listing.count, now: MonotonicClock.now)
                dispatch()
            }
            if yield, let held = session {
                session = nil
                lock.unlock()
                operations.release(held)
                lock.lock()
            }
            idleSince = MonotonicClock.now
        }
        threads -= 1
        lock.unlock()
        if let session { operations.release(session) }
    }

    private enum Outcome {
        case skipped
        case failed
        case listed(CachedListing)
    }

    /// Lists `path` into the cache, unless it is fresh or being fetched by now.
    private func list(_ path: String, on session: Session) -> Outcome {
        guard let fetch = cache.beginFetch(of: path) else { return .skipped }
        let listing = operations.list(session, path)
        cache.finish(fetch, .success(listing))
        return listing.map { .listed($0) } ?? .failed
    }
}
