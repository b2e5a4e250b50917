import Testing

@testable import FTPFileSystem

/// Which directories are listed ahead of a walk, and the bounds on that work.
@Suite struct WalkPrefetchPolicyTests {
    static func policy(concurrent: Int = 8, ahead: Int = 128, entries: Int = 200_000,
                       lifetime: Double = 30) -> WalkPrefetchPolicy
    {
        var limits = WalkPrefetchPolicy.Limits(maxConcurrent: concurrent, aheadLifetime: lifetime)
        limits.maxAhead = ahead
        limits.maxAheadEntries = entries
        return WalkPrefetchPolicy(limits: limits)
    }

    /// Takes every directory the policy offers now, in order.
    static func drain(_ policy: inout WalkPrefetchPolicy, now: Double) -> [String] {
        var taken: [String] = []
        while let next = policy.nextDirectory(now: now) { taken.append(next) }
        return taken
    }

    @Test func aSingleDirectoryReadListsNothingAhead() {
        var policy = Self.policy()
        // Nor does it look at the directory's entries (which may be many).
        let walking = policy.directoryRead("/huge", subdirectories: {
            Issue.record("subdirectories asked for outside a walk")
            return ["/huge/a", "/huge/b"]
        }, siblings: { ["/huge"] }, now: 0)
        #expect(!walking)
        #expect(policy.nextDirectory(now: 0) == nil)
        // Nor does reading an unrelated directory afterwards.
        let unrelated = policy.directoryRead("/other", subdirectories: { ["/other/x"] }, siblings: { nil }, now: 1)
        #expect(!unrelated)
        #expect(policy.nextDirectory(now: 1) == nil)
    }

    @Test func aChildReadSoonAfterItsParentOffersItsSubdirectoriesThenItsSiblings() {
        var policy = Self.policy()
        policy.directoryRead("/a", subdirectories: { ["/a/b", "/a/c", "/a/d"] }, siblings: { nil }, now: 0)
        let walking = policy.directoryRead("/a/b", subdirectories: { ["/a/b/x", "/a/b/y"] },
                                           siblings: { ["/a/b", "/a/c", "/a/d"] }, now: 0.5)
        #expect(walking)
        // Depth first, as ls -R and find go; /a/b itself was read already.
        #expect(Self.drain(&policy, now: 0.5) == ["/a/b/x", "/a/b/y", "/a/c", "/a/d"])
    }

    @Test func aChildReadLongAfterItsParentIsNoWalk() {
        var policy = Self.policy()
        policy.directoryRead("/a", subdirectories: { ["/a/b", "/a/c"] }, siblings: { nil }, now: 0)
        let walking = policy.directoryRead("/a/b", subdirectories: { [] }, siblings: { ["/a/b", "/a/c"] },
                                           now: policy.limits.walkWindow + 1)
        #expect(!walking)
        #expect(policy.nextDirectory(now: policy.limits.walkWindow + 1) == nil)
    }

    @Test func directoriesReadAlreadyOrBeingListedAreNotOfferedAgain() {
        var policy = Self.policy()
        policy.directoryRead("/", subdirectories: { ["/a", "/b", "/c"] }, siblings: { nil }, now: 0)
        policy.directoryRead("/c", subdirectories: { [] }, siblings: { nil }, now: 0)
        policy.directoryRead("/a", subdirectories: { [] }, siblings: { ["/a", "/b", "/c"] }, now: 0)
        #expect(Self.drain(&policy, now: 0) == ["/b"])
        // /b is being listed: reading /c again offers nothing new.
        policy.directoryRead("/c", subdirectories: { [] }, siblings: { ["/a", "/b", "/c"] }, now: 0)
        #expect(policy.nextDirectory(now: 0) == nil)
    }

    @Test func atMostMaxConcurrentListingsRunAtOnce() {
        var policy = Self.policy(concurrent: 2)
        policy.directoryRead("/", subdirectories: { ["/a", "/b", "/c", "/d"] }, siblings: { nil }, now: 0)
        policy.directoryRead("/a", subdirectories: { [] }, siblings: { ["/a", "/b", "/c", "/d"] }, now: 0)
        #expect(Self.drain(&policy, now: 0) == ["/b", "/c"])
        let full = !policy.mayStart(now: 0)
        #expect(full)
        policy.listed("/b", subdirectories: [], entries: 1, now: 0)
        let room = policy.mayStart(now: 0)
        #expect(room)
        #expect(Self.drain(&policy, now: 0) == ["/d"])
    }

    @Test func theWorkAheadOfTheWalkIsBoundedAndFollowsIt() {
        let children = (0..<10).map { "/t/d\($0)" }
        var policy = Self.policy(ahead: 3)
        policy.directoryRead("/t", subdirectories: { children }, siblings: { nil }, now: 0)
        policy.directoryRead("/t/d0", subdirectories: { [] }, siblings: { children }, now: 0)
        let first = Self.drain(&policy, now: 0)
        #expect(first == ["/t/d1", "/t/d2", "/t/d3"])
        for path in first { policy.listed(path, subdirectories: [], entries: 5, now: 0) }
        // Three listed and not read yet: nothing more until the walk reads one.
        #expect(policy.nextDirectory(now: 1) == nil)
        #expect(policy.aheadCount == 3)
        policy.directoryRead("/t/d1", subdirectories: { [] }, siblings: { children }, now: 1)
        #expect(Self.drain(&policy, now: 1) == ["/t/d4"])
    }

    @Test func entriesListedAheadAreBoundedToo() {
        let children = (0..<10).map { "/t/d\($0)" }
        var policy = Self.policy(entries: 1000)
        policy.directoryRead("/t", subdirectories: { children }, siblings: { nil }, now: 0)
        policy.directoryRead("/t/d0", subdirectories: { [] }, siblings: { children }, now: 0)
        let path = policy.nextDirectory(now: 0)
        #expect(path == "/t/d1")
        policy.listed("/t/d1", subdirectories: [], entries: 1000, now: 0)
        #expect(policy.nextDirectory(now: 0) == nil)
        policy.directoryRead("/t/d1", subdirectories: { [] }, siblings: { children }, now: 0)
        #expect(policy.nextDirectory(now: 0) == "/t/d2")
    }

    @Test func listingsTheWalkNeverReadsStopCountingAfterTheirLifetime() {
        let children = (0..<5).map { "/t/d\($0)" }
        var policy = Self.policy(ahead: 2, lifetime: 30)
        policy.directoryRead("/t", subdirectories: { children }, siblings: { nil }, now: 0)
        policy.directoryRead("/t/d0", subdirectories: { [] }, siblings: { children }, now: 0)
        for path in Self.drain(&policy, now: 0) { policy.listed(path, subdirectories: [], entries: 1, now: 0) }
        #expect(policy.nextDirectory(now: 29) == nil)
        #expect(policy.nextDirectory(now: 31) == "/t/d3")
    }

    @Test func aDirectoryListedAheadOffersItsOwnSubdirectoriesFirst() {
        var policy = Self.policy()
        policy.directoryRead("/", subdirectories: { ["/a", "/b", "/c"] }, siblings: { nil }, now: 0)
        policy.directoryRead("/a", subdirectories: { [] }, siblings: { ["/a", "/b", "/c"] }, now: 0)
        #expect(policy.nextDirectory(now: 0) == "/b")
        policy.listed("/b", subdirectories: ["/b/x"], entries: 1, now: 0)
        #expect(Self.drain(&policy, now: 0) == ["/b/x", "/c"])
    }

    @Test func readingADirectoryListedAheadContinuesTheWalk() {
        var policy = Self.policy()
        policy.directoryRead("/", subdirectories: { ["/a", "/b"] }, siblings: { nil }, now: 0)
        policy.directoryRead("/a", subdirectories: { [] }, siblings: { ["/a", "/b"] }, now: 0)
        #expect(policy.nextDirectory(now: 0) == "/b")
        policy.listed("/b", subdirectories: [], entries: 1, now: 0)
        // The walk spent a long time elsewhere: its parent's read is old, but /b was listed for it.
        let later = policy.limits.walkWindow + 5
        let walking = policy.directoryRead("/b", subdirectories: { ["/b/y"] }, siblings: { ["/a", "/b"] }, now: later)
        #expect(walking)
        #expect(policy.nextDirectory(now: later) == "/b/y")
    }

    @Test func aFailedListingStopsCountingAndIsNotOfferedAgainAtOnce() {
        var policy = Self.policy(ahead: 1)
        policy.directoryRead("/", subdirectories: { ["/a", "/b", "/c"] }, siblings: { nil }, now: 0)
        policy.directoryRead("/a", subdirectories: { [] }, siblings: { ["/a", "/b", "/c"] }, now: 0)
        #expect(policy.nextDirectory(now: 0) == "/b")
        policy.listed("/b", subdirectories: nil, entries: 0, now: 0)
        #expect(policy.aheadCount == 0)
        #expect(policy.nextDirectory(now: 0) == "/c")
    }

    @Test func resetForgetsEveryCandidate() {
        var policy = Self.policy()
        policy.directoryRead("/", subdirectories: { ["/a", "/b"] }, siblings: { nil }, now: 0)
        policy.directoryRead("/a", subdirectories: { ["/a/x"] }, siblings: { ["/a", "/b"] }, now: 0)
        policy.reset()
        #expect(!policy.hasCandidates)
        #expect(policy.nextDirectory(now: 0) == nil)
    }
}
