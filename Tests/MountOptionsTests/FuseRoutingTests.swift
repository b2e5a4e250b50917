import MountOptions
import Testing

@Suite struct FuseRoutingTests {
    @Test func passthroughKeepsCommandLineOrder() throws {
        let configuration = try MountConfiguration(parsing: [
            "allow_other,max_conns=2,default_permissions", "uid=1000,netrc,attr_timeout=5", "umask=022,ro",
        ])
        #expect(configuration.fuseArguments == [
            "allow_other", "default_permissions", "uid=1000", "attr_timeout=5", "umask=022", "ro",
        ])
        #expect(configuration.fuseCommandLine(programName: "ftpfs") == [
            "ftpfs", "-o", "allow_other,default_permissions,uid=1000,attr_timeout=5,umask=022,ro",
        ])
    }

    @Test func routesEachOptionWhereLibfuseParsesIt() throws {
        let configuration = try MountConfiguration(parsing: [
            "max_threads=8,allow_other,max_readahead=131072,direct_io,clone_fd,sync_read,fsname=ftp://h/,"
                + "hard_remove,max_idle_threads=4,max_background=20,debug,max_write=65536,use_ino",
        ])
        #expect(configuration.fuseArguments(for: .fuseNew)
            == ["allow_other", "fsname=ftp://h/", "debug", "default_permissions"])
        #expect(configuration.fuseArguments(for: .connectionInfo) == [
            "max_readahead=131072", "sync_read", "max_background=20", "max_write=65536",
        ])
        #expect(configuration.fuseArguments(for: .loopConfig) == ["max_threads=8", "clone_fd", "max_idle_threads=4"])
        #expect(configuration.fuseArguments(for: .initConfig) == ["direct_io", "hard_remove", "use_ino"])
        // fuse_args carries fuse_new's and the connection options, never the loop or init ones.
        #expect(configuration.fuseArguments == [
            "allow_other", "max_readahead=131072", "sync_read", "fsname=ftp://h/", "max_background=20", "debug",
            "max_write=65536", "default_permissions",
        ])
        #expect(configuration.fuse.maxReadahead == 131072)
        #expect(configuration.fuse.maxBackground == 20)
        #expect(configuration.fuse.maxWrite == 65536)
        #expect(configuration.fuse.loop == {
            var loop = FuseLoopOptions()
            loop.cloneFD = true
            loop.maxThreads = 8
            loop.maxIdleThreads = 4
            return loop
        }())
    }

    /// Every libfuse 3.14 option (see MountOptionRegistry for how the list was checked) routes to
    /// where libfuse accepts it.
    @Test(arguments: [
        ("ro", FuseOptionRoute.fuseNew), ("rw", .fuseNew), ("allow_other", .fuseNew), ("allow_root", .fuseNew),
        ("default_permissions", .fuseNew), ("uid=0", .fuseNew), ("gid=0", .fuseNew), ("umask=0", .fuseNew),
        ("attr_timeout=1", .fuseNew), ("entry_timeout=1", .fuseNew), ("negative_timeout=1", .fuseNew),
        ("ac_attr_timeout=1", .fuseNew), ("auto_unmount", .fuseNew), ("fsname=x", .fuseNew),
        ("subtype=x", .fuseNew), ("max_read=4096", .fuseNew), ("kernel_cache", .fuseNew), ("auto_cache", .fuseNew),
        ("noauto_cache", .fuseNew), ("no_rofd_flush", .fuseNew), ("noforget", .fuseNew), ("remember=5", .fuseNew),
        ("modules=subdir", .fuseNew), ("subdir=/x", .fuseNew), ("rellinks", .fuseNew), ("norellinks", .fuseNew),
        ("from_code=GBK", .fuseNew), ("to_code=UTF-8", .fuseNew), ("suid", .fuseNew), ("nosuid", .fuseNew),
        ("dev", .fuseNew), ("nodev", .fuseNew), ("exec", .fuseNew), ("noexec", .fuseNew), ("atime", .fuseNew),
        ("noatime", .fuseNew), ("sync", .fuseNew), ("async", .fuseNew), ("dirsync", .fuseNew),
        ("blkdev", .fuseNew), ("blksize=4096", .fuseNew), ("context=x", .fuseNew), ("fscontext=x", .fuseNew),
        ("defcontext=x", .fuseNew), ("rootcontext=x", .fuseNew), ("debug", .fuseNew),
        ("max_write=4096", .connectionInfo), ("max_readahead=0", .connectionInfo),
        ("max_background=1", .connectionInfo), ("congestion_threshold=1", .connectionInfo),
        ("sync_read", .connectionInfo), ("async_read", .connectionInfo),
        ("clone_fd", .loopConfig), ("max_idle_threads=0", .loopConfig), ("max_threads=1", .loopConfig),
        ("direct_io", .initConfig), ("hard_remove", .initConfig), ("use_ino", .initConfig),
        ("readdir_ino", .initConfig), ("intr", .initConfig), ("intr_signal=10", .initConfig),
    ] as [(String, FuseOptionRoute)])
    func libfuseOptionRoute(_ option: String, _ route: FuseOptionRoute) throws {
        let configuration = try MountConfiguration(parsing: [option])
        // allow_other brings default_permissions (AllowOtherTests).
        let implied = option == "allow_other" ? ["default_permissions"] : []
        #expect(configuration.fuseOptions.map(\.route) == [route] + implied.map { _ in .fuseNew })
        #expect(configuration.fuseOptions.map(\.text) == [option] + implied)
    }

    /// Our own options never reach libfuse.
    @Test(arguments: [
        "max_conns=2", "connect_timeout=1", "timeout=1", "idle_timeout=1", "active", "active_address=::1",
        "disable_epsv", "user=u", "netrc", "netrc_file=/n", "passfile=/p", "encoding=GBK", "list=list",
        "list_a=yes", "tls=try", "cafile=/c", "tls_insecure", "dir_cache_timeout=1", "cache_dir=/d",
        "cache_size=1M", "readahead=1M", "atomic_upload=yes", "verify=off", "log_level=debug", "nonempty",
    ])
    func ownOptionStaysWithFtpfs(_ option: String) throws {
        #expect(try MountConfiguration(parsing: [option]).fuseOptions.isEmpty)
    }

    @Test func commandLineEscapesCommasAndBackslashes() throws {
        var configuration = try MountConfiguration(parsing: ["ro"])
        configuration.fuseOptions.append(FuseOption(name: "fsname", value: #"ftp://h/a,b\c"#, route: .fuseNew))
        #expect(configuration.fuseCommandLine(programName: "ftpfs", extraOptions: ["subtype=ftpfs"]) == [
            "ftpfs", "-o", #"ro,fsname=ftp://h/a\,b\\c,subtype=ftpfs"#,
        ])
    }

    @Test func defaultsNameTheMountAfterTheURL() throws {
        let url = try ServerURL(parsing: "ftp://alice:pw@h/a,b")
        let plain = try MountConfiguration(parsing: ["ro"])
        #expect(plain.defaultFuseOptions(for: url)
            == ["fsname=ftp://alice@h/a,b", "subtype=ftpfs", "max_read=524288", "negative_timeout=1"])
        #expect(plain.fuseCommandLine(programName: "ftpfs", extraOptions: plain.defaultFuseOptions(for: url)) == [
            "ftpfs", "-o", #"ro,fsname=ftp://alice@h/a\,b,subtype=ftpfs,max_read=524288,negative_timeout=1"#,
        ])
        #expect(plain.maximumRead == 524_288)
        let named = try MountConfiguration(parsing: ["fsname=mine,subtype=x,negative_timeout=0,max_read=131072"])
        #expect(named.defaultFuseOptions(for: url).isEmpty)
        #expect(named.maximumRead == 131_072)
    }

    @Test func missingNamesAreCachedAsLongAsNamesFound() throws {
        let url = try ServerURL(parsing: "ftp://h/")
        let longer = try MountConfiguration(parsing: ["entry_timeout=2.5,fsname=x,subtype=y,max_read=65536"])
        #expect(longer.defaultFuseOptions(for: url) == ["negative_timeout=2.5"])
        let given = try MountConfiguration(parsing: ["entry_timeout=2.5,negative_timeout=0,fsname=x,subtype=y,max_read=65536"])
        #expect(given.defaultFuseOptions(for: url).isEmpty)
    }

    @Test(arguments: [
        ("ftp://h", [String](), "h:21 (none)"),
        ("ftps://h", [], "h:990 (implicit TLS)"),
        ("ftp://h", ["tls=implicit"], "h:990 (implicit TLS)"),
        ("ftp://h:2121", ["tls=implicit"], "h:2121 (implicit TLS)"),
        ("ftps://h", ["tls=explicit"], "h:21 (explicit TLS)"),
        ("ftp://[::1]", ["tls=try"], "[::1]:21 (explicit TLS if available)"),
        ("ftpes://h", ["tls=none"], "h:21 (none)"),
    ])
    func endpointCombinesURLAndTLSOption(_ text: String, _ options: [String], _ expected: String) throws {
        let configuration = try MountConfiguration(parsing: options)
        #expect(configuration.endpoint(for: try ServerURL(parsing: text)).description == expected)
    }

    @Test func warnsAboutTLSOptionsWithoutTLS() throws {
        let configuration = try MountConfiguration(parsing: ["cafile=/c,tls_insecure"])
        #expect(configuration.warnings(for: try ServerURL(parsing: "ftp://h")) == [
            "cafile, tls_insecure ignored: the connection does not use TLS",
        ])
        #expect(configuration.warnings(for: try ServerURL(parsing: "ftpes://h")).isEmpty)
    }
}
