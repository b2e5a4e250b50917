import ArgumentParser
import FTPClient
import FTPFileSystem
import FuseBridge
import Logging
import MountOptions

#if canImport(Glibc)
import Glibc
#endif

@main
struct FTPFSCommand: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "ftpfs",
        abstract: "Mount an FTP or FTPS server as a local directory.",
        usage: "ftpfs [-f] [-d] [-o option[,option...]] URL MOUNTPOINT",
        discussion: """
            URL is ftp://[user[:password]@]host[:port][/path] (ftpes:// for explicit TLS, ftps:// for \
            implicit TLS on port 990). The path is relative to the login directory; start it with %2F \
            for an absolute one. Without a user the login is anonymous. A missing password comes from \
            -o passfile=, $FTPFS_PASSWORD, ~/.netrc (or -o netrc_file=), or a prompt. A password in \
            the URL works, but other users can see it in ps until ftpfs hides it: ftpfs warns.

            Unmount with: fusermount3 -u MOUNTPOINT (or umount MOUNTPOINT as root)

            \(MountOptionRegistry.helpText())

            From /etc/fstab (mount.fuse3 runs ftpfs as: ftpfs URL MOUNTPOINT -o OPTIONS):
              ftp://alice@ftp.example.org/pub  /mnt/pub  fuse.ftpfs  noauto,user,_netdev,netrc  0  0
              (the older form ftpfs#ftp://alice@ftp.example.org/pub with type fuse works too)

            Logs: stderr in the foreground (-f, -d); syslog or the journal once a background mount has \
            detached (journalctl -t ftpfs). -o debug (or -d) traces every FTP command and reply, the \
            password masked.

            Signals: SIGTERM and SIGINT unmount, after uploading pending changes. SIGHUP drops the \
            cached listings and blocks without unmounting. SIGUSR1 logs a one-line status (connections, \
            cache hit rate, bytes through the mount, errors); SIGUSR2 with -o intr, which takes SIGUSR1.

            Exit status:
            \(ExitStatus.helpText)
            """,
        version: version
    )

    @Flag(name: .customShort("f"), help: "Stay in the foreground.")
    var foreground = false

    @Flag(name: .customShort("d"), help: "Debug: trace every FTP command and reply on stderr (passwords masked); implies -f.")
    var debug = false

    @Option(name: .customShort("o"),
            help: ArgumentHelp("Mount options, comma-separated (listed above).", valueName: "options"),
            completion: .list(FTPFSCommand.optionCompletions))
    var options: [String] = []

    @Argument(help: ArgumentHelp("The server, as ftp://[user[:password]@]host[:port][/path].", valueName: "url"))
    var urlArgument: String?

    @Argument(help: ArgumentHelp("An existing, empty directory to mount on.", valueName: "mountpoint"),
              completion: .directory)
    var mountpointArgument: String?

    /// For the man page, built from the same tables as `--help` (Packaging/build-deb.sh).
    @Option(name: .customLong("man-section"), help: .private)
    var manSection: ManPage.Section?

    var url: String { urlArgument ?? "" }
    var mountpoint: String { mountpointArgument ?? "" }

    func validate() throws {
        guard manSection == nil else { return }
        guard urlArgument != nil, mountpointArgument != nil else {
            throw ValidationError(urlArgument == nil ? "missing URL and MOUNTPOINT" : "missing MOUNTPOINT")
        }
    }

    func run() throws {
        if let manSection {
            writeAll(ManPage.render(manSection), to: STDOUT_FILENO)
            return
        }
        let status = Mount(command: self).run()
        if status != .success {
            throw ExitCode(status.rawValue)
        }
    }

    /// What the shell completes after `-o`: every option name, with `=` for those taking a value.
    static var optionCompletions: [String] {
        MountOptionRegistry.descriptors.filter { $0.group != .fstab }.map { descriptor in
            let usage = descriptor.usage
            return usage.split(separator: "=", maxSplits: 1).first.map { descriptor.takesValue ? $0 + "=" : String($0) } ?? usage
        }
    }
}
