import CFuse
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// One FUSE mount of a `FileSystemOperations` implementation, driven by libfuse's high-level API
/// in the order the design asks for: `fuse_new`, `fuse_mount`, `fuse_daemonize`, `fuse_loop_mt`.
/// Owning these steps (rather than calling `fuse_main`) lets the caller log in to the server and
/// fail before anything is mounted, and daemonize before any worker thread exists.
public final class FuseMount {
    public let fileSystem: any FileSystemOperations
    public let settings: FuseSettings
    private var fuse: OpaquePointer?
    private var arguments: [UnsafeMutablePointer<CChar>?] = []
    private var operations = fuse_operations()
    private var connectionOptions: OpaquePointer?
    private var isMounted = false
    /// What became of the kernel read-ahead setting at mount, for the caller to log.
    public private(set) var kernelReadAhead: KernelReadAhead.Outcome = .unchanged("not mounted yet")
    private var signalHandlersInstalled = false

    /// Creates the libfuse instance from a complete argument vector (program name, then `-o`
    /// with the options libfuse should see, escaped as fuse_opt reads them). A bad option fails
    /// here; libfuse prints which on stderr.
    public init(fileSystem: any FileSystemOperations, commandLine: [String], settings: FuseSettings = FuseSettings()) throws(MountFailure) {
        self.fileSystem = fileSystem
        self.settings = settings
        arguments = commandLine.map { strdup($0) } + [nil]
        operations = FuseOperationTable.make()
        let context = Unmanaged.passUnretained(self).toOpaque()
        var parsedConnectionOptions: OpaquePointer?
        fuse = arguments.withUnsafeMutableBufferPointer { argv in
            cfuse_new(Int32(commandLine.count), argv.baseAddress, &operations, context, &parsedConnectionOptions)
        }
        connectionOptions = parsedConnectionOptions
        guard fuse != nil else {
            freeArguments()
            throw .libfuseRejectedOptions(Array(commandLine.dropFirst()))
        }
    }

    deinit {
        if let fuse {
            if signalHandlersInstalled { fuse_remove_signal_handlers(fuse_get_session(fuse)) }
            if isMounted { fuse_unmount(fuse) }
            fuse_destroy(fuse)
        }
        if let connectionOptions { free(UnsafeMutableRawPointer(connectionOptions)) }
        freeArguments()
    }

    private func freeArguments() {
        for argument in arguments { free(argument) }
        arguments = []
    }

    /// Mounts at `mountpoint` (an absolute path).
    public func mount(at mountpoint: String) throws(MountFailure) {
        guard let fuse else { throw .libfuseRejectedOptions([]) }
        guard fuse_mount(fuse, mountpoint) == 0 else { throw .mountFailed(mountpoint) }
        isMounted = true
        kernelReadAhead = KernelReadAhead.raise(mountpoint: mountpoint, to: settings.kernelReadAhead)
        if fuse_set_signal_handlers(fuse_get_session(fuse)) == 0 {
            signalHandlersInstalled = true
        }
    }

    /// Detaches from the terminal unless `foreground`. The parent process exits with status 0
    /// once the child is set up; call this after `mount` so the mount is up when the shell
    /// gets its prompt back, and before any thread is started.
    public func daemonize(foreground: Bool) {
        fuse_daemonize(foreground ? 1 : 0)
    }

    /// Serves requests until the file system is unmounted or a signal asks it to stop.
    /// Returns 0 on a clean exit.
    public func run(maximumThreads: Int = 0, maximumIdleThreads: Int = 0, cloneFD: Bool = false) -> Int32 {
        guard let fuse else { return 1 }
        return cfuse_loop_mt(fuse, cloneFD ? 1 : 0, Int32(maximumThreads), Int32(maximumIdleThreads))
    }

    /// A function that asks the kernel to drop what it caches of a path (attributes and
    /// pages), callable from any thread while the mount is served: at once (the flag), or on a
    /// thread of its own, as it must be from inside a read of the same file (the kernel would
    /// wait on the pages that read holds).
    public func kernelCacheInvalidator() -> @Sendable (String, Bool) -> Void {
        guard let fuse else { return { _, _ in } }
        let handle = UnsafeSendable(fuse)
        return { path, now in
            if now {
                _ = fuse_invalidate_path(handle.value, path)
            } else {
                DetachedThread.start { _ = fuse_invalidate_path(handle.value, path) }
            }
        }
    }

    /// Whether the request the calling thread serves was interrupted (`-o intr`); false on
    /// threads that serve no request.
    public static func requestInterrupted() -> Bool {
        fuse_interrupted() != 0
    }

    /// Unmounts now (the loop, if running, ends).
    public func unmount() {
        guard let fuse, isMounted else { return }
        if signalHandlersInstalled {
            fuse_remove_signal_handlers(fuse_get_session(fuse))
            signalHandlersInstalled = false
        }
        fuse_unmount(fuse)
        isMounted = false
    }

    /// Asks a running loop to stop (from any thread).
    public func exit() {
        if let fuse { fuse_exit(fuse) }
    }

    /// The mount behind the request being served on this thread.
    static var current: FuseMount {
        Unmanaged<FuseMount>.fromOpaque(cfuse_private_data()!).takeUnretainedValue()
    }

    func configure(connection: UnsafeMutablePointer<fuse_conn_info>, config: UnsafeMutablePointer<fuse_config>) {
        // Unlinking an open file must delete it on the server, not rename it to .fuse_hidden*:
        // a hidden leftover would be visible to every other client of the server.
        config.pointee.hard_remove = 1
        config.pointee.use_ino = settings.useInodeNumbers ? 1 : 0
        config.pointee.readdir_ino = settings.readdirInodeNumbers ? 1 : 0
        config.pointee.direct_io = settings.directIO ? 1 : 0
        config.pointee.nullpath_ok = 0
        if let signal = settings.interruptSignal {
            config.pointee.intr = 1
            config.pointee.intr_signal = signal
        }
        cfuse_conn_request_large_io(connection, settings.maximumRequestSize)
        // libfuse refuses to start unless init names the max_read the mount was given.
        if let maximumRead = settings.maximumRead { connection.pointee.max_read = maximumRead }
        connection.pointee.max_readahead = max(settings.maximumRequestSize, settings.kernelReadAhead)
        cfuse_conn_want_splice_write(connection)
        // Options the user gave (max_readahead=, sync_read, ...) win over our defaults.
        cfuse_apply_connection_options(connectionOptions, connection)
    }
}

/// Settings libfuse 3 takes in the init callback rather than as options.
public struct FuseSettings: Sendable {
    /// The largest read and write request to ask the kernel for.
    public var maximumRequestSize: UInt32
    public var directIO: Bool
    public var useInodeNumbers: Bool
    public var readdirInodeNumbers: Bool
    /// Deliver interrupts to request threads with this signal (libfuse's `intr`).
    public var interruptSignal: Int32?
    /// How far ahead the kernel reads for a sequential reader, in bytes (see `KernelReadAhead`).
    public var kernelReadAhead: UInt32
    /// The `max_read` mount option, when given.
    public var maximumRead: UInt32?

    public init(maximumRequestSize: UInt32 = 1 << 20, directIO: Bool = false, useInodeNumbers: Bool = false,
                readdirInodeNumbers: Bool = false, interruptSignal: Int32? = nil, kernelReadAhead: UInt32 = 1 << 20,
                maximumRead: UInt32? = nil)
    {
        self.kernelReadAhead = kernelReadAhead
        self.maximumRead = maximumRead
        self.maximumRequestSize = maximumRequestSize
        self.directIO = directIO
        self.useInodeNumbers = useInodeNumbers
        self.readdirInodeNumbers = readdirInodeNumbers
        self.interruptSignal = interruptSignal
    }
}

public enum MountFailure: Error, Sendable, CustomStringConvertible {
    /// libfuse refused the options (it printed why on stderr).
    case libfuseRejectedOptions([String])
    /// fuse_mount failed (libfuse printed why on stderr).
    case mountFailed(String)

    public var description: String {
        switch self {
        case .libfuseRejectedOptions(let options):
            "libfuse rejected the mount options \(options.joined(separator: ","))"
        case .mountFailed(let mountpoint): "cannot mount on \(mountpoint)"
        }
    }
}

/// A value handed to another thread that Swift cannot prove safe to send (a C pointer whose
/// owner outlives the thread).
struct UnsafeSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
