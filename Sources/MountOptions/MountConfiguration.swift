/// Everything the `-o` options say, typed, with ftpfs's defaults.
///
/// Built by ``init(parsing:)`` from the option strings through the one table in
/// ``MountOptionRegistry``. Options that libfuse must see are also kept, in command-line order, in
/// ``fuseOptions``; the ones ftpfs itself needs to know about are recorded in ``fuse`` as well.
public struct MountConfiguration: Sendable, Hashable {
    public var connection = ConnectionOptions()
    public var tls = TLSOptions()
    public var cache = CacheOptions()
    public var uploads = UploadOptions()
    public var logging = LoggingOptions()
    public var fuse = FuseOptions()

    /// The libfuse options given, in order, each with where it must be handed to libfuse.
    public var fuseOptions: [FuseOption] = []
    /// Names of fstab bookkeeping options that were accepted and dropped (`_netdev`, `noauto`, …).
    public var ignoredOptions: [String] = []
    /// What ftpfs decided for the user while parsing (an option it added, and why), to log as
    /// notices.
    public var notices: [String] = []

    public init() {}
}

// MARK: - FTP connection

public struct ConnectionOptions: Sendable, Hashable {
    /// `max_conns`: simultaneous control connections the pool may open.
    public var maxConnections = 4
    /// `connect_timeout`: limit for TCP connect, TLS handshake and login together.
    public var connectTimeout: Duration = .seconds(10)
    /// `timeout`: limit for any one reply or data transfer making no progress.
    public var timeout: Duration = .seconds(30)
    /// `idle_timeout`: close a connection idle this long; nil (`0`, the default) lets the pool
    /// decide, e.g. from the server's own idle limit.
    public var idleTimeout: Duration?
    /// `active`: PORT/EPRT instead of PASV/EPSV. Also set by `active_address`.
    public var activeMode = false
    /// `active_address`: the address announced in PORT/EPRT, for NAT.
    public var activeAddress: String?
    /// `disable_epsv`: use PASV (and PORT) only, for servers and firewalls that break EPSV.
    public var disableEPSV = false
    /// `user`: the login name; overrides the URL's.
    public var user: String?
    /// `netrc` (or `netrc_file`): look the login up in a netrc file.
    public var useNetrc = false
    /// `netrc_file`: the netrc file to read instead of `~/.netrc`.
    public var netrcFile: String?
    /// `passfile`: a file whose first line is the password.
    public var passwordFile: String?
    /// `encoding`: the character set of names on the server (e.g. `GBK`); nil means UTF-8.
    public var encoding: String?
    /// `list`: which command lists directories.
    public var listing: ListingCommand = .auto
    /// `list_a`: whether LIST is sent as `LIST -a` so servers include dot files.
    public var listDashA: ListDashA = .auto

    public init() {}
}

/// `-o list=`: how directories are listed.
public enum ListingCommand: String, Sendable, Hashable, CaseIterable {
    /// MLSD when FEAT advertises MLST, LIST otherwise (DESIGN.md decision 4).
    case auto
    case mlsd
    case list
}

/// `-o list_a=`: whether to ask LIST for dot files with `-a`, which most Unix servers honour and
/// a few treat as a file name.
public enum ListDashA: String, Sendable, Hashable, CaseIterable {
    /// Try `LIST -a` and fall back to plain LIST when the server rejects it.
    case auto
    case yes
    case no
}

// MARK: - TLS

public struct TLSOptions: Sendable, Hashable {
    /// `tls`: overrides the security the URL scheme implies; nil means "from the scheme".
    public var security: TransportSecurity?
    /// `cafile`: PEM file of CA certificates to verify the server with, instead of the system's.
    public var caFile: String?
    /// `tls_fingerprint`: accept exactly the server certificate with this SHA-256 fingerprint.
    public var pinnedFingerprint: CertificateFingerprint?
    /// `tls_insecure`: skip certificate verification altogether.
    public var skipVerification = false

    public init() {}
}

// MARK: - Caching

public struct CacheOptions: Sendable, Hashable {
    /// `dir_cache_timeout`: how long a listing, and the attributes it gave, stay fresh.
    public var directoryTimeout: Duration = .seconds(30)
    /// `revalidate`: cached attributes older than this are checked with the server when a file
    /// is opened, and a name missing from a listing older than this is looked up on the server
    /// (close-to-open consistency, as NFS gives it).
    public var revalidate: Duration = .seconds(1)
    /// `cache_dir`: keep cached blocks on disk here as well as in memory.
    public var directory: String?
    /// `cache_size`: the memory budget of the block cache, in bytes.
    public var sizeInBytes = 32 * 1024 * 1024
    /// `readahead`: how far the kernel reads ahead of a sequential reader, in bytes; nil for the
    /// default (1 MiB, the largest request).
    public var readaheadInBytes: Int?

    public init() {}
}

// MARK: - Uploads

public struct UploadOptions: Sendable, Hashable {
    /// `atomic_upload`: upload to a temporary name and rename it over the target, so readers
    /// never see a half-written file.
    public var atomic = true
    /// `verify`: how an upload is checked after the transfer.
    public var verification: UploadVerification = .auto

    public init() {}
}

/// `-o verify=`.
public enum UploadVerification: String, Sendable, Hashable, CaseIterable {
    /// Compare sizes when the server supports SIZE.
    case auto
    /// Always compare sizes; a server without SIZE fails the upload.
    case size
    case off
}

// MARK: - Logging

public struct LoggingOptions: Sendable, Hashable {
    /// `debug` (or `-d`): debug output from ftpfs and libfuse; implies running in the foreground.
    public var debug = false
    /// `log_level`.
    public var level: LogLevel = .info

    /// The level to log at: `debug` lowers the level to `.debug` unless it is already lower.
    public var effectiveLevel: LogLevel { debug ? min(level, .debug) : level }

    public init() {}
}

/// `-o log_level=`, named as swift-log names its levels, most verbose first.
public enum LogLevel: String, Sendable, Hashable, CaseIterable, Comparable {
    case trace, debug, info, notice, warning, error, critical

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

// MARK: - FUSE and mount

/// The libfuse and mount options ftpfs itself needs to know about, recorded as they pass through
/// to libfuse, plus `nonempty`, which is ftpfs's own.
public struct FuseOptions: Sendable, Hashable {
    /// `ro` / `rw`: the last one given wins, as with mount(8).
    public var readOnly = false
    public var allowOther = false
    public var allowRoot = false
    public var defaultPermissions = false
    /// `uid=`, `gid=`, `umask=`: libfuse applies them to every getattr reply.
    public var uid: UInt32?
    public var gid: UInt32?
    public var umask: UInt32?
    /// `attr_timeout`, `entry_timeout`, `negative_timeout`: the kernel's own caches (libfuse's
    /// defaults are 1 s, 1 s and 0 s; ftpfs makes `negative_timeout` `entry_timeout`).
    public var attributeTimeout: Duration?
    public var entryTimeout: Duration?
    public var negativeTimeout: Duration?
    public var autoUnmount = false
    public var filesystemName: String?
    public var subtype: String?
    public var kernelCache = false
    /// `auto_cache` / `noauto_cache`: nil when neither was given.
    public var autoCache: Bool?
    public var maxRead: UInt32?
    /// Connection options (``FuseOptionRoute/connectionInfo``).
    public var maxWrite: UInt32?
    public var maxReadahead: UInt32?
    public var maxBackground: UInt32?
    public var congestionThreshold: UInt32?
    /// `async_read` / `sync_read`: nil when neither was given.
    public var asyncRead: Bool?
    /// `nonempty`: ftpfs's own check. libfuse 3 always mounts over a non-empty directory; ftpfs
    /// refuses to unless this is given, as fuse 2 did.
    public var allowNonEmptyMountpoint = false
    /// Options for the multithreaded loop (``FuseOptionRoute/loopConfig``).
    public var loop = FuseLoopOptions()
    /// `struct fuse_config` fields the `init` callback sets (``FuseOptionRoute/initConfig``).
    public var initConfig = FuseInitConfig()

    public init() {}
}

/// What `fuse_parse_cmdline` would have put in `struct fuse_loop_config`; set it with
/// `fuse_loop_cfg_set_clone_fd`, `fuse_loop_cfg_set_idle_threads` and
/// `fuse_loop_cfg_set_max_threads`.
public struct FuseLoopOptions: Sendable, Hashable {
    /// `clone_fd`: one /dev/fuse descriptor per worker thread.
    public var cloneFD = false
    /// `max_idle_threads`, `max_threads`: nil keeps libfuse's defaults.
    public var maxIdleThreads: UInt32?
    public var maxThreads: UInt32?

    public init() {}
}

/// Fields of `struct fuse_config` that libfuse 2 parsed as options and libfuse 3 leaves to the
/// file system's `init` callback. ftpfs accepts them as options, as sshfs does.
public struct FuseInitConfig: Sendable, Hashable {
    public var directIO = false
    public var hardRemove = false
    public var useIno = false
    public var readdirIno = false
    public var interrupt = false
    public var interruptSignal: Int32?

    public init() {}
}

// MARK: - Options handed to libfuse

/// Where the caller must hand a libfuse option. libfuse 3.14 parses its options in three places
/// and rejects any option a place does not know, so each must go to the right one.
public enum FuseOptionRoute: String, Sendable, Hashable, CaseIterable {
    /// The arguments of `fuse_new`: high-level library options (fuse.c), session options
    /// (fuse_lowlevel.c) and mount options (mount.c).
    case fuseNew
    /// Connection options: `fuse_parse_conn_info_opts` takes them out of the arguments before
    /// `fuse_new`, and `fuse_apply_conn_info_opts` applies them in the `init` callback.
    case connectionInfo
    /// Options `fuse_parse_cmdline` would parse into `struct fuse_loop_config`. They must not
    /// reach `fuse_new`; see ``FuseOptions/loop``.
    case loopConfig
    /// `struct fuse_config` fields that libfuse 3 no longer parses; the `init` callback sets
    /// them from ``FuseOptions/initConfig``. They must not reach `fuse_new`.
    case initConfig
}

/// One libfuse option as given on the command line.
public struct FuseOption: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: String?
    public var route: FuseOptionRoute

    public init(name: String, value: String? = nil, route: FuseOptionRoute) {
        self.name = name
        self.value = value
        self.route = route
    }

    /// `name` or `name=value`, as libfuse expects it inside `-o`.
    public var text: String { value.map { name + "=" + $0 } ?? name }
    public var description: String { text }
}
