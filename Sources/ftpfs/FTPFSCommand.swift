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
            ~/.netrc, -o passfile=, $FTPFS_PASSWORD, or a prompt.

            Unmount with: fusermount3 -u MOUNTPOINT

            \(MountOptionRegistry.helpText())
            """,
        version: version
    )

    @Flag(name: .customShort("f"), help: "Stay in the foreground.")
    var foreground = false

    @Flag(name: .customShort("d"), help: "Debug: trace every FTP command and reply on stderr (passwords masked); implies -f.")
    var debug = false

    @Option(name: .customShort("o"), help: ArgumentHelp("Mount options, comma-separated (listed above).", valueName: "options"))
    var options: [String] = []

    @Argument(help: "The server, as ftp://[user[:password]@]host[:port][/path].")
    var url: String

    @Argument(help: "An existing, empty directory to mount on.")
    var mountpoint: String

    func run() throws {
        let status = Mount(command: self).run()
        if status != .success {
            throw ExitCode(status.rawValue)
        }
    }
}
