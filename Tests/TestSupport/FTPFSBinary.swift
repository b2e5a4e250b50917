import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The built `ftpfs` executable the mount tests run.
public enum FTPFSBinary {
    /// `FTPFS_BINARY` if set; else the `ftpfs` executable in the build
    /// directory of the running test binary (found from /proc/self/exe, e.g.
    /// .build/x86_64-unknown-linux-gnu/debug/ftpfsPackageTests.xctest →
    /// .build/x86_64-unknown-linux-gnu/debug/ftpfs); else an error.
    public static var path: String {
        get throws {
            if let configured = ProcessInfo.processInfo.environment["FTPFS_BINARY"], !configured.isEmpty {
                guard isExecutableFile(configured) else {
                    throw TestSupportError("FTPFS_BINARY=\(configured) is not an executable file")
                }
                return configured
            }
            let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            var directory = executable.deletingLastPathComponent()
            var searched: [String] = []
            while directory.path != "/" {
                let candidate = directory.appendingPathComponent("ftpfs").path
                searched.append(candidate)
                if isExecutableFile(candidate) { return candidate }
                if directory.lastPathComponent == ".build" {
                    // From .build itself, try .build/debug (a symlink to the
                    // current triple's debug directory).
                    let debug = directory.appendingPathComponent("debug/ftpfs").path
                    searched.append(debug)
                    if isExecutableFile(debug) { return debug }
                    break
                }
                directory = directory.deletingLastPathComponent()
            }
            throw TestSupportError(
                "the ftpfs executable was not found (looked at \(searched.joined(separator: ", "))); "
                    + "build with `swift build` first, or set FTPFS_BINARY")
        }
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
    }
}
