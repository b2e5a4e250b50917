import MountOptions
import Testing

@Suite struct MountOptionParsingTests {
    @Test func defaults() throws {
        let configuration = try MountConfiguration(parsing: [])
        #expect(configuration == MountConfiguration())
        #expect(configuration.connection.maxConnections == 4)
        #expect(configuration.connection.connectTimeout == .seconds(10))
        #expect(configuration.connection.timeout == .seconds(30))
        #expect(configuration.connection.idleTimeout == nil)
        #expect(configuration.connection.listing == .auto)
        #expect(configuration.connection.listDashA == .auto)
        #expect(configuration.connection.encoding == nil)
        #expect(configuration.tls.security == nil)
        #expect(configuration.cache.directoryTimeout == .seconds(30))
        #expect(configuration.cache.sizeInBytes == 32 << 20)
        #expect(configuration.cache.readaheadInBytes == nil)
        #expect(configuration.uploads.atomic)
        #expect(configuration.uploads.verification == .auto)
        #expect(configuration.logging.level == .info)
        #expect(configuration.fuseArguments.isEmpty)
        #expect(configuration.fuseCommandLine(programName: "ftpfs") == ["ftpfs"])
    }

    // MARK: Every value kind, through a real option

    struct Case: Sendable, CustomTestStringConvertible {
        var options: [String]
        var check: @Sendable (MountConfiguration) -> Bool
        var testDescription: String { options.joined(separator: " -o ") }
    }

    static let accepted: [Case] = [
        // integer
        .init(options: ["max_conns=1"]) { $0.connection.maxConnections == 1 },
        .init(options: ["max_conns=64"]) { $0.connection.maxConnections == 64 },
        .init(options: ["uid=1000,gid=100"]) { $0.fuse.uid == 1000 && $0.fuse.gid == 100 },
        .init(options: ["max_threads=8,max_idle_threads=2"]) {
            $0.fuse.loop.maxThreads == 8 && $0.fuse.loop.maxIdleThreads == 2
        },
        // octal
        .init(options: ["umask=022"]) { $0.fuse.umask == 0o022 },
        .init(options: ["umask=0077"]) { $0.fuse.umask == 0o077 },
        .init(options: ["umask=7"]) { $0.fuse.umask == 0o7 },
        // size
        .init(options: ["cache_size=4096"]) { $0.cache.sizeInBytes == 4096 },
        .init(options: ["cache_size=512K"]) { $0.cache.sizeInBytes == 512 << 10 },
        .init(options: ["cache_size=64m"]) { $0.cache.sizeInBytes == 64 << 20 },
        .init(options: ["cache_size=1G"]) { $0.cache.sizeInBytes == 1 << 30 },
        .init(options: ["cache_size=0"]) { $0.cache.sizeInBytes == 0 },
        .init(options: ["readahead=8M"]) { $0.cache.readaheadInBytes == 8 << 20 },
        // duration
        .init(options: ["timeout=2.5"]) { $0.connection.timeout == .milliseconds(2500) },
        .init(options: ["connect_timeout=.5"]) { $0.connection.connectTimeout == .milliseconds(500) },
        .init(options: ["connect_timeout=0.1"]) { $0.connection.connectTimeout == .milliseconds(100) },
        .init(options: ["dir_cache_timeout=0"]) { $0.cache.directoryTimeout == .zero },
        .init(options: ["dir_cache_timeout=600"]) { $0.cache.directoryTimeout == .seconds(600) },
        .init(options: ["idle_timeout=0"]) { $0.connection.idleTimeout == nil },
        .init(options: ["idle_timeout=120"]) { $0.connection.idleTimeout == .seconds(120) },
        .init(options: ["attr_timeout=5,entry_timeout=1.5,negative_timeout=0"]) {
            $0.fuse.attributeTimeout == .seconds(5) && $0.fuse.entryTimeout == .milliseconds(1500)
                && $0.fuse.negativeTimeout == .zero
        },
        // string
        .init(options: ["user=alice"]) { $0.connection.user == "alice" },
        .init(options: ["user=me@example.com"]) { $0.connection.user == "me@example.com" },
        .init(options: ["active_address=203.0.113.5"]) {
            $0.connection.activeAddress == "203.0.113.5" && $0.connection.activeMode
        },
        .init(options: ["netrc_file=/etc/ftpfs.netrc"]) {
            $0.connection.netrcFile == "/etc/ftpfs.netrc" && $0.connection.useNetrc
        },
        .init(options: ["passfile=/run/secret"]) { $0.connection.passwordFile == "/run/secret" },
        .init(options: ["encoding=GBK"]) { $0.connection.encoding == "GBK" },
        .init(options: ["encoding=utf-8"]) { $0.connection.encoding == nil },
        .init(options: ["cache_dir=/var/cache/ftpfs"]) { $0.cache.directory == "/var/cache/ftpfs" },
        .init(options: ["cafile=/etc/ssl/ca.pem"]) { $0.tls.caFile == "/etc/ssl/ca.pem" },
        .init(options: ["fsname=ftp://h/,subtype=ftpfs"]) {
            $0.fuse.filesystemName == "ftp://h/" && $0.fuse.subtype == "ftpfs"
        },
        // a value may contain '=' after the first one
        .init(options: ["user=a=b"]) { $0.connection.user == "a=b" },
        // choice
        .init(options: ["list=mlsd"]) { $0.connection.listing == .mlsd },
        .init(options: ["list=list"]) { $0.connection.listing == .list },
        .init(options: ["list_a=no"]) { $0.connection.listDashA == .no },
        .init(options: ["tls=none"]) { $0.tls.security == TransportSecurity.none },
        .init(options: ["tls=explicit"]) { $0.tls.security == .explicitTLS },
        .init(options: ["tls=required"]) { $0.tls.security == .explicitTLS },
        .init(options: ["tls=try"]) { $0.tls.security == .explicitTLSIfAvailable },
        .init(options: ["tls=implicit"]) { $0.tls.security == .implicitTLS },
        .init(options: ["atomic_upload=no"]) { !$0.uploads.atomic },
        .init(options: ["verify=size"]) { $0.uploads.verification == .size },
        .init(options: ["verify=off"]) { $0.uploads.verification == .off },
        .init(options: ["log_level=trace"]) { $0.logging.level == .trace && $0.logging.effectiveLevel == .trace },
        .init(options: ["log_level=error"]) { $0.logging.level == .error },
        // fingerprint
        .init(options: ["tls_fingerprint=SHA256:" + String(repeating: "ab:", count: 31) + "CD"]) {
            $0.tls.pinnedFingerprint?.bytes == Array(repeating: 0xAB, count: 31) + [0xCD]
        },
        .init(options: ["tls_fingerprint=" + String(repeating: "0f", count: 32)]) {
            $0.tls.pinnedFingerprint?.bytes == Array(repeating: 0x0F, count: 32)
        },
        // flags
        .init(options: ["active"]) { $0.connection.activeMode },
        .init(options: ["disable_epsv"]) { $0.connection.disableEPSV },
        .init(options: ["netrc"]) { $0.connection.useNetrc && $0.connection.netrcFile == nil },
        .init(options: ["tls_insecure"]) { $0.tls.skipVerification },
        .init(options: ["nonempty"]) { $0.fuse.allowNonEmptyMountpoint && $0.fuseArguments.isEmpty },
        .init(options: ["debug"]) { $0.logging.debug && $0.logging.effectiveLevel == .debug },
        .init(options: ["debug,log_level=trace"]) { $0.logging.effectiveLevel == .trace },
        .init(options: ["log_level=warning,debug"]) { $0.logging.effectiveLevel == .debug },
        .init(options: ["ro"]) { $0.fuse.readOnly },
        .init(options: ["ro", "rw"]) { !$0.fuse.readOnly },
        .init(options: ["allow_other,default_permissions,auto_unmount"]) {
            $0.fuse.allowOther && $0.fuse.defaultPermissions && $0.fuse.autoUnmount
        },
        .init(options: ["kernel_cache,noauto_cache"]) { $0.fuse.kernelCache && $0.fuse.autoCache == false },
        .init(options: ["sync_read"]) { $0.fuse.asyncRead == false },
        .init(options: ["clone_fd"]) { $0.fuse.loop.cloneFD },
        .init(options: ["hard_remove,direct_io,intr,intr_signal=12"]) {
            $0.fuse.initConfig.hardRemove && $0.fuse.initConfig.directIO && $0.fuse.initConfig.interrupt
                && $0.fuse.initConfig.interruptSignal == 12
        },
        // later options override earlier ones, across and within -o arguments
        .init(options: ["max_conns=2,max_conns=3", "max_conns=5"]) { $0.connection.maxConnections == 5 },
        // empty items are skipped
        .init(options: [",ro,,", ""]) { $0.fuse.readOnly },
    ]

    @Test(arguments: accepted)
    func acceptsOption(_ testCase: Case) throws {
        let configuration = try MountConfiguration(parsing: testCase.options)
        #expect(testCase.check(configuration))
    }

    // MARK: Errors name the option

    @Test(arguments: [
        ("foo", "unknown option 'foo'"),
        ("password=hunter2", "unknown option 'password'"),
        ("relatime", "unknown option 'relatime'"),
        ("large_read", "unknown option 'large_read'"),
        ("loop", "unknown option 'loop'"),
        ("Ro", "unknown option 'Ro'"),
        ("max_conns=x", "max_conns: expected an integer between 1 and 64, got 'x'"),
        ("max_conns=0", "max_conns: expected an integer between 1 and 64, got '0'"),
        ("max_conns=65", "max_conns: expected an integer between 1 and 64, got '65'"),
        ("max_conns=-1", "max_conns: expected an integer between 1 and 64, got '-1'"),
        ("max_conns=+4", "max_conns: expected an integer between 1 and 64, got '+4'"),
        ("max_conns= 4", "max_conns: expected an integer between 1 and 64, got ' 4'"),
        ("max_conns", "max_conns: expected an integer between 1 and 64, got no value"),
        ("max_conns=", "max_conns: expected an integer between 1 and 64, got ''"),
        ("uid=-1", "uid: expected an integer between 0 and 2147483647, got '-1'"),
        ("umask=088", "umask: expected an octal number between 0 and 777, got '088'"),
        ("umask=1000", "umask: expected an octal number between 0 and 777, got '1000'"),
        ("cache_size=64MB", "cache_size: expected a size in bytes, optionally with K, M or G (like 64M), got '64MB'"),
        ("cache_size=M", "cache_size: expected a size in bytes, optionally with K, M or G (like 64M), got 'M'"),
        ("cache_size=-1", "cache_size: expected a size in bytes, optionally with K, M or G (like 64M), got '-1'"),
        ("cache_size=99999999999G",
         "cache_size: expected a size in bytes, optionally with K, M or G (like 64M), got '99999999999G'"),
        ("timeout=0", "timeout: expected a number of seconds greater than 0 (like 2.5), got '0'"),
        ("timeout=1e3", "timeout: expected a number of seconds greater than 0 (like 2.5), got '1e3'"),
        ("timeout=.", "timeout: expected a number of seconds greater than 0 (like 2.5), got '.'"),
        ("timeout=30s", "timeout: expected a number of seconds greater than 0 (like 2.5), got '30s'"),
        ("timeout=1.2.3", "timeout: expected a number of seconds greater than 0 (like 2.5), got '1.2.3'"),
        ("timeout=99999999999", "timeout: expected a number of seconds greater than 0 (like 2.5), got '99999999999'"),
        ("attr_timeout=-1", "attr_timeout: expected a number of seconds (like 2.5), got '-1'"),
        ("list=nlst", "list: expected one of auto, mlsd, list, got 'nlst'"),
        ("tls=ssl", "tls: expected one of none, explicit, required, try, implicit, got 'ssl'"),
        ("atomic_upload=true", "atomic_upload: expected one of yes, no, got 'true'"),
        ("log_level=verbose",
         "log_level: expected one of trace, debug, info, notice, warning, error, critical, got 'verbose'"),
        ("tls_fingerprint=SHA1:ab", "tls_fingerprint: expected a SHA-256 fingerprint: 64 hex digits, colons optional, got 'SHA1:ab'"),
        ("tls_fingerprint=" + String(repeating: "a", count: 63),
         "tls_fingerprint: expected a SHA-256 fingerprint: 64 hex digits, colons optional, got '"
            + String(repeating: "a", count: 63) + "'"),
        ("tls_fingerprint=" + String(repeating: "g", count: 64),
         "tls_fingerprint: expected a SHA-256 fingerprint: 64 hex digits, colons optional, got '"
            + String(repeating: "g", count: 64) + "'"),
        ("user=", "user: expected a non-empty value, got ''"),
        ("allow_other=yes", "allow_other: takes no value, got 'yes'"),
        ("active=1", "active: takes no value, got '1'"),
        ("nonempty=", "nonempty: takes no value, got ''"),
        ("owner=bob", "owner: takes no value, got 'bob'"),
    ])
    func rejectsOption(_ option: String, _ message: String) throws {
        let error = try #require(throws: MountOptionError.self) { try MountConfiguration(parsing: [option]) }
        #expect(error.description == message)
    }

    @Test func errorsAreTyped() {
        #expect(throws: MountOptionError.unknownOption("foo")) { try MountConfiguration(parsing: ["ro,foo=1"]) }
        #expect(throws: MountOptionError.invalidValue(
            option: "max_conns", value: "x", expected: "an integer between 1 and 64")
        ) { try MountConfiguration(parsing: ["max_conns=x"]) }
        #expect(throws: MountOptionError.conflictingOptions("allow_other", "allow_root")) {
            try MountConfiguration(parsing: ["allow_root", "allow_other"])
        }
    }

    @Test(arguments: [
        "user=a\rb", "fsname=a\nb", "passfile=/x\n",
    ])
    func rejectsLineBreaksInStrings(_ option: String) {
        #expect(throws: MountOptionError.self) { try MountConfiguration(parsing: [option]) }
    }

    // MARK: fstab

    @Test(arguments: [
        "auto", "noauto", "user", "users", "nouser", "owner", "group", "_netdev", "nofail", "defaults",
        "comment=systemd.automount", "comment", "x-systemd.automount", "x-systemd.idle-timeout=60",
        "x-gvfs-show",
    ])
    func ignoresFstabOption(_ option: String) throws {
        let configuration = try MountConfiguration(parsing: [option])
        #expect(configuration.fuseOptions.isEmpty)
        #expect(configuration.connection.user == nil)
        #expect(configuration.ignoredOptions.count == 1)
        var withoutIgnored = configuration
        withoutIgnored.ignoredOptions = []
        #expect(withoutIgnored == MountConfiguration())
    }

    /// Bare `user` is fstab's flag; `user=NAME` is the login.
    @Test func bareUserIsFstabButUserWithValueIsTheLogin() throws {
        let configuration = try MountConfiguration(parsing: ["user,noauto,user=alice,_netdev"])
        #expect(configuration.connection.user == "alice")
        #expect(configuration.ignoredOptions == ["user", "noauto", "_netdev"])
        #expect(configuration.fuseOptions.isEmpty)
    }

    /// What mount.fuse3 hands over for a typical fstab line.
    @Test func typicalFstabLine() throws {
        let configuration = try MountConfiguration(parsing: [
            "rw,noauto,x-systemd.automount,_netdev,allow_other,uid=1000,gid=1000,netrc,dev,suid",
        ])
        #expect(configuration.fuseArguments
            == ["rw", "allow_other", "uid=1000", "gid=1000", "dev", "suid", "default_permissions"])
        #expect(configuration.connection.useNetrc)
    }
}
