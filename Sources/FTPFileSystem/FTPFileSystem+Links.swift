import FTPClient
import FTPProtocol
import FuseBridge
import ThreadSupport

/// Symbolic links, as the server lists them, made to work through the mount.
///
/// The kernel follows links itself (with its own bound of 40 hops and ELOOP on loops) by asking
/// `readlink`. So a link whose target lies inside the mounted tree stays a link, and its target
/// is rewritten relative to the link: a server path such as `/pub/releases/1.2` means nothing on
/// this machine, and a relative target climbing above the server's root is clamped there, so
/// the kernel never resolves a server's link to a local file.
///
/// A link leading outside the mounted tree, or one whose target the server did not say, is
/// resolved on the server instead, following at most `maximumHops` links with a loop check, and
/// shown as what it leads to (reads go to the link's path; the server follows it). A link that
/// leads nowhere, or in a circle, is shown as a link: reading it gives ENOENT or ELOOP.
extension FTPFileSystem {
    static let maximumHops = 16

    enum LinkDestination: Equatable {
        /// Inside the mounted tree, as a path relative to the link's directory.
        case inside(String)
        /// Outside the mounted tree, at this absolute server path.
        case outside(String)
        /// The server did not say where the link leads.
        case unknown
    }

    /// Where the link at `path` (under the mountpoint) leads.
    func linkDestination(at path: String, target: String?) -> LinkDestination {
        guard let target, !target.isEmpty else { return .unknown }
        let directory = serverPath(FTPPath.parent(path))
        let resolved = Self.lexicallyResolved(target.hasPrefix("/") ? target : directory + "/" + target)
        let root = configuration.rootPath
        let mountPath: String
        if resolved == root {
            mountPath = "/"
        } else if root == "/" {
            mountPath = resolved
        } else if resolved.hasPrefix(root + "/") {
            mountPath = String(resolved.dropFirst(root.count))
        } else {
            return .outside(resolved)
        }
        return .inside(Self.relativePath(from: FTPPath.parent(path), to: mountPath))
    }

    /// `path` with `.` and `..` applied, never climbing above `/` (as the server's root).
    static func lexicallyResolved(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The relative path from the directory `from` to `to` (both absolute and normalized).
    static func relativePath(from: String, to: String) -> String {
        let source = from.split(separator: "/")
        let destination = to.split(separator: "/")
        var common = 0
        while common < source.count, common < destination.count, source[common] == destination[common] {
            common += 1
        }
        let parts = Array(repeating: "..", count: source.count - common) + destination[common...].map(String.init)
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// The entry as the mount shows it: links inside the tree with their rewritten target, other
    /// links by what they resolve to on the server.
    func presented(_ entry: ListingEntry, at path: String) -> ListingEntry {
        guard entry.kind == .symlink else { return entry }
        switch linkDestination(at: path, target: entry.linkTarget) {
        case .inside(let relative):
            var link = entry
            link.linkTarget = relative
            return link
        case .outside, .unknown:
            return dereferenced(entry, at: path)
        }
    }

    /// Whether presenting the link at `path` needs no round trip: it leads inside the tree, or
    /// where it leads outside is known already.
    func isResolvedHere(_ entry: ListingEntry, at path: String) -> Bool {
        if case .inside = linkDestination(at: path, target: entry.linkTarget) { return true }
        return links.cached(path) != nil
    }

    /// What a link outside the tree (or without a known target) leads to on the server.
    private func dereferenced(_ entry: ListingEntry, at path: String) -> ListingEntry {
        if let cached = links.cached(path) { return cached }
        var resolved = entry
        if let final = followOnServer(from: serverPath(path), entry: entry) {
            resolved = final
            resolved.name = entry.name
        }
        links.store(resolved, at: path)
        return resolved
    }

    /// Follows a chain of links on the server, at most `maximumHops`, refusing to go round in a
    /// circle. Returns the first entry that is not a link, or nil when the chain is broken.
    private func followOnServer(from start: String, entry: ListingEntry) -> ListingEntry? {
        var current = start
        var currentEntry = entry
        var visited: Set<String> = [start]
        for _ in 0..<Self.maximumHops {
            guard currentEntry.kind == .symlink else { return currentEntry }
            guard let target = currentEntry.linkTarget, !target.isEmpty else {
                // No target to follow: let the server follow the link itself.
                return probeOnServer(current)
            }
            let next = Self.lexicallyResolved(target.hasPrefix("/") ? target : FTPPath.parent(current) + "/" + target)
            guard visited.insert(next).inserted else {
                logger.debug("symlink \(start): loop at \(next)")
                return nil
            }
            guard let nextEntry = serverEntry(at: next) else { return nil }
            current = next
            currentEntry = nextEntry
        }
        logger.debug("symlink \(start): more than \(Self.maximumHops) links in a row")
        return nil
    }

    /// The listing entry of any server path (also outside the mounted tree).
    private func serverEntry(at serverPath: String) -> ListingEntry? {
        let parent = FTPPath.parent(serverPath)
        let name = FTPPath.lastComponent(serverPath)
        if serverPath == "/" { return ListingEntry(name: "/", kind: .directory) }
        return (try? store.list(parent))?[name]
    }

    /// Asks the server what a link is by using it: a directory when CWD into it works, a file
    /// (with its size and time) when SIZE does.
    private func probeOnServer(_ serverPath: String) -> ListingEntry? {
        let name = FTPPath.lastComponent(serverPath)
        if (try? store.enterDirectory(serverPath)) != nil {
            return ListingEntry(name: name, kind: .directory)
        }
        guard let size = try? store.size(of: serverPath) else { return nil }
        let modified = try? store.modificationTime(of: serverPath)
        return ListingEntry(name: name, kind: .file, size: size, modified: modified)
    }
}

/// Resolutions of links that lead outside the tree, trusted as long as listings are.
final class LinkResolutions: @unchecked Sendable {
    private let lock = ConditionLock()
    private var resolved = BoundedTable<String, (entry: ListingEntry, at: Double)>(limit: 10_000)
    let timeout: Double

    init(timeout: Double) {
        self.timeout = timeout
    }

    func cached(_ path: String) -> ListingEntry? {
        let now = MonotonicClock.now
        return lock.withLock {
            guard let hit = resolved.get(path), now - hit.at < timeout else { return nil }
            return hit.entry
        }
    }

    func store(_ entry: ListingEntry, at path: String) {
        let now = MonotonicClock.now
        lock.withLock { resolved[path] = (entry, now) }
    }

    func removeAll() {
        lock.withLock { resolved.removeAll() }
    }
}
