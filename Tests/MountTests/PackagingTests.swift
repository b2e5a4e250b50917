import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The Debian package, installed with `dpkg -i` for the length of the suite (and purged after
/// it unless it was installed before): what it contains, the installed command's --version,
/// --help, man page and completions, mount(8) with `-t fuse.ftpfs`, the older `ftpfs#URL` form
/// and an fstab line, all running /usr/bin/ftpfs through mount.fuse3, and the systemd units.
///
/// The package is `FTPFS_DEB` (scripts/test.sh builds it) or is built by the suite.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.root, .fuse, .pyftpdlib, .packaging)), .installedPackage)
struct PackagingTests {
    static let installed = "/usr/bin/ftpfs"

    static let shared = SharedTestServer {
        let root = try TestDirectory.make("packaging")
        try TestDataSet.generate(at: root)
        return try .startPyftpdlib(root: root)
    }

    static func server() throws -> FTPTestServer {
        try TestRequirements.require(.root, .fuse, .pyftpdlib, .packaging)
        return try shared.get()
    }

    /// A netrc file with the test login, mode 0600.
    static func netrc(for server: FTPTestServer) throws -> (directory: String, path: String) {
        let directory = try TestDirectory.make("pkg-netrc")
        let path = directory + "/netrc"
        let user = FTPTestUser.standard
        try Data("machine \(server.host) login \(user.name) password \(user.password)\n".utf8)
            .write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        return (directory, path)
    }

    /// Runs `body` with a fresh mountpoint; afterwards nothing is mounted there and no ftpfs
    /// serves it, whatever happened.
    static func withMountpoint(_ body: (String) throws -> Void) throws {
        let directory = try TestDirectory.make("pkg-mnt")
        let mountpoint = directory + "/mnt"
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: false)
        defer {
            if MountTable.isMounted(mountpoint) { _ = try? Shell.run(["umount", "-l", mountpoint]) }
            for pid in processes(withArgument: mountpoint) { kill(pid, SIGKILL) }
            TestDirectory.cleanUp(directory)
        }
        try body(mountpoint)
    }

    /// Reads a file through a mount made by mount(8), unmounts it with umount(8), and checks the
    /// ftpfs daemon (the installed one) is gone.
    static func expectUsableThenUnmount(_ mountpoint: String, server: FTPTestServer,
                                        sourceLocation: SourceLocation = #_sourceLocation) throws {
        let entry = try #require(MountTable.entry(at: mountpoint), sourceLocation: sourceLocation)
        #expect(entry.fileSystemType == "fuse.ftpfs", sourceLocation: sourceLocation)
        #expect(entry.source.hasPrefix("ftp://"), sourceLocation: sourceLocation)
        let daemons = processes(withArgument: mountpoint)
        #expect(daemons.count == 1, "daemons: \(daemons)", sourceLocation: sourceLocation)
        for pid in daemons {
            let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? "?"
            #expect(executable == installed, "mount ran \(executable)", sourceLocation: sourceLocation)
        }
        let hello = try String(contentsOfFile: mountpoint + "/" + TestDataSet.helloFileName, encoding: .utf8)
        #expect(hello == TestDataSet.helloContent, sourceLocation: sourceLocation)
        try Shell.run(["umount", mountpoint], timeout: .seconds(30)).check()
        #expect(!MountTable.isMounted(mountpoint), sourceLocation: sourceLocation)
        // Exiting takes milliseconds; the bound is generous because the whole test suite shares
        // two cores, and the message says how long it took.
        let unmounted = ContinuousClock.now
        while !processes(withArgument: mountpoint).isEmpty && ContinuousClock.now - unmounted < .seconds(60) {
            usleep(50_000)
        }
        #expect(processes(withArgument: mountpoint).isEmpty,
                "ftpfs should exit after umount; still running \(ContinuousClock.now - unmounted) later",
                sourceLocation: sourceLocation)
    }

    // MARK: - The package

    @Test func thePackageHoldsTheReleaseBinaryManPageCompletionsDocsAndUnits() throws {
        try TestRequirements.require(.root, .packaging)
        let contents = Set(try DebianPackage.contents())
        for path in [
            "/usr/bin/ftpfs", "/usr/share/man/man1/ftpfs.1.gz",
            "/usr/share/doc/ftpfs/copyright", "/usr/share/doc/ftpfs/README.md.gz", "/usr/share/doc/ftpfs/changelog.gz",
            "/usr/share/bash-completion/completions/ftpfs", "/usr/share/zsh/vendor-completions/_ftpfs",
            "/lib/systemd/system/ftpfs@.service", "/usr/share/doc/ftpfs/examples/mnt-pub.mount",
            "/usr/share/doc/ftpfs/examples/fstab", "/usr/share/doc/ftpfs/examples/pub.conf",
        ] {
            #expect(contents.contains(path), "the package lacks \(path)")
        }
        let depends = try DebianPackage.field("Depends")
        for package in ["fuse3", "libfuse3-3", "libssl3", "libc6"] {
            #expect(depends.contains(package), "Depends: \(depends)")
        }
        #expect(DebianPackage.isInstalled)

        // Built with the Swift runtime linked in: only the system's own libraries are needed.
        let ldd = try Shell.run(["ldd", Self.installed]).check().stdout
        #expect(!ldd.contains("libswift") && !ldd.contains("/opt/") && !ldd.contains("not found"), "\(ldd)")
        #expect(ldd.contains("libfuse3.so.3") && ldd.contains("libssl.so.3"), "\(ldd)")

        let copyright = try String(contentsOfFile: "/usr/share/doc/ftpfs/copyright", encoding: .utf8)
        #expect(copyright.contains("License: Apache-2.0"))
        // Debian's way: the licence by reference to the copy every system has (lintian flags a
        // full Apache-2.0 text in a copyright file).
        #expect(copyright.contains("/usr/share/common-licenses/Apache-2.0"))
        #expect(FileManager.default.fileExists(atPath: "/usr/share/common-licenses/Apache-2.0"))
        let license = try String(contentsOfFile: DebianPackage.repositoryRoot + "/LICENSE", encoding: .utf8)
        #expect(license.contains("Apache License") && license.contains("Version 2.0, January 2004"))
    }

    @Test func theInstalledCommandHasVersionHelpManPageAndCompletions() throws {
        try TestRequirements.require(.root, .packaging)
        let version = try Shell.run([Self.installed, "--version"]).check().stdout
        #expect(version.trimmingCharacters(in: .whitespacesAndNewlines) == (try DebianPackage.field("Version")))

        let help = try Shell.run([Self.installed, "--help"]).check().stdout
        for heading in ["FTP connection options:", "TLS options:", "Caching options:", "Uploads options:",
                        "FUSE and mount options:", "Logging options:", "Accepted from /etc/fstab and ignored:",
                        "From /etc/fstab", "Logs:", "Signals:", "Exit status:", "USAGE: ftpfs"] {
            #expect(help.contains(heading), "--help lacks \(heading)")
        }
        let optionNames = help.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            guard words.count >= 2, words[0] == "-o", !words[1].hasPrefix("<") else { return nil }
            return String(words[1].split(separator: "=")[0])
        }
        #expect(optionNames.count > 60, "options in --help: \(optionNames)")
        let statuses = help.split(separator: "\n").compactMap { line -> Int? in
            let words = line.split(separator: " ")
            return words.count > 1 && line.hasPrefix("  ") ? Int(words[0]) : nil
        }
        #expect(statuses.contains(64) && statuses.contains(84), "exit statuses in --help: \(statuses)")

        let manPath = try Shell.run(["man", "-w", "ftpfs"]).check().stdout
        #expect(manPath.trimmingCharacters(in: .whitespacesAndNewlines) == "/usr/share/man/man1/ftpfs.1.gz")
        let manual = try Shell.sh("man ftpfs | col -b", environment: ["MANWIDTH": "200", "MANPAGER": "cat"]).check().stdout
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "PASSWORDS", "LOGGING", "SIGNALS",
                        "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"] {
            #expect(manual.contains("\n" + section + "\n"), "the man page lacks \(section)")
        }
        for name in optionNames {
            #expect(manual.contains("-o " + name), "the man page lacks -o \(name)")
        }
        for status in statuses {
            #expect(manual.contains("\n       \(status) "), "the man page lacks exit status \(status)")
        }
        #expect(manual.contains("fuse.ftpfs") && manual.contains("x-systemd.automount"))
        // The README's table lists the same statuses.
        let readme = try String(contentsOfFile: DebianPackage.repositoryRoot + "/README.md", encoding: .utf8)
        for status in statuses {
            #expect(readme.contains("\n| \(status) | "), "README.md's exit status table lacks \(status)")
        }

        // bash: the script loads and registers a completion for ftpfs, which offers -o options.
        let bash = try Shell.run(["bash", "-c", """
            source /usr/share/bash-completion/completions/ftpfs
            complete -p ftpfs
            """]).check().stdout
        #expect(bash.contains("ftpfs"), "\(bash)")
        let bashScript = try String(contentsOfFile: "/usr/share/bash-completion/completions/ftpfs", encoding: .utf8)
        #expect(bashScript.contains("max_conns="), "completions offer the -o options")
        let zsh = try String(contentsOfFile: "/usr/share/zsh/vendor-completions/_ftpfs", encoding: .utf8)
        #expect(zsh.hasPrefix("#compdef ftpfs"))
    }

    // MARK: - mount(8)

    /// Runs mount(8) with the arguments `command` builds from the test server's URL (without
    /// the password), a fresh empty mountpoint and a netrc for the login, expects it to succeed,
    /// then hands over the mountpoint.
    static func mountWithMount8(_ command: (_ url: String, _ mountpoint: String, _ netrc: String, _ work: String) throws -> [String],
                                then body: (_ mountpoint: String, _ server: FTPTestServer) throws -> Void) throws
    {
        let server = try Self.server()
        let netrc = try Self.netrc(for: server)
        defer { TestDirectory.cleanUp(netrc.directory) }
        try Self.withMountpoint { mountpoint in
            let url = "ftp://\(FTPTestUser.standard.name)@\(server.host):\(server.port)/"
            let result = try Shell.run(try command(url, mountpoint, netrc.path, netrc.directory), timeout: .seconds(60))
            #expect(result.status == 0, "\(result)")
            try body(mountpoint, server)
        }
    }

    @Test func mountTypeFuseFtpfsRunsTheInstalledBinaryAndUmountUnmounts() throws {
        // fstab bookkeeping options and the libfuse options mount.fuse3 adds (dev, suid) are
        // accepted; the source is the plain URL.
        try Self.mountWithMount8({ url, mountpoint, netrc, _ in
            ["mount", "-t", "fuse.ftpfs", url, mountpoint,
             "-o", "noauto,_netdev,nofail,x-systemd.automount,netrc_file=\(netrc)"]
        }, then: { try Self.expectUsableThenUnmount($0, server: $1) })
    }

    @Test func theOlderFtpfsHashFormWorksWithTypeFuse() throws {
        try Self.mountWithMount8({ url, mountpoint, netrc, _ in
            ["mount", "-t", "fuse", "ftpfs#" + url, mountpoint, "-o", "netrc_file=\(netrc)"]
        }, then: { try Self.expectUsableThenUnmount($0, server: $1) })
    }

    @Test func mountFuse3DropPrivilegesHandsFtpfsTheMountedDescriptor() throws {
        // mount.fuse3 mounts itself, drops every capability and runs ftpfs with the
        // mountpoint /dev/fd/N.
        try Self.mountWithMount8({ url, mountpoint, netrc, _ in
            ["mount", "-t", "fuse.ftpfs", url, mountpoint, "-o", "drop_privileges,netrc_file=\(netrc)"]
        }, then: { mountpoint, _ in
            #expect(MountTable.entry(at: mountpoint)?.fileSystemType == "fuse.ftpfs")
            let hello = try String(contentsOfFile: mountpoint + "/" + TestDataSet.helloFileName, encoding: .utf8)
            #expect(hello == TestDataSet.helloContent)
            try Shell.run(["umount", mountpoint], timeout: .seconds(30)).check()
            #expect(!MountTable.isMounted(mountpoint))
        })
    }

    @Test func anFstabLineMountsByItsMountpoint() throws {
        try Self.mountWithMount8({ url, mountpoint, netrc, work in
            // util-linux reads an alternative fstab, so /etc/fstab is never touched.
            let fstab = work + "/fstab"
            let line = "\(url)  \(mountpoint)  fuse.ftpfs  noauto,user,_netdev,netrc_file=\(netrc)  0  0\n"
            try Data(("# test fstab\n" + line).utf8).write(to: URL(fileURLWithPath: fstab))
            return ["mount", "--fstab", fstab, mountpoint]
        }, then: { try Self.expectUsableThenUnmount($0, server: $1) })
    }

    // MARK: - systemd

    @Test func theSystemdUnitsPassSystemdAnalyzeVerify() throws {
        try TestRequirements.require(.root, .packaging)
        let work = try TestDirectory.make("units")
        defer { TestDirectory.cleanUp(work) }
        // The example mount unit as shipped, and an instance of the installed template.
        let mountUnit = work + "/mnt-pub.mount"
        try Shell.run(["cp", "/usr/share/doc/ftpfs/examples/mnt-pub.mount", mountUnit]).check()
        let service = work + "/ftpfs@pub.service"
        try Shell.run(["cp", "/lib/systemd/system/ftpfs@.service", service]).check()
        let repositoryUnits = DebianPackage.repositoryRoot + "/Packaging/systemd/"
        #expect(FileManager.default.contentsEqual(atPath: mountUnit, andPath: repositoryUnits + "mnt-pub.mount"))
        #expect(FileManager.default.contentsEqual(atPath: service, andPath: repositoryUnits + "ftpfs@.service"))
        for unit in [mountUnit, service] {
            // --man=yes: Documentation=man:ftpfs(1) must resolve to the installed page.
            let result = try Shell.run(["systemd-analyze", "verify", "--man=yes", unit], timeout: .seconds(60))
            #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
        }
    }
}

/// Installs the Debian package around a whole suite (``DebianPackage/installed(_:)``).
struct InstalledPackageTrait: SuiteTrait, TestScoping {
    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        try TestRequirements.require(.root, .packaging)
        try await DebianPackage.installed { try await function() }
    }
}

extension Trait where Self == InstalledPackageTrait {
    static var installedPackage: Self { Self() }
}
