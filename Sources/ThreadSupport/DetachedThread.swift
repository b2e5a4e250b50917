#if canImport(Glibc)
import Glibc
#endif

/// A detached pthread running a closure: background work (the pool's reaper, listings ahead,
/// upload senders, the signal watcher) must not sit on Swift's cooperative pool, as the design
/// keeps the file system core synchronous.
public enum DetachedThread {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread. Returns 0, or pthread_create's error number when no
    /// thread could be had (then `body` never runs).
    @discardableResult
    public static func start(_ body: @escaping () -> Void) -> Int32 {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, box)
        if status == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<Box>.fromOpaque(box).release()
        }
        return status
    }
}
