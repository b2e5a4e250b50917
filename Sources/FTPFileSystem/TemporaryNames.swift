import FTPClient
import FTPProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Names of the files ftpfs keeps on the server for a while, beside the file they stand for:
/// uploads in flight (renamed into place once complete and verified), files unlinked while
/// still open (deleted at their last close), and the old file set aside while a replacement
/// moves into place on servers that will not rename over a file.
///
///     .ftpfs-up.3d1219c7.2e1398bd.41523.8837211.9f0c2a11.5be0c1d7
///            kind  machine  boot     pid   start    random   check
///
/// A name says which process made it, so a later mount on the same machine can tell the
/// temporaries of ftpfs processes that died (kill -9, OOM, power loss) from those of live
/// ones, and remove only those. Its check digits are a keyed hash over the rest, the key
/// naming the server and login: no user file can be taken for one by accident (the old
/// `.ftpfs-upload-` prefix hid and endangered any file that began with it), and a
/// temporary of another login is never touched.
struct TemporaryNames: Sendable {
    enum Kind: String, Sendable, CaseIterable {
        /// An upload in flight.
        case upload = "up"
        /// A file unlinked while open: deleted when its last handle closes.
        case unlinked = "rm"
        /// A file set aside while its replacement moves into place.
        case backup = "bak"
    }

    /// What a temporary's name says about it.
    struct Parsed: Equatable, Sendable {
        var kind: Kind
        var owner: ProcessIdentity
    }

    let owner: ProcessIdentity
    private let key: String

    /// `scope` names the server and login (`ftp://alice@example.org:21`).
    init(scope: String, owner: ProcessIdentity = .current) {
        self.owner = owner
        self.key = "ftpfs temporary names\u{0}" + scope
    }

    static let prefix = ".ftpfs-"

    /// A new name of `kind` in the directory of `serverPath`.
    func make(_ kind: Kind, beside serverPath: String) -> String {
        let random = Self.hex8(UInt32.random(in: 0...UInt32.max))
        let body = [kind.rawValue, owner.machine, owner.boot, String(owner.pid), String(owner.start), random]
            .joined(separator: ".")
        return FTPPath.join(FTPPath.parent(serverPath), Self.prefix + body + "." + check(body))
    }

    /// What `name` (a last path component) is, when it is a temporary of this server and login.
    func parse(_ name: String) -> Parsed? {
        guard name.hasPrefix(Self.prefix) else { return nil }
        let fields = name.dropFirst(Self.prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard fields.count == 7, let kind = Kind(rawValue: String(fields[0])),
              let pid = Int32(fields[3]), let start = UInt64(fields[4])
        else { return nil }
        let body = fields[0..<6].joined(separator: ".")
        guard check(body) == fields[6] else { return nil }
        return Parsed(kind: kind, owner: ProcessIdentity(machine: String(fields[1]), boot: String(fields[2]),
                                                         pid: pid, start: start))
    }

    /// Whether `name` is a temporary whose process is gone from this machine: safe to remove.
    func isAbandoned(_ name: String) -> Bool {
        guard let parsed = parse(name) else { return false }
        return parsed.owner.isDead(onMachineOf: owner)
    }

    static func hex8(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    private func check(_ body: String) -> String {
        String(SystemIdentity.sha256Hex(key + "\u{0}" + body).prefix(8))
    }
}

/// One process, named so that it can be recognised as gone later: the machine, the boot, the
/// pid and the pid's start time (a pid is reused, the pair is not within one boot).
struct ProcessIdentity: Hashable, Sendable, CustomStringConvertible {
    var machine: String
    var boot: String
    var pid: Int32
    var start: UInt64

    static let current = ProcessIdentity(machine: SystemIdentity.machine, boot: SystemIdentity.boot,
                                         pid: getpid(), start: SystemIdentity.startTime(of: getpid()) ?? 0)

    var description: String { "process \(pid) (started \(start), boot \(boot), machine \(machine))" }

    /// Whether this process, of the same machine as `reference`, no longer runs. Processes of
    /// other machines are never judged dead: nothing here can know.
    func isDead(onMachineOf reference: ProcessIdentity) -> Bool {
        guard machine == reference.machine else { return false }
        if self == reference { return false }
        if boot != reference.boot { return true }  // the machine restarted since
        guard let running = SystemIdentity.startTime(of: pid) else { return true }
        return running != start
    }

    /// `pid-start-boot`, for file names.
    var fileName: String { "\(pid)-\(start)-\(boot)" }

    init(machine: String, boot: String, pid: Int32, start: UInt64) {
        self.machine = machine
        self.boot = boot
        self.pid = pid
        self.start = start
    }

    /// The identity `fileName` gave, on `machine`.
    init?(fileName: String, machine: String) {
        let parts = fileName.split(separator: "-")
        guard parts.count == 3, let pid = Int32(parts[0]), let start = UInt64(parts[1]) else { return nil }
        self.init(machine: machine, boot: String(parts[2]), pid: pid, start: start)
    }
}

/// This machine and this boot, in 8 hex digits each.
enum SystemIdentity {
    static let machine: String = short(firstLine(of: "/etc/machine-id") ?? hostName())
    static let boot: String = short(firstLine(of: "/proc/sys/kernel/random/boot_id") ?? "unknown")

    /// A process's start time in clock ticks since boot (field 22 of /proc/PID/stat).
    static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = firstLine(of: "/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command name (which may hold spaces and parentheses): state is 3rd.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    private static func short(_ text: String) -> String {
        String(sha256Hex(text).prefix(8))
    }

    static func sha256Hex(_ text: String) -> String {
        let digest = ContentDigest(.sha256)
        Array(text.utf8).withUnsafeBytes { digest.update($0) }
        return digest.finish()
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func firstLine(of path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let line = bytes[0..<count].prefix { $0 != 0x0A }
        return String(decoding: line, as: UTF8.self)
    }
}
