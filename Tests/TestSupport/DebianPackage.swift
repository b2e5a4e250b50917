import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The Debian package Packaging/build-deb.sh makes, and installing it for the packaging tests.
///
/// The package is `FTPFS_DEB` when set (scripts/test.sh builds it before `swift test`), else it
/// is built now, once per test process, into a temporary directory (a release build: a minute
/// or two). ``installed(_:)`` installs it with `dpkg -i` for the length of a body and removes
/// it again afterwards when it was not installed before, so the tests leave no /usr/bin/ftpfs
/// behind.
public enum DebianPackage {
    /// The repository's top directory (found from this source file).
    public static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    private static let built = Mutex<Result<String, TestSupportError>?>(nil)

    /// The .deb to test.
    public static func path() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["FTPFS_DEB"], !configured.isEmpty {
            guard FileManager.default.fileExists(atPath: configured) else {
                throw TestSupportError("FTPFS_DEB=\(configured) does not exist")
            }
            return configured
        }
        return try built.withLock { built in
            if built == nil {
                built = Result { () throws(TestSupportError) -> String in
                    do {
                        let output = try TestDirectory.make("deb")
                        let result = try Shell.run([repositoryRoot + "/Packaging/build-deb.sh", "--output", output],
                                                   timeout: .seconds(1500), workingDirectory: repositoryRoot)
                        guard result.succeeded, let last = result.stdout.split(separator: "\n").last,
                              last.hasSuffix(".deb") else {
                            throw TestSupportError("Packaging/build-deb.sh failed:\n\(result)")
                        }
                        return String(last)
                    } catch let error as TestSupportError {
                        throw error
                    } catch {
                        throw TestSupportError("\(error)")
                    }
                }
            }
            return try built!.get()
        }
    }

    /// A field of the package's control file (`dpkg-deb -f`).
    public static func field(_ name: String) throws -> String {
        try Shell.run(["dpkg-deb", "-f", path(), name]).check().stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The paths the package installs (`dpkg-deb -c`), without the leading ".".
    public static func contents() throws -> [String] {
        try Shell.run(["dpkg-deb", "-c", path()]).check().stdout.split(separator: "\n").compactMap { line in
            line.split(separator: " ", omittingEmptySubsequences: true).last.map { String($0.dropFirst()) }
        }
    }

    /// Whether dpkg lists the ftpfs package as installed.
    public static var isInstalled: Bool {
        let result = try? Shell.run(["dpkg-query", "-W", "-f=${db:Status-Status}", "ftpfs"])
        return result?.stdout == "installed"
    }

    /// Installs the package (as root), runs `body`, and purges the package again unless it was
    /// installed before. Refuses to run over a /usr/bin/ftpfs that no package owns.
    public static func installed<T>(_ body: () async throws -> T) async throws -> T {
        let wasInstalled = isInstalled
        if !wasInstalled, FileManager.default.fileExists(atPath: "/usr/bin/ftpfs") {
            throw TestSupportError("/usr/bin/ftpfs exists but belongs to no package: remove it before the packaging tests")
        }
        try Shell.run(["dpkg", "-i", path()], timeout: .seconds(300),
                      environment: ["DEBIAN_FRONTEND": "noninteractive"]).check()
        defer {
            if !wasInstalled {
                _ = try? Shell.run(["dpkg", "--purge", "ftpfs"], timeout: .seconds(300),
                                   environment: ["DEBIAN_FRONTEND": "noninteractive"])
            }
        }
        return try await body()
    }
}
