import CFuse

#if canImport(Glibc)
import Glibc
#endif

/// One FUSE mount of a `FileSystemOperations` implementation, driven by libfuse's high-level API
/// in the order the design asks for: `fuse_new`, `fuse_mount`, `fuse_daemonize`, `fuse_loop_mt`.
/// Owning these steps (rather than calling `fuse_main`) lets the caller log in to the server and
/// fail before anything is mounted, and daemonize before any worker thread exists.
public final class FuseMount {
    public let fileSystem: any FileSystemOperations
    private var fuse: OpaquePointer?
    private var arguments: [UnsafeMutablePointer<CChar>?] = []
    private var operations = fuse_operations()
    private var isMounted = false
    private var signalHandlersInstalled = false
    /// The largest read and write request to ask the kernel for.
    private let maximumRequestSize: UInt32

    /// Creates the libfuse instance. `options` are `-o` options for libfuse (mount options such
    /// as `allow_other`, and high-level options such as `attr_timeout=`); a bad one fails here.
    public init(fileSystem: any FileSystemOperations, options: [String], maximumRequestSize: UInt32 = 1 << 20) throws(MountFailure) {
        self.fileSystem = fileSystem
        self.maximumRequestSize = maximumRequestSize
        var argv = ["ftpfs"]
        if !options.isEmpty {
            argv.append("-o")
            argv.append(options.joined(separator: ","))
        }
        arguments = argv.map { strdup($0) } + [nil]
        operations = FuseOperationTable.make()
        let context = Unmanaged.passUnretained(self).toOpaque()
        fuse = arguments.withUnsafeMutableBufferPointer { argvPointer in
            cfuse_new(Int32(argv.count), argvPointer.baseAddress, &operations, context)
        }
        guard fuse != nil else {
            freeArguments()
            throw .libfuseRejectedOptions(options)
        }
    }

    deinit {
        if let fuse {
            if signalHandlersInstalled { fuse_remove_signal_handlers(fuse_get_session(fuse)) }
            if isMounted { fuse_unmount(fuse) }
            fuse_destroy(fuse)
        }
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
        config.pointee.use_ino = 0
        config.pointee.nullpath_ok = 0
        cfuse_conn_request_large_io(connection, maximumRequestSize)
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
