/// A `-o` option ftpfs cannot accept. The text names the option, and the value when there is
/// one; no option carries a secret (passwords come from the URL, FTPFS_PASSWORD, `passfile` or
/// netrc), and an unknown option's value is never shown, in case it was meant to be one.
public enum MountOptionError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownOption(String)
    case missingValue(option: String, expected: String)
    case unexpectedValue(option: String, value: String)
    case invalidValue(option: String, value: String, expected: String)
    case conflictingOptions(String, String)

    public var description: String {
        switch self {
        case .unknownOption(let name):
            "unknown option '\(name)'"
        case .missingValue(let option, let expected):
            "\(option): expected \(expected), got no value"
        case .unexpectedValue(let option, let value):
            "\(option): takes no value, got '\(value)'"
        case .invalidValue(let option, let value, let expected):
            "\(option): expected \(expected), got '\(value)'"
        case .conflictingOptions(let first, let second):
            "\(first) and \(second) cannot be used together"
        }
    }
}

extension MountConfiguration {
    /// Parses the arguments of every `-o` in order: `["ro,uid=1000", "max_conns=2"]`.
    ///
    /// Options are comma-separated, `name` or `name=value`; empty items (`a,,b`) are skipped as
    /// mount.fuse3 skips them. A later option overrides an earlier one; all libfuse options are
    /// kept in order, because libfuse also lets the last one win.
    public init(parsing optionArguments: [String]) throws(MountOptionError) {
        self.init()
        for argument in optionArguments {
            for item in argument.split(separator: ",") {
                try apply(String(item))
            }
        }
        try checkCombinations()
        addImpliedOptions()
    }

    /// Applies one option, `name` or `name=value`.
    public mutating func apply(_ option: String) throws(MountOptionError) {
        let equals = option.firstIndex(of: "=")
        let name = String(option[..<(equals ?? option.endIndex)])
        let value = equals.map { String(option[option.index(after: $0)...]) }

        let descriptor: MountOptionDescriptor
        switch MountOptionRegistry.lookup(name, hasValue: value != nil) {
        case .found(let found): descriptor = found
        case .unknown: throw .unknownOption(name)
        case .needsValue(let expecting): throw .missingValue(option: name, expected: expecting.kind.expectation)
        case .takesNoValue: throw .unexpectedValue(option: name, value: value ?? "")
        }

        guard let update = descriptor.interpret(value) else {
            throw .invalidValue(option: name, value: value ?? "", expected: descriptor.kind.expectation)
        }
        update(&self)

        switch descriptor.consumer {
        case .ftpfs: break
        case .libfuse(let route): fuseOptions.append(FuseOption(name: name, value: value, route: route))
        case .ignored: ignoredOptions.append(name)
        }
    }

    private func checkCombinations() throws(MountOptionError) {
        // libfuse would quietly let allow_root narrow allow_other to root and the owner.
        if fuse.allowOther && fuse.allowRoot { throw .conflictingOptions("allow_other", "allow_root") }
    }

    /// `allow_other` without `default_permissions` lets every local user read, change and delete
    /// anything the mount owner's FTP login may, whatever the modes shown say: ftpfs acts for
    /// whoever asks, and nothing checks who that is. With `default_permissions` the kernel
    /// checks each user against the owner and modes shown (`uid=`, `gid=`, `umask=` widen them
    /// where sharing is meant), as on any local file system.
    private mutating func addImpliedOptions() {
        if fuse.allowOther && !fuse.defaultPermissions {
            fuse.defaultPermissions = true
            fuseOptions.append(FuseOption(name: "default_permissions", route: .fuseNew))
            notices.append("""
                allow_other: adding default_permissions, so that the kernel checks other users' access \
                against the modes shown; without it every local user could act with this mount's FTP login \
                (widen access with umask=, uid= or gid= where sharing is meant)
                """)
        }
    }
}

// MARK: - Handing options to libfuse

extension MountConfiguration {
    /// The options that belong in the `struct fuse_args` built for libfuse, in order: those for
    /// `fuse_new` and the connection options, which `fuse_parse_conn_info_opts` removes from the
    /// same arguments before `fuse_new` sees them.
    public var fuseArguments: [String] {
        fuseOptions.filter { $0.route == .fuseNew || $0.route == .connectionInfo }.map(\.text)
    }

    /// The options given for one route, in order.
    public func fuseArguments(for route: FuseOptionRoute) -> [String] {
        fuseOptions.filter { $0.route == route }.map(\.text)
    }

    /// The argv for `FUSE_ARGS_INIT`: the program name, then one `-o` holding ``fuseArguments``
    /// plus `extraOptions` (such as a default `fsname=` or `subtype=`), with commas and
    /// backslashes escaped the way fuse_opt.c reads them.
    public func fuseCommandLine(programName: String, extraOptions: [String] = []) -> [String] {
        let options = fuseArguments + extraOptions
        guard !options.isEmpty else { return [programName] }
        return [programName, "-o", options.map(Self.escapedForFuseOpt).joined(separator: ",")]
    }

    /// `fsname=` and `subtype=` for whichever of them the user did not give: the URL without its
    /// password, so /proc/mounts and df name the server, and `ftpfs`, so the type reads
    /// `fuse.ftpfs`. (`fuse_new` adds no subtype itself; only `fuse_parse_cmdline` would.)
    /// Unless given, `negative_timeout` is `entry_timeout` (1 s): a name looked up and found
    /// missing is remembered by the kernel as long as a name found, so `stat` of a missing file
    /// again (shells searching PATH, make, editors' backup probes) does not even reach ftpfs.
    /// Creating the name through the mount replaces the kernel's negative entry at once.
    /// Pass them as `extraOptions` to ``fuseCommandLine(programName:extraOptions:)``.
    public func defaultFuseOptions(for url: ServerURL) -> [String] {
        (fuse.filesystemName == nil ? ["fsname=" + url.withoutPassword] : [])
            + (fuse.subtype == nil ? ["subtype=ftpfs"] : [])
            + (fuseOptions.contains { $0.name == "max_read" } ? [] : ["max_read=\(Self.defaultMaximumRead)"])
            + (fuse.negativeTimeout == nil
                ? ["negative_timeout=" + (fuseOptions.last { $0.name == "entry_timeout" }?.value ?? "1")] : [])
    }

    /// The largest read request the kernel sends. Replies up to 512 KiB fit, with libfuse's
    /// header, in a pipe of 1 MiB (Linux's limit without CAP_SYS_RESOURCE), so libfuse can
    /// splice them to the kernel; a 1 MiB reply needs a larger pipe and is copied instead.
    public static let defaultMaximumRead = 512 * 1024

    /// `max_read`: what the user gave, else the default; libfuse needs it again at init.
    public var maximumRead: Int {
        fuseOptions.last { $0.name == "max_read" }.flatMap { Int($0.value ?? "") } ?? Self.defaultMaximumRead
    }

    /// fuse_opt.c splits `-o` at commas and treats a backslash as escaping the next character.
    static func escapedForFuseOpt(_ option: String) -> String {
        var escaped = ""
        for character in option {
            if character == "," || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}

// MARK: - The server, with the options applied

/// Where to connect and how, once the URL and `-o tls=` are combined.
public struct ServerEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public var security: TransportSecurity

    public var description: String {
        (host.contains(":") ? "[" + host + "]" : host) + ":" + String(port) + " (" + security.description + ")"
    }
}

extension MountConfiguration {
    /// The security `-o tls=` asks for, or else the URL scheme's.
    public func transportSecurity(for url: ServerURL) -> TransportSecurity {
        tls.security ?? url.security
    }

    /// The host, port and security to connect with. A URL without a port gets the default of the
    /// security in force, so `ftp://h -o tls=implicit` connects to port 990.
    public func endpoint(for url: ServerURL) -> ServerEndpoint {
        let security = transportSecurity(for: url)
        return ServerEndpoint(host: url.host, port: url.explicitPort ?? security.defaultPort, security: security)
    }

    /// Options that are accepted but will have no effect with this URL, as lines to log.
    public func warnings(for url: ServerURL) -> [String] {
        var warnings: [String] = []
        if transportSecurity(for: url) == .none {
            let tlsOptions = [
                tls.caFile != nil ? "cafile" : nil,
                tls.pinnedFingerprint != nil ? "tls_fingerprint" : nil,
                tls.skipVerification ? "tls_insecure" : nil,
            ].compactMap { $0 }
            if !tlsOptions.isEmpty {
                warnings.append(tlsOptions.joined(separator: ", ") + " ignored: the connection does not use TLS")
            }
        }
        return warnings
    }
}
