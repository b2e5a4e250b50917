#if canImport(Glibc)
import Glibc
#endif

/// The kernel's read-ahead for a FUSE mount.
///
/// The kernel never reads ahead further than the mount's backing device allows, and for FUSE that
/// is 128 KiB whatever `max_readahead` the file system asks for: a sequential reader then waits on
/// one round trip per 128 KiB. The limit lives in `/sys/class/bdi/MAJOR:MINOR/read_ahead_kb`,
/// which only root may raise; for anyone else it stays as it is.
public enum KernelReadAhead {
    public enum Outcome: Equatable, Sendable {
        case raised(kibibytes: Int)
        /// Why not (not root, no sysfs, a mountpoint that is a descriptor, ...).
        case unchanged(String)
    }

    /// Raises the read-ahead of the FUSE mount at `mountpoint` to `bytes` (never lowers it).
    static func raise(mountpoint: String, to bytes: UInt32) -> Outcome {
        let wanted = Int(bytes / 1024)
        guard wanted > 128 else { return .unchanged("read-ahead of \(wanted) KiB asked for") }
        guard let device = device(ofMountAt: mountpoint) else {
            return .unchanged("\(mountpoint) not found in /proc/self/mountinfo")
        }
        let path = "/sys/class/bdi/\(device)/read_ahead_kb"
        guard access(path, W_OK) == 0 else { return .unchanged("\(path) is not writable (root only)") }
        let current = readNumber(path) ?? 0
        if current >= wanted { return .raised(kibibytes: current) }
        guard writeNumber(wanted, to: path) else { return .unchanged("writing \(path) failed (errno \(errno))") }
        return .raised(kibibytes: wanted)
    }

    /// The MAJOR:MINOR of the newest mount at `mountpoint` (fields 3 and 5 of mountinfo; the
    /// mount point's spaces and the like are escaped as octal).
    static func device(ofMountAt mountpoint: String) -> String? {
        guard let table = readText("/proc/self/mountinfo") else { return nil }
        var found: String?
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count > 4, unescape(fields[4]) == mountpoint else { continue }
            found = String(fields[2])
        }
        return found
    }

    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func readText(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func readNumber(_ path: String) -> Int? {
        readText(path).flatMap { Int(String($0.filter(\.isNumber))) }
    }

    private static func writeNumber(_ value: Int, to path: String) -> Bool {
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        let text = Array("\(value)\n".utf8)
        return text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } == text.count
    }
}
