import BlockCache
import FTPClient
import FTPFileSystem
import FuseBridge
import Logging
import MountOptions

#if canImport(Glibc)
import Glibc
#endif

/// The steps of one mount, in the order that makes failures cheap and clear: parse, check the
/// mountpoint and /dev/fuse, log in, check the remote directory, mount, detach, serve.
struct Mount {
    let command: FTPFSCommand

    func run() -> ExitStatus {
        do {
            return try mountAndServe()
        } catch {
            printError(error.message)
            return error.status
        }
    }

    private func mountAndServe() throws(Preflight.Failure) -> ExitStatus {
        // 1. Arguments. A password in the URL leaves ps at once (ArgumentScrubbing.swift).
        ArgumentScrubbing.maskURLPasswords()
        let url: ServerURL
        do {
            url = try ServerURL(parsing: command.url)
        } catch {
            throw Preflight.Failure(status: .usage, message: error.description)
        }
        var configuration: MountConfiguration
        do {
            configuration = try MountConfiguration(parsing: command.options)
            if command.debug { try configuration.apply("debug") }
        } catch {
            throw Preflight.Failure(status: .usage, message: error.description)
        }
        let foreground = command.foreground || command.debug || configuration.logging.debug
        let logger = LogSetup.bootstrap(level: configuration.logging.effectiveLevel)
        for warning in configuration.warnings(for: url) { printWarning(warning) }
        for notice in configuration.notices { logger.notice("\(notice)") }

        // 2. Local checks, before any network traffic.
        let mountpoint: String
        if Preflight.isPassedFuseDescriptor(command.mountpoint) {
            mountpoint = command.mountpoint  // mount.fuse3 -o drop_privileges mounted already
        } else {
            mountpoint = try Preflight.mountpoint(command.mountpoint,
                                                  allowNonEmpty: configuration.fuse.allowNonEmptyMountpoint)
            try Preflight.fuseDevice()
        }
        let codec: any NameCodec
        do {
            codec = try nameCodec(forEncoding: configuration.connection.encoding)
        } catch {
            throw Preflight.Failure(status: .usage, message: error.description)
        }
        let endpoint = configuration.endpoint(for: url)
        let tls = Self.tlsConfiguration(security: endpoint.security, options: configuration.tls)

        // 3. Credentials.
        let credentials = try Credentials.resolve(url: url, configuration: configuration)
        for warning in credentials.warnings { printWarning(warning) }

        // 4. Log in, so a wrong host or password fails before anything is mounted.
        let clientConfiguration = ClientConfiguration(
            host: endpoint.host, port: endpoint.port, user: credentials.user,
            password: Secret(credentials.password),
            connectTimeout: configuration.connection.connectTimeout.seconds,
            timeout: configuration.connection.timeout.seconds,
            dataConnectionMode: configuration.connection.activeMode
                ? .active(address: configuration.connection.activeAddress) : .passive,
            disableEPSV: configuration.connection.disableEPSV,
            listingCommand: FTPClient.ListingCommand(rawValue: configuration.connection.listing.rawValue) ?? .auto,
            listHiddenFiles: ListHiddenFiles(configuration.connection.listDashA), nameCodec: codec, tls: tls)
        let pool = ConnectionPool(configuration: clientConfiguration,
                                  maxConnections: configuration.connection.maxConnections,
                                  idleTimeout: configuration.connection.idleTimeout?.seconds ?? 60, logger: logger)
        do {
            try pool.start()
        } catch {
            throw Failures.connection(error, server: url.redacted)
        }
        let root = url.mountRoot(loginDirectory: pool.homeDirectory)
        var fileSystemConfiguration = FileSystemConfiguration(
            rootPath: root, directoryCacheTimeout: configuration.cache.directoryTimeout.seconds,
            readOnly: configuration.fuse.readOnly, cacheDirectory: configuration.cache.directory,
            atomicUpload: configuration.uploads.atomic,
            verification: FileSystemConfiguration.Verification(rawValue: configuration.uploads.verification.rawValue) ?? .auto)
        do throws(BlockCacheError) {
            fileSystemConfiguration.blockCache = try BlockCache(memoryBudget: configuration.cache.sizeInBytes,
                                                                directory: configuration.cache.directory)
        } catch {
            pool.shutdown()
            throw Preflight.Failure(status: .cacheDirectory, message: "\(error) (choose another with -o cache_dir=)")
        }
        fileSystemConfiguration.blockCacheScope = "\(url.scheme)://\(url.user ?? "anonymous")@\(url.host):\(url.port)"
        fileSystemConfiguration.revalidateInterval = configuration.cache.revalidate.seconds
        fileSystemConfiguration.serverScope = "\(url.user ?? "anonymous")@\(url.host):\(url.port)"
        let fileSystem = FTPFileSystem(store: PooledRemoteStore(pool: pool), configuration: fileSystemConfiguration,
                                       logger: logger)
        do throws(PrivateDirectory.Refusal) {
            // Staged edits and the upload spool go there (a read-only mount writes nothing).
            if !configuration.fuse.readOnly { try PrivateDirectory.prepare(fileSystem.stagingDirectory) }
        } catch {
            pool.shutdown()
            throw Preflight.Failure(status: .cacheDirectory, message: "\(error) (choose another with -o cache_dir=)")
        }
        do {
            try fileSystem.prepareLocalStorage()
        } catch {
            pool.shutdown()
            throw Preflight.Failure(status: .cacheDirectory,
                                    message: "cannot use \(fileSystem.stagingDirectory) for staging edited files: \(error) (choose another with -o cache_dir=)")
        }
        do throws(FTPError) {
            try fileSystem.verifyRoot()
        } catch {
            throw Failures.remoteDirectory(error, path: root)
        }
        logger.debug("logged in to \(url.redacted) as \(credentials.user); mounting \(root) on \(mountpoint)")

        // 5. Mount, detach, serve.
        let commandLine = configuration.fuseCommandLine(
            programName: "ftpfs", extraOptions: configuration.defaultFuseOptions(for: url))
        let initConfig = configuration.fuse.initConfig
        let settings = FuseSettings(
            directIO: initConfig.directIO, useInodeNumbers: initConfig.useIno,
            readdirInodeNumbers: initConfig.readdirIno,
            interruptSignal: initConfig.interrupt ? (initConfig.interruptSignal ?? SIGUSR1) : nil,
            kernelReadAhead: UInt32(clamping: configuration.cache.readaheadInBytes ?? (1 << 20)),
            maximumRead: UInt32(clamping: configuration.maximumRead))
        let fuse: FuseMount
        do {
            fuse = try FuseMount(fileSystem: fileSystem, commandLine: commandLine, settings: settings)
            try fuse.mount(at: mountpoint)
        } catch {
            pool.shutdown()
            throw Preflight.Failure(status: .mountFailed, message: error.description)
        }
        fileSystem.kernelInvalidator = fuse.kernelCacheInvalidator()
        if settings.interruptSignal != nil {
            // -o intr: a request waiting on the server gives up when the program is interrupted.
            Socket.requestInterrupted = { FuseMount.requestInterrupted() }
        }
        fuse.daemonize(foreground: foreground)
        if !foreground { LogSink.useSyslog() }  // stderr is /dev/null from here on
        logger.log(level: foreground ? .debug : .notice, "mounted \(url.redacted) on \(mountpoint)")
        switch fuse.kernelReadAhead {
        case .raised(let kibibytes): logger.debug("kernel read-ahead: \(kibibytes) KiB")
        case .unchanged(let reason): logger.info("kernel read-ahead left at its default (\(reason))")
        }
        let signals = MaintenanceSignals(fileSystem: fileSystem, interruptSignal: settings.interruptSignal, logger: logger)
        signals.start()
        let loop = configuration.fuse.loop
        let result = fuse.run(maximumThreads: Int(loop.maxThreads ?? 0),
                              maximumIdleThreads: Int(loop.maxIdleThreads ?? 0), cloneFD: loop.cloneFD)
        signals.stop()
        // Unmount first, so programs using the mount get an error at once instead of waiting;
        // then destroy (from fuse_destroy, when `fuse` goes) uploads what is still pending and
        // logs any upload that fails as an error.
        fuse.unmount()
        logger.info("unmounted \(mountpoint)")
        // The loop returns 0 after an unmount, the signal's number after SIGTERM/SIGINT/SIGHUP
        // (libfuse's exit handler), and -errno when it failed.
        return result == 0 || [SIGTERM, SIGINT, SIGHUP].contains(result) ? .success : .mountFailed
    }
}

extension Mount {
    /// FTPS settings from the URL scheme / `-o tls=` and the verification options. A pinned
    /// fingerprint wins over `cafile`; `tls_insecure` over both (the client logs a warning).
    static func tlsConfiguration(security: TransportSecurity, options: TLSOptions) -> TLSConfiguration? {
        let mode: TLSConfiguration.Mode
        switch security {
        case .none: return nil
        case .explicitTLSIfAvailable: mode = .explicitIfAvailable
        case .explicitTLS: mode = .explicit
        case .implicitTLS: mode = .implicit
        }
        let verification: TLSConfiguration.Verification =
            if options.skipVerification { .insecure }
            else if let pin = options.pinnedFingerprint { .pinned(sha256: pin.bytes) }
            else if let caFile = options.caFile { .caFile(caFile) }
            else { .system }
        return TLSConfiguration(mode: mode, verification: verification)
    }
}

extension Preflight.Failure {
    var description: String { message }
}

extension ListHiddenFiles {
    init(_ option: ListDashA) {
        switch option {
        case .auto: self = .auto
        case .yes: self = .always
        case .no: self = .never
        }
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

func printError(_ message: String) {
    writeAll("ftpfs: \(message)\n", to: STDERR_FILENO)
}

func printWarning(_ message: String) {
    writeAll("ftpfs: warning: \(message)\n", to: STDERR_FILENO)
}
