import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Temporary directories of the tests, all under /tmp/ftpfs-tests.
///
/// Set `FTPFS_TEST_KEEP=1` to keep them (server logs, ftpfs stderr) after the
/// tests for a post-mortem.
public enum TestDirectory {
    public static let base = "/tmp/ftpfs-tests"

    /// True when `FTPFS_TEST_KEEP` asks to keep temporary directories.
    public static var keepFiles: Bool {
        let value = ProcessInfo.processInfo.environment["FTPFS_TEST_KEEP"] ?? ""
        return !value.isEmpty && value != "0"
    }

    /// Creates a fresh directory `base/<prefix>-XXXXXX`, mode 0755 (FTP
    /// servers that drop privileges must be able to traverse it).
    public static func make(_ prefix: String = "dir") throws -> String {
        try ensureBase()
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else {
            throw TestSupportError("mkdtemp in \(base) failed: \(String(cString: strerror(errno)))")
        }
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        chmod(path, 0o755)
        return path
    }

    /// Removes `path` recursively, but never through a mount: it refuses when
    /// anything is mounted at or below `path` (deleting through a live ftpfs
    /// mount would delete files on the FTP server), and `rm` stays on one file
    /// system in any case.
    public static func remove(_ path: String) throws {
        guard path.hasPrefix(base + "/") else {
            throw TestSupportError("refusing to remove \(path): not under \(base)")
        }
        let mounted = MountTable.mounts(under: path)
        guard mounted.isEmpty else {
            throw TestSupportError("refusing to remove \(path): still mounted: \(mounted.map(\.mountPoint))")
        }
        try Shell.run(["rm", "-rf", "--one-file-system", "--", path], timeout: .seconds(120)).check()
    }

    /// Removes `path` unless `FTPFS_TEST_KEEP` is set; errors are ignored
    /// (for cleanup paths that must not throw).
    public static func cleanUp(_ path: String) {
        guard !keepFiles else { return }
        try? remove(path)
    }

    static func ensureBase() throws {
        if mkdir(base, 0o755) == 0 {
            chmod(base, 0o755)  // whatever the umask
        } else if errno != EEXIST {
            throw TestSupportError("cannot create \(base): \(String(cString: strerror(errno)))")
        }
    }

    /// `count` new empty files for a command's standard streams.
    static func scratchFiles(count: Int) throws -> [String] {
        try ensureBase()
        var paths: [String] = []
        for _ in 0..<count {
            var template = Array("\(base)/.shell-XXXXXX".utf8CString)
            let fd = mkstemp(&template)
            guard fd >= 0 else {
                paths.forEach { unlink($0) }
                throw TestSupportError("mkstemp in \(base) failed: \(String(cString: strerror(errno)))")
            }
            close(fd)
            paths.append(String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return paths
    }
}

/// The mounts of this process's mount namespace, from /proc/self/mountinfo.
public enum MountTable {
    public struct Entry: Sendable, Equatable {
        public let mountPoint: String
        public let fileSystemType: String
        public let source: String
    }

    public static func entries() -> [Entry] {
        guard let data = FileManager.default.contents(atPath: "/proc/self/mountinfo") else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            // id parent major:minor root MOUNTPOINT options [optional...] - TYPE SOURCE superoptions
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count >= 5, let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count else {
                return nil
            }
            return Entry(
                mountPoint: unescape(fields[4]),
                fileSystemType: unescape(fields[dash + 1]),
                source: unescape(fields[dash + 2])
            )
        }
    }

    public static func entry(at path: String) -> Entry? {
        entries().last { $0.mountPoint == path }
    }

    public static func isMounted(_ path: String) -> Bool {
        entry(at: path) != nil
    }

    /// Mounts at `path` or below it.
    public static func mounts(under path: String) -> [Entry] {
        entries().filter { $0.mountPoint == path || $0.mountPoint.hasPrefix(path + "/") }
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
               let value = UInt8(String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
