import FTPClient
import FTPProtocol
import Logging

/// Listing ahead of directory walks (see `WalkPrefetchPolicy` and `DirectoryPrefetcher`).
extension FTPFileSystem {
    /// The prefetcher for a pool and cache: up to one connection fewer than the pool may open
    /// list ahead, so one is always left to what the user asks. None with a single connection;
    /// when listings are not cached (`dir_cache_timeout=0`), as a listing made ahead would be
    /// stale before it is read; and in active mode, where every listing has the server connect
    /// back to us: firewalls and NAT make that fragile enough one at a time, and some servers
    /// stall when several sessions do it at once (pyftpdlib 1.5 leaves some of them hanging).
    static func makePrefetcher(store: any RemoteStore, listings: ListingCache, configuration: FileSystemConfiguration,
                               logger: Logger) -> DirectoryPrefetcher<any RemoteLister>?
    {
        let concurrency = store.maxConcurrentOperations - 1
        guard concurrency > 0, configuration.directoryCacheTimeout > 0, store.listsAheadSafely else { return nil }
        let root = configuration.rootPath
        let limits = WalkPrefetchPolicy.Limits(maxConcurrent: concurrency,
                                               aheadLifetime: configuration.directoryCacheTimeout)
        return DirectoryPrefetcher(limits: limits, cache: listings, operations: .init(
            acquire: { store.idleLister() },
            release: { $0.giveBack() },
            list: { lister, path in
                do {
                    let listing = try lister.list(serverPath(path, root: root))
                    return CachedListing(listing)
                } catch {
                    // The walk lists it itself when it gets there, and reports what fails then.
                    logger.debug("listing \(path) ahead of a walk: \(error)")
                    return nil
                }
            },
            shouldYield: { store.hasWaiters }))
    }

    /// The server path for a path under the mountpoint ("/" is the root), for a mount of `root`.
    static func serverPath(_ path: String, root: String) -> String {
        path == "/" || path.isEmpty ? root : FTPPath.join(root, String(path.dropFirst()))
    }
}
