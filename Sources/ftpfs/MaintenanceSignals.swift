import FTPFileSystem
import Logging
import ThreadSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP and the status signal, handled without unmounting.
///
/// libfuse's `fuse_set_signal_handlers` makes SIGHUP, SIGINT and SIGTERM end the loop (then
/// ftpfs unmounts and uploads what is pending). SIGHUP is taken back here: its handler, like the
/// status signal's, only writes the signal number to a non-blocking self-pipe (write(2) is
/// async-signal-safe); a thread started after daemonizing reads the pipe and does the work, so
/// no lock or allocation ever happens in a signal handler.
///
/// - SIGHUP drops the cached listings, attributes, link resolutions and blocks
///   (``FTPFileSystem/dropCaches()``): changes made on the server show at once, up to the
///   kernel's own `attr_timeout`/`entry_timeout` (1 s by default).
/// - SIGUSR1 writes ``FTPFileSystem/statusSummary()`` to the log. With `-o intr`, libfuse
///   interrupts requests with `intr_signal` (SIGUSR1 by default); the status signal is then
///   SIGUSR2 instead, so the two never collide (``statusSignal(interruptSignal:)``).
///
/// libfuse installs its no-op handler for `intr_signal` in `fuse_new` only when `intr` is set
/// by then; ftpfs sets it in the init callback (libfuse 3 parses no `intr` option), so the
/// handler is installed here: without it, the first interrupted request would kill ftpfs.
final class MaintenanceSignals: @unchecked Sendable {
    let statusSignal: Int32
    let interruptSignal: Int32?
    private let fileSystem: FTPFileSystem
    private let logger: Logger
    private var readEnd: Int32 = -1

    /// The write end of the pipe, read by the signal handler (an atomic load is async-signal-safe).
    fileprivate static let pipeWriteEnd = Atomic<Int32>(-1)

    /// SIGUSR1, unless libfuse uses it to interrupt requests: then SIGUSR2.
    static func statusSignal(interruptSignal: Int32?) -> Int32 {
        interruptSignal == SIGUSR1 ? SIGUSR2 : SIGUSR1
    }

    init(fileSystem: FTPFileSystem, interruptSignal: Int32?, logger: Logger) {
        self.fileSystem = fileSystem
        self.interruptSignal = interruptSignal
        self.statusSignal = Self.statusSignal(interruptSignal: interruptSignal)
        self.logger = logger
    }

    /// Creates the pipe, installs the handlers (replacing libfuse's SIGHUP handler, so call it
    /// after `fuse_set_signal_handlers`) and starts the thread. Call it after daemonizing.
    func start() {
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else {
            logger.warning("SIGHUP and SIGUSR1 will unmount or be ignored: cannot create a pipe: \(String(cString: strerror(errno)))")
            return
        }
        // Only the writer (the handler) must never block; neither end outlives an exec.
        _ = fcntl(descriptors[1], F_SETFL, fcntl(descriptors[1], F_GETFL) | O_NONBLOCK)
        for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        readEnd = descriptors[0]
        Self.pipeWriteEnd.store(descriptors[1], ordering: .releasing)
        for signal in [SIGHUP, statusSignal] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = forwardSignalToPipe
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            if sigaction(signal, &action, nil) != 0 {
                logger.warning("cannot handle signal \(signal): \(String(cString: strerror(errno)))")
            }
        }
        if let interruptSignal {
            // Like libfuse's fuse_intr_sighandler: nothing to do but interrupt the system call
            // (no SA_RESTART), and only when nobody else handles the signal already.
            var current = sigaction()
            sigaction(interruptSignal, nil, &current)
            if current.__sigaction_handler.sa_handler == nil {  // SIG_DFL
                var action = sigaction()
                action.__sigaction_handler.sa_handler = { _ in }
                sigemptyset(&action.sa_mask)
                action.sa_flags = 0
                sigaction(interruptSignal, &action, nil)
            }
        }
        let status = DetachedThread.start { [self] in serve() }
        if status != 0 {
            logger.warning("cannot start the signal thread: \(String(cString: strerror(status)))")
        }
    }

    /// While unmounting and uploading what is pending: SIGHUP and the status signal are ignored
    /// (a second SIGTERM or SIGINT still ends ftpfs at once, as libfuse's handlers are gone).
    func stop() {
        for signal in [SIGHUP, statusSignal] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = SIG_IGN
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
    }

    private func serve() {
        var signal: UInt8 = 0
        while true {
            let count = read(readEnd, &signal, 1)
            if count < 0 && errno == EINTR { continue }
            guard count == 1 else { return }
            switch Int32(signal) {
            case SIGHUP:
                fileSystem.dropCaches()
                logger.notice("SIGHUP: dropped cached listings, attributes and blocks")
            case statusSignal:
                LogSink.emit(.notice, "status: " + fileSystem.statusSummary())
            default:
                break
            }
        }
    }
}

/// The handler: the signal number into the pipe, nothing else. errno is preserved for the
/// interrupted code.
private func forwardSignalToPipe(_ signal: Int32) {
    let savedErrno = errno
    let descriptor = MaintenanceSignals.pipeWriteEnd.load(ordering: .acquiring)
    if descriptor >= 0 {
        var byte = UInt8(truncatingIfNeeded: signal)
        _ = write(descriptor, &byte, 1)
    }
    errno = savedErrno
}
