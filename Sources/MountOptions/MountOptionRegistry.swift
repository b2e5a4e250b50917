/// The one table of `-o` options: parsing, routing to libfuse and `--help` all read it.
///
/// The libfuse rows were checked against libfuse 3.14.0 as Debian 12 ships it, by handing each
/// option to `fuse_new`, `fuse_parse_conn_info_opts` and `fuse_parse_cmdline` and seeing which
/// one consumes it. Options libfuse 3.14 rejects everywhere are not here, even when mount(8)
/// knows them (`relatime`, `strictatime`, `nodiratime`, `lazytime`, libfuse 2's `nonempty` and
/// `large_read`); `direct_io`, `hard_remove`, `use_ino`, `readdir_ino`, `intr` and `intr_signal`
/// became `struct fuse_config` fields in libfuse 3, so they are routed to the `init` callback.
public enum MountOptionRegistry {
    public static let descriptors: [MountOptionDescriptor] = connection + tls + caching + uploads + logging
        + mount + fstab

    // MARK: FTP connection

    private static let connection: [MountOptionDescriptor] = [
        .integer("max_conns", 1...64, .connection, help: "simultaneous FTP connections (4)") {
            $0.connection.maxConnections = $1
        },
        .duration("connect_timeout", allowsZero: false, .connection,
                  help: "seconds to connect and log in (10)") { $0.connection.connectTimeout = $1 },
        .duration("timeout", allowsZero: false, .connection,
                  help: "seconds a reply or transfer may stall (30)") {
            $0.connection.timeout = $1
        },
        .duration("idle_timeout", allowsZero: true, .connection,
                  help: "close idle connections after SECS; 0 = auto (0)") {
            $0.connection.idleTimeout = $1 == .zero ? nil : $1
        },
        .flag("active", .connection, help: "active mode (PORT/EPRT) instead of passive") {
            $0.connection.activeMode = true
        },
        .string("active_address", placeholder: "ADDR", .connection,
                help: "address for PORT/EPRT (implies active)") {
            $0.connection.activeAddress = $1
            $0.connection.activeMode = true
        },
        .flag("disable_epsv", .connection, help: "use PASV only, never EPSV") { $0.connection.disableEPSV = true },
        .string("user", placeholder: "NAME", .connection, help: "login name (overrides the URL's)") {
            $0.connection.user = $1
        },
        .flag("netrc", .connection, help: "take login and password from ~/.netrc") {
            $0.connection.useNetrc = true
        },
        .string("netrc_file", placeholder: "PATH", .connection, help: "netrc file to use (implies netrc)") {
            $0.connection.netrcFile = $1
            $0.connection.useNetrc = true
        },
        .string("passfile", placeholder: "PATH", .connection, help: "read the password from the first line of PATH") {
            $0.connection.passwordFile = $1
        },
        .string("encoding", placeholder: "NAME", .connection,
                help: "name charset, e.g. GBK; ASCII-based only (UTF-8)") {
            let isUTF8 = ["utf-8", "utf8"].contains($1.lowercased())
            $0.connection.encoding = isUTF8 ? nil : $1
        },
        .choice("list", ["auto": ListingCommand.auto, "mlsd": .mlsd, "list": .list], .connection,
                help: "listing command; auto = MLSD if offered (auto)") { $0.connection.listing = $1 },
        .choice("list_a", ["auto": ListDashA.auto, "yes": .yes, "no": .no], .connection,
                help: "send LIST -a to see dot files (auto)") { $0.connection.listDashA = $1 },
    ]

    // MARK: TLS

    private static let tls: [MountOptionDescriptor] = [
        .choice("tls", [
            "none": TransportSecurity.none, "explicit": .explicitTLS, "required": .explicitTLS,
            "try": .explicitTLSIfAvailable, "implicit": .implicitTLS,
        ], placeholder: "MODE", .tls, help: "none, try, explicit (= required), implicit (URL)") {
            $0.tls.security = $1
        },
        .string("cafile", placeholder: "PATH", .tls, help: "CA certificates to verify the server with") {
            $0.tls.caFile = $1
        },
        .fingerprint("tls_fingerprint", .tls, help: "accept only this certificate (SHA-256)") {
            $0.tls.pinnedFingerprint = $1
        },
        .flag("tls_insecure", .tls, help: "skip certificate verification (dangerous)") {
            $0.tls.skipVerification = true
        },
    ]

    // MARK: Caching

    private static let caching: [MountOptionDescriptor] = [
        .duration("dir_cache_timeout", allowsZero: true, .caching,
                  help: "seconds listings and attributes stay cached (30)") { $0.cache.directoryTimeout = $1 },
        .duration("revalidate", allowsZero: true, .caching,
                  help: "seconds after which an open, or a lookup of a name a listing lacked, asks the server again (1)") {
            $0.cache.revalidate = $1
        },
        .string("cache_dir", placeholder: "PATH", .caching, help: "stage edited files in PATH, and keep cached blocks there (up to 1G) across mounts") {
            $0.cache.directory = $1
        },
        .size("cache_size", .caching, help: "memory for blocks read at random places, K/M/G suffixes; 0 = none (32M)") {
            $0.cache.sizeInBytes = $1
        },
        .size("readahead", .caching, help: "how far the kernel reads ahead of a sequential reader; raising it above 128K needs root (1M)") {
            $0.cache.readaheadInBytes = $1
        },
    ]

    // MARK: Uploads

    private static let uploads: [MountOptionDescriptor] = [
        .choice("atomic_upload", ["yes": true, "no": false], .uploads,
                help: "upload to a temporary name, then rename (yes)") { $0.uploads.atomic = $1 },
        .choice("verify", ["auto": UploadVerification.auto, "size": .size, "off": .off], .uploads,
                help: "check uploaded sizes; auto = if SIZE works (auto)") {
            $0.uploads.verification = $1
        },
    ]

    // MARK: Logging

    private static let logging: [MountOptionDescriptor] = [
        .flag("debug", .logging, .libfuse(.fuseNew), help: "debug output from ftpfs and libfuse, like -d") {
            $0.logging.debug = true
        },
        .choice("log_level", [
            "trace": LogLevel.trace, "debug": .debug, "info": .info, "notice": .notice, "warning": .warning,
            "error": .error, "critical": .critical,
        ], .logging, help: "how much to log (info)") { $0.logging.level = $1 },
    ]

    // MARK: FUSE and mount

    private static let mount: [MountOptionDescriptor] = [
        .flag("nonempty", .mount, help: "allow mounting over a non-empty directory") {
            $0.fuse.allowNonEmptyMountpoint = true
        },
        .flag("ro", .mount, .libfuse(.fuseNew), help: "mount read-only") { $0.fuse.readOnly = true },
        .flag("rw", .mount, .libfuse(.fuseNew), help: "mount read-write (default)") { $0.fuse.readOnly = false },
        .flag("allow_other", .mount, .libfuse(.fuseNew), help: "allow access by all users (default_permissions)") {
            $0.fuse.allowOther = true
        },
        .flag("allow_root", .mount, .libfuse(.fuseNew), help: "allow access by the owner and root") {
            $0.fuse.allowRoot = true
        },
        .flag("default_permissions", .mount, .libfuse(.fuseNew),
              help: "kernel checks permissions from mode bits") {
            $0.fuse.defaultPermissions = true
        },
        .integer("uid", 0...Int(Int32.max), .mount, .libfuse(.fuseNew), help: "owner of every file") {
            $0.fuse.uid = UInt32($1)
        },
        .integer("gid", 0...Int(Int32.max), .mount, .libfuse(.fuseNew), help: "group of every file") {
            $0.fuse.gid = UInt32($1)
        },
        .octal("umask", 0...0o777, placeholder: "OCTAL", .mount, .libfuse(.fuseNew),
               help: "permission bits to clear, in octal") { $0.fuse.umask = UInt32($1) },
        .duration("attr_timeout", allowsZero: true, .mount, .libfuse(.fuseNew),
                  help: "seconds the kernel caches attributes (1)") { $0.fuse.attributeTimeout = $1 },
        .duration("entry_timeout", allowsZero: true, .mount, .libfuse(.fuseNew),
                  help: "seconds the kernel caches names (1)") { $0.fuse.entryTimeout = $1 },
        .duration("negative_timeout", allowsZero: true, .mount, .libfuse(.fuseNew),
                  help: "seconds the kernel caches missing names (entry_timeout)") { $0.fuse.negativeTimeout = $1 },
        .duration("ac_attr_timeout", allowsZero: true, .mount, .libfuse(.fuseNew),
                  help: "attribute timeout for auto_cache (attr_timeout)") { _, _ in },
        .flag("auto_unmount", .mount, .libfuse(.fuseNew), help: "unmount when ftpfs exits") {
            $0.fuse.autoUnmount = true
        },
        .string("fsname", placeholder: "NAME", .mount, .libfuse(.fuseNew),
                help: "source in /proc/mounts (URL without password)") { $0.fuse.filesystemName = $1 },
        .string("subtype", placeholder: "NAME", .mount, .libfuse(.fuseNew),
                help: "type shown as fuse.NAME (ftpfs)") { $0.fuse.subtype = $1 },
        .flag("kernel_cache", .mount, .libfuse(.fuseNew), help: "never invalidate the kernel's page cache") {
            $0.fuse.kernelCache = true
        },
        .flag("auto_cache", .mount, .libfuse(.fuseNew), help: "drop page cache when mtime or size change") {
            $0.fuse.autoCache = true
        },
        .flag("noauto_cache", .mount, .libfuse(.fuseNew), help: "do not use auto_cache") { $0.fuse.autoCache = false },
        .flag("no_rofd_flush", .mount, .libfuse(.fuseNew), help: "do not flush read-only files on close"),
        .flag("noforget", .mount, .libfuse(.fuseNew), help: "never forget cached inodes"),
        .integer("remember", 0...Int(UInt32.max), placeholder: "SECS", .mount, .libfuse(.fuseNew),
                 help: "remember cached inodes for SECS seconds"),
        .string("modules", placeholder: "M1[:M2]", .mount, .libfuse(.fuseNew),
                help: "libfuse modules to stack (subdir, iconv)"),
        .string("subdir", placeholder: "DIR", .mount, .libfuse(.fuseNew), help: "subdir module: directory to expose"),
        .flag("rellinks", .mount, .libfuse(.fuseNew), help: "subdir module: make absolute symlinks relative"),
        .flag("norellinks", .mount, .libfuse(.fuseNew), help: "subdir module: keep symlinks as they are"),
        .string("from_code", placeholder: "CHARSET", .mount, .libfuse(.fuseNew), help: "iconv module: file name encoding"),
        .string("to_code", placeholder: "CHARSET", .mount, .libfuse(.fuseNew), help: "iconv module: local encoding"),
        .integer("max_read", 1...Int(UInt32.max), .mount, .libfuse(.fuseNew), help: "largest read request in bytes") {
            $0.fuse.maxRead = UInt32($1)
        },
        .flag("suid", .mount, .libfuse(.fuseNew), help: "honour set-user-ID bits"),
        .flag("nosuid", .mount, .libfuse(.fuseNew), help: "ignore set-user-ID bits"),
        .flag("dev", .mount, .libfuse(.fuseNew), help: "interpret device files"),
        .flag("nodev", .mount, .libfuse(.fuseNew), help: "do not interpret device files"),
        .flag("exec", .mount, .libfuse(.fuseNew), help: "allow running programs"),
        .flag("noexec", .mount, .libfuse(.fuseNew), help: "do not allow running programs"),
        .flag("atime", .mount, .libfuse(.fuseNew), help: "update access times"),
        .flag("noatime", .mount, .libfuse(.fuseNew), help: "do not update access times"),
        .flag("sync", .mount, .libfuse(.fuseNew), help: "synchronous writes"),
        .flag("async", .mount, .libfuse(.fuseNew), help: "asynchronous writes (default)"),
        .flag("dirsync", .mount, .libfuse(.fuseNew), help: "synchronous directory changes"),
        .flag("blkdev", .mount, .libfuse(.fuseNew), help: "mount as fuseblk (root only)"),
        .integer("blksize", 512...65536, .mount, .libfuse(.fuseNew), help: "block size for fuseblk"),
        .string("context", placeholder: "CONTEXT", .mount, .libfuse(.fuseNew), help: "SELinux context of all files"),
        .string("fscontext", placeholder: "CONTEXT", .mount, .libfuse(.fuseNew), help: "SELinux file system context"),
        .string("defcontext", placeholder: "CONTEXT", .mount, .libfuse(.fuseNew), help: "SELinux default context"),
        .string("rootcontext", placeholder: "CONTEXT", .mount, .libfuse(.fuseNew), help: "SELinux root inode context"),

        .integer("max_write", 1...Int(UInt32.max), .mount, .libfuse(.connectionInfo),
                 help: "largest write request in bytes") { $0.fuse.maxWrite = UInt32($1) },
        .integer("max_readahead", 0...Int(UInt32.max), .mount, .libfuse(.connectionInfo),
                 help: "kernel readahead in bytes") { $0.fuse.maxReadahead = UInt32($1) },
        .integer("max_background", 1...65535, .mount, .libfuse(.connectionInfo),
                 help: "background requests the kernel may queue") { $0.fuse.maxBackground = UInt32($1) },
        .integer("congestion_threshold", 1...65535, .mount, .libfuse(.connectionInfo),
                 help: "queued requests counting as congestion") {
            $0.fuse.congestionThreshold = UInt32($1)
        },
        .flag("sync_read", .mount, .libfuse(.connectionInfo), help: "send reads one at a time") {
            $0.fuse.asyncRead = false
        },
        .flag("async_read", .mount, .libfuse(.connectionInfo), help: "let reads overlap (default)") {
            $0.fuse.asyncRead = true
        },

        .flag("clone_fd", .mount, .libfuse(.loopConfig), help: "one /dev/fuse descriptor per thread") {
            $0.fuse.loop.cloneFD = true
        },
        .integer("max_idle_threads", 0...Int(UInt32.max), .mount, .libfuse(.loopConfig),
                 help: "idle worker threads to keep") { $0.fuse.loop.maxIdleThreads = UInt32($1) },
        .integer("max_threads", 1...100_000, .mount, .libfuse(.loopConfig), help: "most worker threads") {
            $0.fuse.loop.maxThreads = UInt32($1)
        },

        .flag("direct_io", .mount, .libfuse(.initConfig), help: "bypass the kernel page cache") {
            $0.fuse.initConfig.directIO = true
        },
        .flag("hard_remove", .mount, .libfuse(.initConfig), help: "delete open files at once (no .fuse_hidden)") {
            $0.fuse.initConfig.hardRemove = true
        },
        .flag("use_ino", .mount, .libfuse(.initConfig), help: "use ftpfs's inode numbers") {
            $0.fuse.initConfig.useIno = true
        },
        .flag("readdir_ino", .mount, .libfuse(.initConfig), help: "fill in d_ino in directory listings") {
            $0.fuse.initConfig.readdirIno = true
        },
        .flag("intr", .mount, .libfuse(.initConfig), help: "let signals interrupt requests") {
            $0.fuse.initConfig.interrupt = true
        },
        .integer("intr_signal", 1...64, placeholder: "SIG", .mount, .libfuse(.initConfig),
                 help: "signal that interrupts requests (10 = SIGUSR1)") {
            $0.fuse.initConfig.interruptSignal = Int32($1)
        },
    ]

    // MARK: fstab

    /// What mount(8) and systemd keep in fstab for themselves. mount.fuse3 drops some of these
    /// itself, but not all (`defaults`, `owner`, `comment=`, `x-…`), and `ftpfs` may be started
    /// by other helpers, so all are accepted here. `user=NAME` is ftpfs's login option; only the
    /// bare `user` is fstab's.
    private static let fstab: [MountOptionDescriptor] = [
        "auto", "noauto", "user", "users", "nouser", "owner", "group", "_netdev", "nofail", "defaults",
    ].map(MountOptionDescriptor.fstabFlag) + [
        .fstab(.exact("comment"), placeholder: "TEXT"),
        .fstab(.prefix("x-")),
    ]

    // MARK: Lookup

    /// The result of looking an option up by name.
    enum Lookup {
        case found(MountOptionDescriptor)
        /// The name is known, but only with a value (`max_conns`) or only without (`ro=1`).
        case needsValue(MountOptionDescriptor)
        case takesNoValue(MountOptionDescriptor)
        case unknown
    }

    static func lookup(_ name: String, hasValue: Bool) -> Lookup {
        let candidates = descriptors.filter { $0.matches(name) }
        if let exact = candidates.first(where: { $0.kind == .ignored || $0.takesValue == hasValue }) {
            return .found(exact)
        }
        guard let other = candidates.first else { return .unknown }
        return hasValue ? .takesNoValue(other) : .needsValue(other)
    }
}
