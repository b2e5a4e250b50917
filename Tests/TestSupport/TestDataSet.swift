import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A snapshot of a directory tree: every entry below the root with its kind,
/// size and (for files) SHA-256. Compare the manifest of a mount with the
/// manifest of the server's directory to check a whole tree at once.
public struct TestManifest: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case file
        case directory
        case symlink
    }

    public struct Entry: Equatable, Sendable, CustomStringConvertible {
        /// Relative to the root, "/"-separated, no leading "/".
        public let path: String
        public let kind: Kind
        /// Bytes for files, the target's length for symlinks, 0 for directories
        /// (directory sizes differ between file systems).
        public let size: Int
        /// Lowercase hex SHA-256 of a file's content; nil for other kinds.
        public let sha256: String?
        /// A symlink's target.
        public let linkTarget: String?

        public init(path: String, kind: Kind, size: Int, sha256: String? = nil, linkTarget: String? = nil) {
            self.path = path
            self.kind = kind
            self.size = size
            self.sha256 = sha256
            self.linkTarget = linkTarget
        }

        /// Paths compare byte for byte (String's == would equate NFC and NFD).
        public static func == (lhs: Entry, rhs: Entry) -> Bool {
            lhs.path.utf8.elementsEqual(rhs.path.utf8) && lhs.kind == rhs.kind && lhs.size == rhs.size
                && lhs.sha256 == rhs.sha256 && lhs.linkTarget == rhs.linkTarget
        }

        public var description: String {
            switch kind {
            case .file: "\(path) (file, \(size) bytes, sha256 \(sha256?.prefix(12) ?? "?")…)"
            case .directory: "\(path)/ (directory)"
            case .symlink: "\(path) -> \(linkTarget ?? "?")"
            }
        }
    }

    /// Sorted by the paths' UTF-8 bytes.
    public let entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }

    public subscript(path: String) -> Entry? {
        entries.first { $0.path.utf8.elementsEqual(path.utf8) }
    }

    public var files: [Entry] { entries.filter { $0.kind == .file } }
    public var directories: [Entry] { entries.filter { $0.kind == .directory } }

    /// The entries `isIncluded` keeps (e.g. drop dotfiles for vsftpd's LIST).
    public func filter(_ isIncluded: (Entry) -> Bool) -> TestManifest {
        TestManifest(entries: entries.filter(isIncluded))
    }

    /// Without entries whose path has a component starting with ".".
    public var withoutHiddenEntries: TestManifest {
        filter { entry in !entry.path.split(separator: "/").contains { $0.hasPrefix(".") } }
    }

    /// Human-readable differences, empty when equal:
    /// "missing: …", "unexpected: …", "differs: … expected …".
    /// `self` is the expectation.
    public func differences(from actual: TestManifest) -> [String] {
        var result: [String] = []
        let expectedByPath = Dictionary(entries.map { (Array($0.path.utf8), $0) }, uniquingKeysWith: { a, _ in a })
        let actualByPath = Dictionary(actual.entries.map { (Array($0.path.utf8), $0) }, uniquingKeysWith: { a, _ in a })
        for entry in entries {
            guard let other = actualByPath[Array(entry.path.utf8)] else {
                result.append("missing: \(entry)")
                continue
            }
            if other != entry { result.append("differs: \(other), expected \(entry)") }
        }
        for entry in actual.entries where expectedByPath[Array(entry.path.utf8)] == nil {
            result.append("unexpected: \(entry)")
        }
        return result
    }

    public var description: String {
        entries.map(\.description).joined(separator: "\n")
    }
}

/// The standard test tree served by the test FTP servers.
public enum TestDataSet {
    /// The big file's name, at the top of the tree (only when bigFileSize > 0).
    public static let bigFileName = "big.bin"
    /// A small file with known text content.
    public static let helloFileName = "hello.txt"
    public static let helloContent = "Hello from the ftpfs test data set.\n"

    /// Sizes of the small random files in "sizes/" (named "<size>.bin").
    public static let smallFileSizes = [1, 100, 4095, 4096, 4097, 65_536, 100_000, 204_800]

    /// Creates the standard tree in `root` (created if needed) and returns its
    /// manifest:
    ///
    ///     hello.txt                         known text (helloContent)
    ///     empty.txt                         0 bytes
    ///     sizes/<n>.bin                     random, n in smallFileSizes (1 B … 200 KiB)
    ///     dir1/file1.bin                    random
    ///     dir1/dir2/file2.bin               random
    ///     dir1/dir2/dir3/deep.txt           text
    ///     dir1/dir2/dir3/empty.txt          0 bytes
    ///     empty dir/                        empty directory
    ///     a dir/file with  spaces.txt       (two spaces)
    ///     版本/文件.txt                      UTF-8 names
    ///     Ünïcödé.txt                       UTF-8 name, NFC
    ///     .hidden.txt                       dotfile (vsftpd hides it from LIST), if includeDotfiles
    ///     big.bin                           bigFileSize random bytes, if > 0
    ///
    /// Random content comes from /dev/urandom (200 MiB take about a second).
    @discardableResult
    public static func generate(at root: String, bigFileSize: Int = 0,
                                includeDotfiles: Bool = true) throws -> TestManifest {
        let files = FileManager.default
        try files.createDirectory(atPath: root, withIntermediateDirectories: true)
        func directory(_ relative: String) throws {
            try files.createDirectory(atPath: root + "/" + relative, withIntermediateDirectories: true)
        }
        func text(_ relative: String, _ content: String) throws {
            try Data(content.utf8).write(to: URL(fileURLWithPath: root + "/" + relative))
        }
        func random(_ relative: String, _ size: Int) throws {
            try writeRandomFile(at: root + "/" + relative, size: size)
        }

        try text(helloFileName, helloContent)
        try text("empty.txt", "")
        try directory("sizes")
        for size in smallFileSizes { try random("sizes/\(size).bin", size) }
        try directory("dir1/dir2/dir3")
        try random("dir1/file1.bin", 1_000)
        try random("dir1/dir2/file2.bin", 10_000)
        try text("dir1/dir2/dir3/deep.txt", "three levels down\n")
        try text("dir1/dir2/dir3/empty.txt", "")
        try directory("empty dir")
        try directory("a dir")
        try text("a dir/file with  spaces.txt", "a name with two spaces\n")
        try directory("\u{7248}\u{672C}")  // 版本
        try text("\u{7248}\u{672C}/\u{6587}\u{4EF6}.txt", "\u{6587}\u{4EF6}\n")  // 版本/文件.txt
        try text("\u{00DC}n\u{00EF}c\u{00F6}d\u{00E9}.txt", "\u{00DC}n\u{00EF}c\u{00F6}d\u{00E9}\n")  // Ünïcödé.txt
        if includeDotfiles { try text(".hidden.txt", "hidden\n") }
        if bigFileSize > 0 { try random(bigFileName, bigFileSize) }
        return try manifest(of: root)
    }

    /// Writes `size` random bytes (from /dev/urandom) to `path`, replacing it.
    public static func writeRandomFile(at path: String, size: Int) throws {
        guard let random = FileHandle(forReadingAtPath: "/dev/urandom") else {
            throw TestSupportError("cannot open /dev/urandom")
        }
        defer { try? random.close() }
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw TestSupportError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? output.close() }
        var remaining = size
        while remaining > 0 {
            let chunk = try random.read(upToCount: min(remaining, 1 << 20)) ?? Data()
            guard !chunk.isEmpty else { throw TestSupportError("short read from /dev/urandom") }
            try output.write(contentsOf: chunk)
            remaining -= chunk.count
        }
    }

    /// The manifest of any directory tree (a server's root, a mountpoint, …).
    /// Walks with readdir/lstat (so on a mount it exercises those operations)
    /// and hashes files with `sha256sum`. Symlinks are recorded, not followed.
    /// - Parameter includeHidden: include entries whose name starts with ".".
    public static func manifest(of root: String, includeHidden: Bool = true,
                                hashTimeout: Duration = .seconds(600)) throws -> TestManifest {
        var entries: [TestManifest.Entry] = []
        var filesToHash: [(relative: String, size: Int)] = []
        var pending = [""]
        while let relative = pending.popLast() {
            let directory = relative.isEmpty ? root : root + "/" + relative
            for name in try directoryNames(directory) {
                if !includeHidden && name.hasPrefix(".") { continue }
                let childRelative = relative.isEmpty ? name : relative + "/" + name
                let childPath = root + "/" + childRelative
                var info = stat()
                guard lstat(childPath, &info) == 0 else {
                    throw TestSupportError("lstat \(childPath): \(String(cString: strerror(errno)))")
                }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    entries.append(.init(path: childRelative, kind: .directory, size: 0))
                    pending.append(childRelative)
                case S_IFLNK:
                    let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: childPath)) ?? ""
                    entries.append(.init(path: childRelative, kind: .symlink, size: target.utf8.count,
                                         linkTarget: target))
                case S_IFREG:
                    filesToHash.append((childRelative, Int(info.st_size)))
                default:
                    throw TestSupportError("\(childPath): neither file, directory nor symlink")
                }
            }
        }
        // sha256sum prints one line per file in argument order; -z ends lines
        // with NUL and leaves names unescaped.
        for batch in stride(from: 0, to: filesToHash.count, by: 200) {
            let files = filesToHash[batch..<min(batch + 200, filesToHash.count)]
            let result = try Shell.run(["sha256sum", "-z", "--"] + files.map { root + "/" + $0.relative },
                                       timeout: hashTimeout).check()
            let lines = result.stdoutData.split(separator: 0)
            guard lines.count == files.count else {
                throw TestSupportError("sha256sum printed \(lines.count) lines for \(files.count) files")
            }
            for (file, line) in zip(files, lines) {
                let hash = String(decoding: line.prefix(64), as: UTF8.self)
                entries.append(.init(path: file.relative, kind: .file, size: file.size, sha256: hash))
            }
        }
        return TestManifest(entries: entries)
    }

    /// The SHA-256 (lowercase hex) of one file.
    public static func sha256(ofFile path: String, timeout: Duration = .seconds(600)) throws -> String {
        let result = try Shell.run(["sha256sum", "-z", "--", path], timeout: timeout).check()
        return String(decoding: result.stdoutData.prefix(64), as: UTF8.self)
    }

    /// Names in `directory` except "." and "..", via opendir/readdir.
    private static func directoryNames(_ directory: String) throws -> [String] {
        guard let handle = opendir(directory) else {
            throw TestSupportError("opendir \(directory): \(String(cString: strerror(errno)))")
        }
        defer { closedir(handle) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(handle) else {
                if errno != 0 {
                    throw TestSupportError("readdir \(directory): \(String(cString: strerror(errno)))")
                }
                return names
            }
            let name = try withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                try pointer.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: pointer.pointee)) {
                    guard let name = String(validatingCString: $0) else {
                        throw TestSupportError("\(directory) holds a name that is not UTF-8; manifests need UTF-8 names")
                    }
                    return name
                }
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }
}
