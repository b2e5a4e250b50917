import FTPProtocol
import FuseBridge
import Synchronization
import Testing

@testable import FTPFileSystem

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ListingCacheTests {
    static func listing(_ names: [String]) -> CachedListing {
        CachedListing(entries: names.map { ListingEntry(name: $0, kind: .file, size: 1) }, isTruncated: false)
    }

    @Test func aFreshListingIsServedWithoutFetching() throws {
        let cache = ListingCache(timeout: 60)
        let fetches = Counter()
        for _ in 0..<3 {
            let result = try cache.listing(of: "/d") { () throws(Errno) in
                fetches.increment()
                return Self.listing(["a", "b"])
            }
            #expect(result.ordered.map(\.name) == ["a", "b"])
        }
        #expect(fetches.value == 1)
        #expect(cache.cachedListing(of: "/d")?.entries["b"] != nil)
    }

    @Test func anExpiredListingIsFetchedAgain() throws {
        let cache = ListingCache(timeout: 0)
        let fetches = Counter()
        for _ in 0..<2 {
            _ = try cache.listing(of: "/d") { () throws(Errno) in
                fetches.increment()
                return Self.listing([])
            }
        }
        #expect(fetches.value == 2)
    }

    @Test func concurrentRequestsShareOneFetch() async throws {
        let cache = ListingCache(timeout: 60)
        let fetches = Counter()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let result = try cache.listing(of: "/shared") { () throws(Errno) in
                        fetches.increment()
                        usleep(200_000)  // a slow server: the other callers arrive meanwhile
                        return Self.listing(["x"])
                    }
                    return result.ordered.count
                }
            }
            for try await count in group { #expect(count == 1) }
        }
        #expect(fetches.value == 1)
    }

    @Test func aFailedFetchIsNotCachedAndReachesEveryCaller() {
        let cache = ListingCache(timeout: 60)
        #expect(throws: Errno.noSuchFile) {
            try cache.listing(of: "/gone") { () throws(Errno) in throw .noSuchFile }
        }
        #expect(cache.cachedListing(of: "/gone") == nil)
    }

    @Test func invalidationDropsTheEntryAndItsParentListing() throws {
        let cache = ListingCache(timeout: 60)
        _ = try cache.listing(of: "/d") { () throws(Errno) in Self.listing(["f"]) }
        cache.storeEntry(ListingEntry(name: "f", kind: .file), at: "/d/f")
        cache.invalidate("/d/f")
        #expect(cache.cachedListing(of: "/d") == nil)
        #expect(cache.cachedEntry(at: "/d/f") == nil)
    }

    @Test func aListingSupersedesSingleLookupsOfItsChildren() throws {
        let cache = ListingCache(timeout: 60)
        cache.storeEntry(nil, at: "/d/new")
        _ = try cache.listing(of: "/d") { () throws(Errno) in Self.listing(["new"]) }
        #expect(cache.cachedEntry(at: "/d/new") == nil)
    }
}

/// A counter the fetch closures can share across threads.
final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

/// Fetches claimed ahead of need (a walk's listing ahead) and shared with those who need them.
@Suite struct ListingCacheClaimTests {
    @Test func onlyAListingNeitherFreshNorBeingFetchedCanBeClaimed() throws {
        let cache = ListingCache(timeout: 60)
        let claim = try #require(cache.beginFetch(of: "/d"))
        #expect(cache.isBeingFetched("/d"))
        #expect(cache.beginFetch(of: "/d") == nil)
        cache.finish(claim, .success(ListingCacheTests.listing(["a"])))
        #expect(!cache.isBeingFetched("/d"))
        #expect(cache.beginFetch(of: "/d") == nil, "fresh now")
        #expect(cache.cachedListing(of: "/d")?.ordered.map(\.name) == ["a"])
    }

    @Test func aRequestWaitsForTheClaimedFetchInsteadOfFetchingAgain() async throws {
        let cache = ListingCache(timeout: 60)
        let claim = try #require(cache.beginFetch(of: "/d"))
        let fetches = Counter()
        let request = Task.detached {
            try cache.listing(of: "/d") { () throws(Errno) in
                fetches.increment()
                return ListingCacheTests.listing(["own"])
            }
        }
        usleep(50_000)  // give the request time to start waiting (it is correct either way)
        cache.finish(claim, .success(ListingCacheTests.listing(["shared"])))
        #expect(try await request.value.ordered.map(\.name) == ["shared"])
        #expect(fetches.value == 0)
    }

    @Test func whenTheClaimedFetchFailsTheRequestFetchesItself() async throws {
        let cache = ListingCache(timeout: 60)
        let claim = try #require(cache.beginFetch(of: "/d"))
        let request = Task.detached {
            try cache.listing(of: "/d") { () throws(Errno) in ListingCacheTests.listing(["own"]) }
        }
        cache.finish(claim, .success(nil))
        #expect(try await request.value.ordered.map(\.name) == ["own"])
    }

    @Test func aClaimedFetchThatRacedAChangeStoresNothing() throws {
        let cache = ListingCache(timeout: 60)
        let claim = try #require(cache.beginFetch(of: "/d"))
        cache.invalidate("/d/x")  // a change through the mount while the listing was under way
        cache.finish(claim, .success(ListingCacheTests.listing(["stale"])))
        #expect(cache.cachedListing(of: "/d") == nil)
    }
}
