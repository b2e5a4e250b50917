import FTPProtocol
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// A local record of the temporaries this process has on the server (see `TemporaryNames`),
/// so that a later mount can remove what a process that died left behind without searching
/// the whole tree: one file per process under the cache directory, appended to as
/// temporaries come and go.
///
///     +  /pub/.ftpfs-up.…                    an upload in flight (or a file unlinked while open)
///     ~  /pub/.ftpfs-bak.…  /pub/report.txt  a file set aside while its replacement moves in
///     -  /pub/.ftpfs-up.…                    gone (renamed into place, or deleted)
///
/// (fields separated by tabs).
///
/// Written without fsync: after a power loss the last lines may be missing, and such a
/// temporary is removed when its directory is next listed instead (`isAbandoned`).
final class TemporaryJournal: @unchecked Sendable {
    /// What a dead process left: temporaries to delete, and set-aside files with the name they
    /// belong under (restored there when that name is empty, else deleted).
    struct Leftovers: Equatable {
        var temporaries: [String] = []
        var backups: [(backup: String, original: String)] = []

        static func == (lhs: Leftovers, rhs: Leftovers) -> Bool {
            lhs.temporaries == rhs.temporaries
                && lhs.backups.map(\.backup) == rhs.backups.map(\.backup)
                && lhs.backups.map(\.original) == rhs.backups.map(\.original)
        }
    }

    /// `directory/<scope key>/<pid-start-boot>`.
    let directory: String
    let owner: ProcessIdentity
    private let lock = ConditionLock()
    private var descriptor: Int32 = -1
    private var failed = false

    init(cacheDirectory: String, scope: String, owner: ProcessIdentity = .current) {
        self.directory = cacheDirectory + "/temporaries/" + Self.key(scope)
        self.owner = owner
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    private var path: String { directory + "/" + owner.fileName }

    func recordTemporary(_ serverPath: String) { append(Self.line(["+", serverPath])) }
    func recordBackup(_ backup: String, of original: String) { append(Self.line(["~", backup, original])) }
    func recordGone(_ serverPath: String) { append(Self.line(["-", serverPath])) }

    /// Appends one line. A journal that cannot be written is given up (`isHealthy`), and
    /// uploads go on without it: it only helps a later mount clean up.
    private func append(_ line: String) {
        lock.withLock {
            guard !failed else { return }
            if descriptor < 0 {
                guard Self.makeDirectories(directory) else {
                    failed = true
                    return
                }
                descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
                if descriptor < 0 {
                    failed = true
                    return
                }
            }
            let bytes = Array((line + "\n").utf8)
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written != bytes.count { failed = true }
        }
    }

    var isHealthy: Bool { lock.withLock { !failed } }

    /// Removes this process's journal (at a clean unmount, once nothing is left in flight).
    func removeIfEmpty() {
        let text = lock.withLock { () -> String? in
            if descriptor >= 0 {
                close(descriptor)
                descriptor = -1
            }
            return Self.read(path)
        }
        if let text, Self.leftovers(in: text) == Leftovers() { unlink(path) }
    }

    /// The journals of processes of this machine that no longer run, with what each left.
    /// `remove(journal)` once its leftovers are dealt with.
    func abandonedJournals() -> [(journal: String, leftovers: Leftovers)] {
        guard let listing = opendir(directory) else { return [] }
        defer { closedir(listing) }
        var found: [(String, Leftovers)] = []
        while let item = readdir(listing) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let process = ProcessIdentity(fileName: name, machine: owner.machine),
                  process.isDead(onMachineOf: owner)
            else { continue }
            let journal = directory + "/" + name
            found.append((journal, Self.read(journal).map(Self.leftovers) ?? Leftovers()))
        }
        return found.sorted { $0.0 < $1.0 }
    }

    func remove(_ journal: String) {
        unlink(journal)
    }

    /// What a journal's lines leave pending, in the order they were made.
    static func leftovers(in text: String) -> Leftovers {
        var pending: [String] = []
        var backups: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map { unescape(String($0)) }
            switch (fields.first, fields.count) {
            case ("+", 2):
                pending.append(fields[1])
            case ("~", 3):
                pending.append(fields[1])
                backups[fields[1]] = fields[2]
            case ("-", 2):
                pending.removeAll { $0 == fields[1] }
                backups[fields[1]] = nil
            default:
                continue  // a line cut short by a crash
            }
        }
        var result = Leftovers()
        for path in pending {
            if let original = backups[path] {
                result.backups.append((path, original))
            } else {
                result.temporaries.append(path)
            }
        }
        return result
    }

    /// One line: fields separated by tabs, each with `%`, tab and newline escaped (server
    /// paths may hold anything but NUL).
    static func line(_ fields: [String]) -> String {
        fields.map(escape).joined(separator: "\t")
    }

    static func escape(_ field: String) -> String {
        var result = ""
        for character in field {
            switch character {
            case "%": result += "%25"
            case "\t": result += "%09"
            case "\n": result += "%0A"
            default: result.append(character)
            }
        }
        return result
    }

    static func unescape(_ field: String) -> String {
        var result = ""
        var rest = Substring(field)
        while let percent = rest.firstIndex(of: "%") {
            result += rest[..<percent]
            let code = rest[percent...].prefix(3)
            switch code {
            case "%25": result += "%"
            case "%09": result += "\t"
            case "%0A": result += "\n"
            default: result += code
            }
            rest = rest[percent...].dropFirst(code.count)
        }
        return result + rest
    }

    private static func read(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            result.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: result, as: UTF8.self)
    }

    private static func makeDirectories(_ path: String) -> Bool {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST { return false }
        }
        return true
    }

    /// A short, file-name-safe key for a server and login.
    static func key(_ scope: String) -> String {
        String(SystemIdentity.sha256Hex(scope).prefix(16))
    }
}
