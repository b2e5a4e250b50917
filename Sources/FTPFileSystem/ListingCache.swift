import FTPClient
import FTPProtocol
import FuseBridge
import ThreadSupport

/// One directory's entries as last listed: the store's `DirectoryListing` (compact, each
/// entry once), kept as it came.
struct CachedListing: Sendable {
    private(set) var listing: DirectoryListing

    init(_ listing: DirectoryListing) {
        self.listing = listing
    }

    init(entries: [ListingEntry], isTruncated: Bool) {
        self.listing = DirectoryListing(entries: entries, isTruncated: isTruncated)
    }

    /// The entries by name: `cached.entries[name]`.
    var entries: Entries { Entries(listing: listing) }

    struct Entries {
        fileprivate let listing: DirectoryListing
        subscript(name: String) -> ListingEntry? { listing[name] }
    }

    /// Names in the server's order.
    var names: [String] { listing.names }
    /// Positions to walk the listing without copying it (see `DirectoryListing.positions`).
    var positions: Int { listing.positions }
    func entry(atPosition position: Int) -> ListingEntry? { listing.entry(atPosition: position) }
    /// The entries in the server's order.
    var ordered: [ListingEntry] { listing.entries }
    var count: Int { listing.count }
    var isEmpty: Bool { listing.isEmpty }
    var isTruncated: Bool { listing.isTruncated }

    /// Sets, replaces or (nil) removes the entry called `name`.
    mutating func set(_ entry: ListingEntry?, named name: String) {
        listing.set(entry, named: name)
    }
}

/// Directory listings and single-path lookups (MLST), each trusted for `timeout` seconds.
///
/// Concurrent requests for the same directory share one fetch: the first caller lists, the
/// others wait for its result. The lock is a leaf: no I/O happens while it is held.
final class ListingCache: @unchecked Sendable {
    struct Stamped<Value> {
        var value: Value
        var fetchedAt: Double
    }

    typealias StampedListing = Stamped<CachedListing>

    let timeout: Double
    private let lock = ConditionLock()
    /// Listings, bounded by the entries they hold together (see `ListingTable`).
    private var listings: ListingTable
    /// Single-path lookups (MLST); nil value = known not to exist. Bounded, least recently
    /// used first out.
    private var singles = BoundedTable<String, Stamped<ListingEntry?>>(limit: 20_000)
    private var inFlight: Set<String> = []
    /// Bumped by every invalidation, so a fetch that started before a change does not store its
    /// now-stale result over the change.
    private var generation: UInt64 = 0

    /// `entryBudget`: listings are dropped, least recently used first, when together they hold
    /// more entries (about 150 bytes each) than this; a single listing larger than it stays
    /// alone.
    init(timeout: Double, entryBudget: Int = 100_000) {
        self.timeout = timeout
        self.listings = ListingTable(entryBudget: entryBudget)
    }

    private func isFresh(_ fetchedAt: Double, now: Double) -> Bool {
        now - fetchedAt < timeout
    }

    /// The cached listing of `path`, if fresh.
    func cachedListing(of path: String) -> CachedListing? {
        let now = MonotonicClock.now
        return lock.withLock {
            guard let stamped = listings.use(path), isFresh(stamped.fetchedAt, now: now) else { return nil }
            return stamped.value
        }
    }

    /// A cached single lookup: `.some(nil)` means known missing, `nil` means not cached.
    func cachedEntry(at path: String) -> ListingEntry?? {
        let now = MonotonicClock.now
        return lock.withLock {
            guard let stamped = singles.get(path), isFresh(stamped.fetchedAt, now: now) else { return nil }
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
        lock.withLock { singles.set(path, Stamped(value: entry, fetchedAt: now)) }
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
                for key in singles.keys where key.hasPrefix(prefix) && !key.dropFirst(prefix.count).contains("/")
                    && listing.entries[String(key.dropFirst(prefix.count))] != nil
                {
                    singles.removeValue(forKey: key)
                }
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
                listings[parent] = nil  // the listing is changed in place, not copied
                var entry = stamped.value.entries[name]
                change(&entry)
                entry?.name = name
                stamped.value.set(entry, named: name)
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

/// The listings of a `ListingCache`, bounded by the number of entries they hold together: when
/// a new one would take them over `entryBudget`, the least recently used (and the expired) go
/// first, until they are under three quarters of it. (A directory walk over a large tree, or
/// a mount up for months, then keeps what it uses, not everything it ever listed.)
private struct ListingTable {
    private var storage: [String: (stamped: Stamped, used: UInt64)] = [:]
    private var clock: UInt64 = 0
    private(set) var entries = 0
    let entryBudget: Int

    typealias Stamped = (value: CachedListing, fetchedAt: Double)

    init(entryBudget: Int) {
        self.entryBudget = entryBudget
    }

    subscript(path: String) -> ListingCache.StampedListing? {
        get { storage[path].map { ListingCache.StampedListing(value: $0.stamped.value, fetchedAt: $0.stamped.fetchedAt) } }
        set {
            if let old = storage[path] { entries -= old.stamped.value.count }
            guard let newValue else {
                storage.removeValue(forKey: path)
                return
            }
            clock &+= 1
            storage[path] = ((newValue.value, newValue.fetchedAt), clock)
            entries += newValue.value.count
            if entries > entryBudget { evict(keeping: path) }
        }
    }

    /// The listing, marked as used now.
    mutating func use(_ path: String) -> ListingCache.StampedListing? {
        guard let found = storage[path] else { return nil }
        clock &+= 1
        storage[path]?.used = clock
        return ListingCache.StampedListing(value: found.stamped.value, fetchedAt: found.stamped.fetchedAt)
    }

    var keys: Dictionary<String, (stamped: Stamped, used: UInt64)>.Keys { storage.keys }

    mutating func removeValue(forKey path: String) {
        self[path] = nil
    }

    mutating func removeAll() {
        storage.removeAll()
        entries = 0
    }

    private mutating func evict(keeping kept: String) {
        let target = entryBudget * 3 / 4
        for (path, _) in storage.sorted(by: { $0.value.used < $1.value.used }) where path != kept {
            if entries <= target { return }
            removeValue(forKey: path)
        }
    }
}
