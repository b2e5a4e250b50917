import FTPClient
import Synchronization

/// What the mount did, counted for the status line (SIGUSR1). Each counter is a relaxed atomic
/// incremented once per FUSE operation (never per byte or per block), so counting costs the hot
/// paths one uncontended atomic add.
public final class ActivityCounters: Sendable {
    /// Bytes returned by read() and accepted by write() through the mount.
    let bytesRead = Atomic<UInt64>(0)
    let bytesWritten = Atomic<UInt64>(0)
    /// Directory listings asked for, and how many of them needed the server.
    let listingLookups = Atomic<UInt64>(0)
    let listingFetches = Atomic<UInt64>(0)
    /// Operations that failed with an error other than "no such file".
    let errors = Atomic<UInt64>(0)

    public init() {}

    func recordRead(_ count: Int) { bytesRead.wrappingAdd(UInt64(max(count, 0)), ordering: .relaxed) }
    func recordWrite(_ count: Int) { bytesWritten.wrappingAdd(UInt64(max(count, 0)), ordering: .relaxed) }
    func recordListingLookup() { listingLookups.wrappingAdd(1, ordering: .relaxed) }
    func recordListingFetch() { listingFetches.wrappingAdd(1, ordering: .relaxed) }
    func recordError() { errors.wrappingAdd(1, ordering: .relaxed) }
}

extension FTPFileSystem {
    /// Forgets every cached listing, attribute and link resolution (SIGHUP), so the next access
    /// asks the server. Open files, pending uploads and the connections are left alone. The
    /// kernel's own attribute and name caches expire on their own (`attr_timeout`,
    /// `entry_timeout`: 1 s by default).
    public func dropCaches() {
        listings.invalidateAll()
        links.removeAll()
        configuration.blockCache?.removeAll()
    }

    /// One line for the log (SIGUSR1): connections, cache hit rate, bytes through the mount,
    /// files being written and errors.
    ///
    ///     connections: 2 busy, 1 idle, at most 4; listings: 52 served, 90% from cache;
    ///     blocks: 12 read, 75% from cache (1.5 MiB held); read 1.2 GiB, written 30.0 MiB;
    ///     1 file open for writing; errors: 0
    public func statusSummary() -> String {
        let connections = store.connectionCounts
        let lookups = activity.listingLookups.load(ordering: .relaxed)
        let fetches = activity.listingFetches.load(ordering: .relaxed)
        let hitRate = lookups == 0 ? "" : ", \(Int((Double(lookups - min(fetches, lookups)) / Double(lookups) * 100).rounded()))% from cache"
        let writing = writers.all().count
        return "connections: \(connections.open - connections.idle) busy, \(connections.idle) idle, "
            + "at most \(connections.cap); "
            + "listings: \(lookups) served\(hitRate); "
            + blockCacheSummary()
            + "read \(Self.byteCount(activity.bytesRead.load(ordering: .relaxed))), "
            + "written \(Self.byteCount(activity.bytesWritten.load(ordering: .relaxed))); "
            + "\(writing) file\(writing == 1 ? "" : "s") open for writing; "
            + "errors: \(activity.errors.load(ordering: .relaxed))"
    }

    /// `blocks: 12 read, 75% from cache (3.0 MiB held); ` — empty without a block cache.
    private func blockCacheSummary() -> String {
        guard let cache = configuration.blockCache, cache.isEnabled else { return "" }
        let statistics = cache.currentStatistics
        let lookups = statistics.hits + statistics.misses
        let rate = lookups == 0 ? "" : ", \(Int((Double(statistics.hits) / Double(lookups) * 100).rounded()))% from cache"
        let disk = statistics.diskBytes > 0 ? " + \(Self.byteCount(UInt64(statistics.diskBytes))) on disk" : ""
        return "blocks: \(lookups) read\(rate) (\(Self.byteCount(UInt64(statistics.memoryBytes))) held\(disk)); "
    }

    /// `512 B`, `1.5 KiB`, `30.0 MiB`, `1.2 GiB`.
    static func byteCount(_ bytes: UInt64) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        var value = Double(bytes)
        for unit in ["KiB", "MiB", "GiB", "TiB"] {
            value /= 1024
            if value < 1024 || unit == "TiB" {
                let tenths = Int((value * 10).rounded())
                return "\(tenths / 10).\(tenths % 10) \(unit)"
            }
        }
        return "\(bytes) B"
    }
}
