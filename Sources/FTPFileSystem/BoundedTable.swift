/// A dictionary that never grows past `limit` entries: when it would, the least recently used
/// quarter goes. The tables of a mount that stays up for months (exact times, page-cache
/// versions, link resolutions, single lookups) are bounded this way; what goes is only asked
/// for again. Not thread-safe: its owner's lock guards it.
struct BoundedTable<Key: Hashable, Value> {
    private var storage: [Key: (value: Value, used: UInt64)] = [:]
    private var clock: UInt64 = 0
    let limit: Int

    init(limit: Int) {
        precondition(limit > 0)
        self.limit = limit
    }

    var count: Int { storage.count }
    var keys: Dictionary<Key, (value: Value, used: UInt64)>.Keys { storage.keys }

    /// The value, marked as used now.
    mutating func get(_ key: Key) -> Value? {
        guard let found = storage[key] else { return nil }
        clock &+= 1
        storage[key] = (found.value, clock)
        return found.value
    }

    /// The value, without marking it used.
    func peek(_ key: Key) -> Value? { storage[key]?.value }

    subscript(key: Key) -> Value? {
        get { peek(key) }
        set {
            if let newValue { set(key, newValue) } else { storage.removeValue(forKey: key) }
        }
    }

    mutating func set(_ key: Key, _ value: Value) {
        clock &+= 1
        storage[key] = (value, clock)
        if storage.count > limit { evictLeastRecentlyUsed() }
    }

    @discardableResult
    mutating func removeValue(forKey key: Key) -> Value? {
        storage.removeValue(forKey: key)?.value
    }

    mutating func removeAll() { storage.removeAll() }

    /// Every key and value (for moving a subtree after a rename).
    var all: [(key: Key, value: Value)] { storage.map { ($0.key, $0.value.value) } }

    /// Drops the least recently used quarter (at least one).
    private mutating func evictLeastRecentlyUsed() {
        let keep = limit - max(1, limit / 4)
        let cutoff = storage.values.map(\.used).sorted()[storage.count - keep - 1]
        storage = storage.filter { $0.value.used > cutoff }
    }
}
