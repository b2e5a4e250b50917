import FTPProtocol
import FuseBridge
import Synchronization
import Testing

@testable import FTPFileSystem

#if canImport(Glibc)
import Glibc
#endif

/// The prefetcher's threads, connections and cache hand-over, with sessions that are plain
/// numbers and listings that wait at a gate the test opens: no server, and nothing timed.
@Suite struct DirectoryPrefetcherTests {
    /// A fake server: counts sessions and listings, holds listings until the gate opens.
    final class FakeServer: Sendable {
        struct State {
            var gateOpen = false
            var freeSessions = 0
            var acquireCalls = 0
            var listing = 0
            var mostListingAtOnce = 0
            var listed: [String] = []
        }

        let state: Mutex<State>

        init(sessions: Int, gateOpen: Bool = false) {
            state = Mutex(State(gateOpen: gateOpen, freeSessions: sessions))
        }

        func operations() -> DirectoryPrefetcher<Int>.Operations {
            .init(
                acquire: { [self] in
                    state.withLock { state -> Int? in
                        state.acquireCalls += 1
                        guard state.freeSessions > 0 else { return nil }
                        state.freeSessions -= 1
                        return 1
                    }
                },
                release: { [self] _ in state.withLock { $0.freeSessions += 1 } },
                list: { [self] _, path in
                    state.withLock {
                        $0.listing += 1
                        $0.mostListingAtOnce = max($0.mostListingAtOnce, $0.listing)
                    }
                    _ = waitUntil { state.withLock { $0.gateOpen } }
                    state.withLock {
                        $0.listing -= 1
                        $0.listed.append(path)
                    }
                    return DirectoryPrefetcherTests.listing(of: path)
                },
                shouldYield: { false })
        }

        func openGate() { state.withLock { $0.gateOpen = true } }

        var snapshot: State { state.withLock { $0 } }
    }

    /// What the fake server lists in `path`: one file named after it.
    static func listing(of path: String) -> CachedListing {
        CachedListing(entries: [ListingEntry(name: "in-" + FTPPath.lastComponent(path), kind: .file, size: 1)],
                      isTruncated: false)
    }

    static func directories(_ names: [String]) -> CachedListing {
        CachedListing(entries: names.map { ListingEntry(name: $0, kind: .directory) }, isTruncated: false)
    }

    /// Polls `condition` until it holds; false after a minute (a hang, reported as a failure).
    @discardableResult
    static func waitUntil(_ condition: () -> Bool) -> Bool {
        for _ in 0..<60_000 {
            if condition() { return true }
            usleep(1000)
        }
        return false
    }

    /// A walk's first two steps: /tree (with `count` subdirectories) and /tree/d0 read, each
    /// listed through the cache first as readdir does.
    static func startWalk(_ prefetcher: DirectoryPrefetcher<Int>, cache: ListingCache, count: Int) throws -> [String] {
        let names = (0..<count).map { "d\($0)" }
        let tree = try cache.listing(of: "/tree") { () throws(Errno) in directories(names) }
        prefetcher.directoryRead("/tree", listing: tree)
        let first = try cache.listing(of: "/tree/d0") { () throws(Errno) in listing(of: "/tree/d0") }
        prefetcher.directoryRead("/tree/d0", listing: first)
        return names.map { "/tree/" + $0 }
    }

    @Test func aWalkIsListedAheadOnSeveralConnectionsAtOnceIntoTheCache() throws {
        let cache = ListingCache(timeout: 60)
        let server = FakeServer(sessions: 3)
        let prefetcher = DirectoryPrefetcher(limits: .init(maxConcurrent: 3), cache: cache, operations: server.operations())
        defer { prefetcher.shutdown() }
        let paths = try Self.startWalk(prefetcher, cache: cache, count: 10)
        // Three listings wait at the gate at once: they run in parallel.
        #expect(Self.waitUntil { server.snapshot.listing == 3 })
        server.openGate()
        #expect(Self.waitUntil { paths.allSatisfy { cache.cachedListing(of: $0) != nil } })
        let state = server.snapshot
        #expect(state.mostListingAtOnce == 3)
        #expect(state.listed.sorted() == paths.dropFirst().sorted(), "each directory listed once, d0 by the walk")
        for path in paths {
            #expect(cache.cachedListing(of: path)?.ordered.map(\.name) == ["in-" + FTPPath.lastComponent(path)])
        }
        #expect(prefetcher.counts.listedAhead == 9)
    }

    @Test func aRequestForADirectoryBeingListedAheadSharesThatListing() async throws {
        let cache = ListingCache(timeout: 60)
        let server = FakeServer(sessions: 3)
        let prefetcher = DirectoryPrefetcher(limits: .init(maxConcurrent: 3), cache: cache, operations: server.operations())
        defer { prefetcher.shutdown() }
        _ = try Self.startWalk(prefetcher, cache: cache, count: 4)
        #expect(Self.waitUntil { server.snapshot.listing == 3 })
        // The walk reaches /tree/d1 while it is being listed ahead: it waits for that listing.
        let ownFetches = Counter()
        let request = Task.detached {
            try cache.listing(of: "/tree/d1") { () throws(Errno) in
                ownFetches.increment()
                return Self.listing(of: "/elsewhere")
            }
        }
        server.openGate()
        let result = try await request.value
        #expect(result.ordered.map(\.name) == ["in-d1"])
        #expect(ownFetches.value == 0)
    }

    @Test func withoutAFreeConnectionNothingIsListedAhead() throws {
        let cache = ListingCache(timeout: 60)
        let server = FakeServer(sessions: 0, gateOpen: true)
        let prefetcher = DirectoryPrefetcher(limits: .init(maxConcurrent: 3), cache: cache, operations: server.operations())
        defer { prefetcher.shutdown() }
        let paths = try Self.startWalk(prefetcher, cache: cache, count: 5)
        // It asked for a connection (without waiting), got none, and listed nothing.
        #expect(Self.waitUntil { server.snapshot.acquireCalls >= 2 })
        #expect(server.snapshot.listed.isEmpty)
        // The walk lists for itself meanwhile.
        let own = try cache.listing(of: paths[1]) { () throws(Errno) in Self.listing(of: paths[1]) }
        #expect(own.ordered.map(\.name) == ["in-d1"])
    }

    @Test func aWalkOverCachedListingsNeedsNoConnection() throws {
        let cache = ListingCache(timeout: 60)
        let server = FakeServer(sessions: 3, gateOpen: true)
        let prefetcher = DirectoryPrefetcher(limits: .init(maxConcurrent: 3), cache: cache, operations: server.operations())
        defer { prefetcher.shutdown() }
        for index in 1..<6 {
            _ = try cache.listing(of: "/tree/d\(index)") { () throws(Errno) in Self.listing(of: "/tree/d\(index)") }
        }
        _ = try Self.startWalk(prefetcher, cache: cache, count: 6)
        // Decided at once, in the walk's readdir: nothing to list, so no thread and no session.
        #expect(prefetcher.counts.threads == 0)
        #expect(server.snapshot.acquireCalls == 0)
        #expect(prefetcher.counts.listedAhead == 0)
    }

    @Test func afterShutdownNothingNewIsListed() throws {
        let cache = ListingCache(timeout: 60)
        let server = FakeServer(sessions: 3)
        let prefetcher = DirectoryPrefetcher(limits: .init(maxConcurrent: 3), cache: cache, operations: server.operations())
        _ = try Self.startWalk(prefetcher, cache: cache, count: 20)
        #expect(Self.waitUntil { server.snapshot.listing == 3 })
        prefetcher.shutdown()
        server.openGate()
        // The three under way finish (and land in the cache); no thread starts another.
        #expect(Self.waitUntil { prefetcher.counts.threads == 0 })
        #expect(server.snapshot.listed.count == 3)
        #expect(server.snapshot.freeSessions == 3, "every session given back")
        let cached = (1..<20).filter { cache.cachedListing(of: "/tree/d\($0)") != nil }
        #expect(cached.count == 3)
        // A walk step after shutdown starts nothing.
        prefetcher.directoryRead("/tree/d5", listing: Self.listing(of: "/tree/d5"))
        #expect(prefetcher.counts.threads == 0)
    }
}
