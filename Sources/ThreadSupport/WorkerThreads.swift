#if canImport(Glibc)
import Glibc
#endif

/// Threads for work that may block for long (upload senders, aborting an upload on a stalled
/// server): started when needed, reused, and ended after a while idle, so a burst of work does
/// not pay for a thread each and an idle mount keeps none. Every job gets a thread of its own
/// at once: one job never waits behind another.
public final class WorkerThreads: @unchecked Sendable {
    public static let shared = WorkerThreads()

    private let lock = ConditionLock()
    private var jobs: [() -> Void] = []
    private var idle = 0
    private let idleSeconds = 10.0

    public func run(_ job: @escaping () -> Void) {
        let needsThread = lock.withLock { () -> Bool in
            jobs.append(job)
            // Every queued job needs a thread of its own: a sender may run for a whole upload.
            if jobs.count > idle { return true }
            lock.broadcast()
            return false
        }
        if needsThread { startThread() }
    }

    private func startThread() {
        if DetachedThread.start({ [self] in work(once: false) }) != 0 {
            // No thread to be had: run the job here rather than leave a writer waiting forever.
            work(once: true)
        }
    }

    private func work(once: Bool) {
        lock.lock()
        while true {
            let since = MonotonicClock.now
            while jobs.isEmpty {
                let waited = MonotonicClock.now - since
                if once || waited >= idleSeconds {
                    lock.unlock()
                    return
                }
                idle += 1
                lock.wait(seconds: idleSeconds - waited)
                idle -= 1
            }
            let job = jobs.removeFirst()
            lock.unlock()
            job()
            lock.lock()
        }
    }
}
