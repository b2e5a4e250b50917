import FTPProtocol
import FuseBridge
import ThreadSupport

/// One directory's entries as last listed.
struct CachedListing: Sendable {
    /// Entries by name.
    var entries: [String: ListingEntry]
    /// Entries in the server's order, for readdir.
    var ordered: [ListingEntry]
    var isTruncated: Bool

    init(entries list: [ListingEntry], isTruncated: Bool) {
        var byName: [String: ListingEntry] = [:]
        var ordered: [ListingEntry] = []
        byName.reserveCapacity(list.count)
        ordered.reserveCapacity(list.count)
        for entry in list where byName[entry.name] == nil {
            byName[entry.name] = entry
            ordered.append(entry)
        }
        self.entries = byName
        self.ordered = ordered
        self.isTruncated = isTruncated
    }
}

/// Directory listings and single-path lookups (MLST), each trusted for `timeout` seconds.
///
/// Concurrent requests for the same directory share one fetch: the first caller lists, the
/// others wait for its result. The lock is a leaf: no I/O happens while it is held.
final class ListingCache: @unchecked Sendable {
    private struct Stamped<Value> {
        var value: Value
        var fetchedAt: Double
    }

    let timeout: Double
    private let lock = ConditionLock()
    private var listings: [String: Stamped<CachedListing>] = [:]
    /// Single-path lookups (MLST); nil value = known not to exist.
    private var singles: [String: Stamped<ListingEntry?>] = [:]
    private var inFlight: Set<String> = []
    /// Bumped by every invalidation, so a fetch that started before a change does not store its
    /// now-stale result over the change.
    private var generation: UInt64 = 0

    init(timeout: Double) {
        self.timeout = timeout
    }

    private func isFresh(_ fetchedAt: Double, now: Double) -> Bool {
        now - fetchedAt < timeout
    }

    /// The cached listing of `path`, if fresh.
    func cachedListing(of path: String) -> CachedListing? {
        let now = MonotonicClock.now
        return lock.withLock {
            guard let stamped = listings[path], isFresh(stamped.fetchedAt, now: now) else { return nil }
            return stamped.value
        }
    }

    /// A cached single lookup: `.some(nil)` means known missing, `nil` means not cached.
    func cachedEntry(at path: String) -> ListingEntry?? {
        let now = MonotonicClock.now
        return lock.withLock {
            guard let stamped = singles[path], isFresh(stamped.fetchedAt, now: now) else { return nil }
            return .some(stamped.value)
        }
    }

    /// Seconds since the server last said something about `path`: in its parent's listing or
    /// in a lookup of it, whichever is younger. Nil when nothing about it is cached.
    func knowledgeAge(of path: String) -> Double? {
        let now = MonotonicClock.now
        return lock.withLock {
            let ages = [listings[FTPPath.parent(path)]?.fetchedAt, singles[path]?.fetchedAt].compactMap { $0 }
            return ages.max().map { now - $0 }
        }
    }

    /// The server just said what `path` is (or that it is missing): the lookup is fresh, and
    /// its parent's listing shows it at once.
    func refresh(_ entry: ListingEntry?, at path: String) {
        updateEntry(at: path) { $0 = entry }
        storeEntry(entry, at: path)
    }

    /// Whether the cache says `path` does not exist, from a listing or lookup made less than
    /// `seconds` ago.
    func knowsMissing(_ path: String, within seconds: Double) -> Bool {
        let now = MonotonicClock.now
        let parent = FTPPath.parent(path)
        let name = FTPPath.lastComponent(path)
        return lock.withLock {
            if let stamped = listings[parent], now - stamped.fetchedAt < min(seconds, timeout) {
                return stamped.value.entries[name] == nil
            }
            if let stamped = singles[path], now - stamped.fetchedAt < min(seconds, timeout) {
                return stamped.value == nil
            }
            return false
        }
    }

    func storeEntry(_ entry: ListingEntry?, at path: String) {
        let now = MonotonicClock.now
        lock.withLock { singles[path] = Stamped(value: entry, fetchedAt: now) }
    }

    /// The listing of `path`: cached when fresh, otherwise fetched once for all concurrent callers
    /// (including a fetch started in the background by `beginFetch`).
    func listing(of path: String, fetch: () throws(Errno) -> CachedListing) throws(Errno) -> CachedListing {
        lock.lock()
        while true {
            if let stamped = listings[path], isFresh(stamped.fetchedAt, now: MonotonicClock.now) {
                lock.unlock()
                return stamped.value
            }
            if !inFlight.contains(path) { break }
            lock.wait(seconds: 1)
        }
        inFlight.insert(path)
        let claimed = Fetch(path: path, generation: generation)
        lock.unlock()

        let result: Result<CachedListing, Errno> = Result { () throws(Errno) in try fetch() }
        finish(claimed, result.map { Optional($0) })
        return try result.get()
    }

    /// A fetch of one directory's listing that this cache knows is under way: callers asking
    /// for that listing meanwhile wait for it instead of fetching it again.
    struct Fetch {
        let path: String
        fileprivate let generation: UInt64
    }

    /// Claims the fetch of `path` for a caller that will list it itself, unless its listing is
    /// fresh or already being fetched (nil). Must be followed by `finish`.
    func beginFetch(of path: String) -> Fetch? {
        let now = MonotonicClock.now
        return lock.withLock {
            if let stamped = listings[path], isFresh(stamped.fetchedAt, now: now) { return nil }
            guard inFlight.insert(path).inserted else { return nil }
            return Fetch(path: path, generation: generation)
        }
    }

    /// Ends a fetch: stores the listing (unless something changed in the cache meanwhile) and
    /// wakes those waiting for it. A failure or nil stores nothing; waiters then fetch themselves.
    func finish(_ fetch: Fetch, _ result: Result<CachedListing?, Errno>) {
        let now = MonotonicClock.now
        let path = fetch.path
        lock.withLock {
            inFlight.remove(path)
            if case .success(let listing?) = result, generation == fetch.generation {
                listings[path] = Stamped(value: listing, fetchedAt: now)
                // The listing supersedes single lookups of its children.
                let prefix = path == "/" ? "/" : path + "/"
                for name in listing.entries.keys { singles.removeValue(forKey: prefix + name) }
            }
            lock.broadcast()
        }
    }

    /// Whether the listing of `path` is being fetched right now.
    func isBeingFetched(_ path: String) -> Bool {
        lock.withLock { inFlight.contains(path) }
    }

    /// Changes the cached entry of `path` in place, in its parent's listing and in the single
    /// lookups, wherever it is cached: after a change made through the mount the cache tells the
    /// truth at once, without listing the directory again. Setting nil removes the entry.
    func updateEntry(at path: String, _ change: (inout ListingEntry?) -> Void) {
        let parent = FTPPath.parent(path)
        let name = FTPPath.lastComponent(path)
        lock.withLock {
            generation &+= 1
            if var stamped = listings[parent] {
                var entry = stamped.value.entries[name]
                let existed = entry != nil
                change(&entry)
                entry?.name = name
                stamped.value.entries[name] = entry
                if let entry {
                    if existed, let index = stamped.value.ordered.firstIndex(where: { $0.name == name }) {
                        stamped.value.ordered[index] = entry
                    } else {
                        stamped.value.ordered.append(entry)
                    }
                } else if existed {
                    stamped.value.ordered.removeAll { $0.name == name }
                }
                listings[parent] = stamped
            }
            if let stamped = singles[path] {
                var entry = stamped.value
                change(&entry)
                entry?.name = name
                singles[path] = Stamped(value: entry, fetchedAt: stamped.fetchedAt)
            }
        }
    }

    /// Records that `path` is a directory known to be empty (just created).
    func storeEmptyListing(of path: String) {
        let now = MonotonicClock.now
        lock.withLock {
            generation &+= 1
            listings[path] = Stamped(value: CachedListing(entries: [], isTruncated: false), fetchedAt: now)
        }
    }

    /// Forgets every listing and lookup at or below `path` (a directory renamed or removed).
    func invalidateTree(_ path: String) {
        let prefix = path == "/" ? "/" : path + "/"
        lock.withLock {
            generation &+= 1
            for key in listings.keys where key == path || key.hasPrefix(prefix) { listings.removeValue(forKey: key) }
            for key in singles.keys where key == path || key.hasPrefix(prefix) { singles.removeValue(forKey: key) }
        }
    }

    /// Forgets what is known about `path` itself and the listing of its parent.
    func invalidate(_ path: String) {
        lock.withLock {
            generation &+= 1
            singles.removeValue(forKey: path)
            listings.removeValue(forKey: path)
            listings.removeValue(forKey: FTPPath.parent(path))
        }
    }

    /// Forgets everything (SIGHUP, or after an operation whose effects are hard to pin down).
    func invalidateAll() {
        lock.withLock {
            generation &+= 1
            singles.removeAll()
            listings.removeAll()
        }
    }
}
