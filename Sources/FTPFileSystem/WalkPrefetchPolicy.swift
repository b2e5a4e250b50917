import FTPProtocol

/// Which directories to list ahead of a directory walk (`ls -lR`, `find`, `du`, `rsync`), and
/// when to stop. Pure bookkeeping with the time passed in, so it is tested directly; the
/// `DirectoryPrefetcher` runs what it decides.
///
/// A walk is recognised, never assumed: a directory read (readdir) soon after its parent was
/// read, or a directory that was listed ahead and is now read, is a step of a walk. At such a
/// step the directory's subdirectories become candidates, then its siblings (the parent's other
/// subdirectories); every directory listed ahead offers its own subdirectories in turn. The most
/// recently offered come first, which follows a depth-first walker; within one directory, in
/// name order, as `ls -R` goes. A single `ls` (of however large a tree) lists nothing ahead.
///
/// Bounds, so the work done ahead follows the walker and stops with it:
/// - at most `maxConcurrent` listings at once;
/// - at most `maxAhead` directories listed (or being listed) ahead and not read yet, holding at
///   most `maxAheadEntries` entries; a directory listed ahead that is not read within
///   `aheadLifetime` (the listing cache's timeout: by then its listing is gone) stops counting;
/// - at most `maxSources` directories whose subdirectories are waiting to be offered.
struct WalkPrefetchPolicy {
    struct Limits: Sendable {
        var maxConcurrent: Int
        var maxAhead = 128
        var maxAheadEntries = 200_000
        /// A directory read this many seconds after its parent counts as a step of a walk.
        var walkWindow: Double = 10
        /// Seconds a directory listed ahead (or read) is remembered as such.
        var aheadLifetime: Double = 30
        var maxSources = 256

        init(maxConcurrent: Int, aheadLifetime: Double = 30) {
            self.maxConcurrent = maxConcurrent
            self.aheadLifetime = aheadLifetime
        }
    }

    let limits: Limits

    private struct Ahead {
        var since: Double
        var entries: Int
    }

    /// Subdirectories of `parent` still to offer, from `next` on.
    private struct Source {
        var parent: String
        var children: [String]
        var next = 0
    }

    /// Directories read by readdir: path → when.
    private var recentlyRead: [String: Double] = [:]
    /// Directories listed or being listed ahead and not read yet: path → since when, entries.
    private var ahead: [String: Ahead] = [:]
    private var aheadEntries = 0
    private var running: Set<String> = []
    /// The most recently offered last.
    private var sources: [Source] = []
    private var sourceParents: Set<String> = []
    /// Parents whose subdirectories were all offered: path → when (not offered again meanwhile).
    private var exhausted: [String: Double] = [:]

    init(limits: Limits) {
        self.limits = limits
    }

    /// Listings under way.
    var runningCount: Int { running.count }
    /// Directories listed or being listed ahead that the walk has not read yet.
    var aheadCount: Int { ahead.count }
    /// Whether `nextDirectory` may have something (ignoring the bounds).
    var hasCandidates: Bool { !sources.isEmpty }

    /// Whether `nextDirectory` would give a directory now: no bound is reached and a candidate
    /// is left that `isKnown` (say, the cache) does not already have. Unwanted candidates are
    /// dropped on the way.
    mutating func mayStart(now: Double, isKnown: (String) -> Bool = { _ in false }) -> Bool {
        expire(now: now)
        return withinBounds && peek(now: now, isKnown: isKnown) != nil
    }

    private var withinBounds: Bool {
        running.count < limits.maxConcurrent && ahead.count < limits.maxAhead && aheadEntries < limits.maxAheadEntries
    }

    /// A directory was read by readdir. `subdirectories` gives its subdirectories' paths;
    /// `siblings` those of its parent, when that listing is at hand (both asked for only at a
    /// step of a walk). Returns whether this read was a step of a walk (and so may have offered
    /// new candidates).
    @discardableResult
    mutating func directoryRead(_ path: String, subdirectories: () -> [String], siblings: () -> [String]?,
                                now: Double) -> Bool
    {
        expire(now: now)
        let wasAhead = removeAhead(path)
        let parent = FTPPath.parent(path)
        let parentRead = path != "/" && recentlyRead[parent].map { now - $0 < limits.walkWindow } == true
        recentlyRead[path] = now
        guard wasAhead || parentRead else { return false }
        if path != "/", !sourceParents.contains(parent),
           exhausted[parent].map({ now - $0 < limits.aheadLifetime }) != true,
           let siblings = siblings()
        {
            push(Source(parent: parent, children: siblings))
        }
        push(Source(parent: path, children: subdirectories()))
        return true
    }

    /// The next directory to list ahead, or nil when there is none or a bound is reached.
    /// Candidates `isKnown` says need no listing are dropped. The caller must report what became
    /// of the directory with `listed`.
    mutating func nextDirectory(now: Double, isKnown: (String) -> Bool = { _ in false }) -> String? {
        expire(now: now)
        guard withinBounds, let candidate = peek(now: now, isKnown: isKnown) else { return nil }
        sources[sources.count - 1].next += 1
        running.insert(candidate)
        ahead[candidate] = Ahead(since: now, entries: 0)
        return candidate
    }

    /// The candidate at the top, after dropping those that need no listing (read recently,
    /// listed or being listed ahead, or known to the caller); nil when none is left.
    private mutating func peek(now: Double, isKnown: (String) -> Bool) -> String? {
        while let top = sources.indices.last {
            guard sources[top].next < sources[top].children.count else {
                let done = sources.removeLast()
                sourceParents.remove(done.parent)
                exhausted[done.parent] = now
                continue
            }
            let candidate = sources[top].children[sources[top].next]
            let needless = ahead[candidate] != nil || running.contains(candidate)
                || recentlyRead[candidate].map { now - $0 < limits.aheadLifetime } == true
                || isKnown(candidate)
            if !needless { return candidate }
            sources[top].next += 1
        }
        return nil
    }

    /// A directory taken from `nextDirectory` was listed: it has `entries` entries, of which
    /// `subdirectories` are offered next. Nil `subdirectories`: it was not listed after all (the
    /// listing failed, or was fresh or being fetched already), and it stops counting as ahead.
    mutating func listed(_ path: String, subdirectories: [String]?, entries: Int, now: Double) {
        running.remove(path)
        guard let subdirectories else {
            removeAhead(path)
            return
        }
        // Read by the walk while it was being listed: that read offered its subdirectories.
        guard ahead[path] != nil else { return }
        removeAhead(path)
        ahead[path] = Ahead(since: now, entries: entries)
        aheadEntries += entries
        push(Source(parent: path, children: subdirectories))
    }

    /// Forgets every candidate (the file system is going away, or its caches were dropped).
    mutating func reset() {
        sources.removeAll()
        sourceParents.removeAll()
        exhausted.removeAll()
        recentlyRead.removeAll()
        for path in ahead.keys where !running.contains(path) { removeAhead(path) }
    }

    // MARK: -

    private mutating func push(_ source: Source) {
        guard !source.children.isEmpty else { return }
        if sourceParents.contains(source.parent) { return }
        sources.append(source)
        sourceParents.insert(source.parent)
        if sources.count > limits.maxSources {
            let dropped = sources.removeFirst()
            sourceParents.remove(dropped.parent)
        }
    }

    @discardableResult
    private mutating func removeAhead(_ path: String) -> Bool {
        guard let removed = ahead.removeValue(forKey: path) else { return false }
        aheadEntries -= removed.entries
        return true
    }

    private mutating func expire(now: Double) {
        let lifetime = limits.aheadLifetime
        if !ahead.isEmpty {
            for (path, value) in ahead where !running.contains(path) && now - value.since >= lifetime {
                removeAhead(path)
            }
        }
        if recentlyRead.count > 4096 {
            recentlyRead = recentlyRead.filter { now - $0.value < lifetime }
            if recentlyRead.count > 4096 { recentlyRead.removeAll() }
        }
        if exhausted.count > 1024 {
            exhausted = exhausted.filter { now - $0.value < lifetime }
            if exhausted.count > 1024 { exhausted.removeAll() }
        }
    }
}
