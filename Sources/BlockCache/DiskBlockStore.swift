#if canImport(Glibc)
import Glibc
#endif
import ThreadSupport

/// Blocks as files under `DIRECTORY/blocks/`, one subdirectory per path (so a path's blocks go
/// with one removal), within a byte budget: the least recently used files go first.
///
/// Each file starts with a header naming its key in full, then the CRC-32C of the block, then
/// the block. A file whose header does not match (a hash collision, another program's file) is
/// never served; one whose checksum does not match (a torn write, a bad disk) is removed.
/// The directory and its subdirectories are the mounting user's alone (`PrivateDirectory`).
final class DiskBlockStore: @unchecked Sendable {
    private let root: String
    private let budget: Int
    /// Names this mount in the header of blocks no later mount may serve (see
    /// `ContentVersion.persistsAcrossMounts`).
    private let mountToken = UInt64.random(in: 0...UInt64.max)
    private let lock = ConditionLock()
    /// Relative file name → (size, last use), for eviction.
    private var files: [String: (size: Int, lastUse: Double)] = [:]
    private(set) var totalBytes = 0

    init(directory: String, budget: Int) throws(BlockCacheError) {
        root = directory + "/blocks"
        self.budget = budget
        do {
            try PrivateDirectory.prepare(directory)
            try PrivateDirectory.prepare(root)
        } catch {
            throw .unsafeDirectory(error)
        }
        guard access(root, R_OK | W_OK | X_OK) == 0 else { throw .directory(root, errno: errno) }
        scan()
    }

    /// The block, when a file of this store (found at mount or saved since) holds it whole.
    func load(_ key: BlockCache.Key) -> [UInt8]? {
        let name = Self.fileName(key)
        guard lock.withLock({ files[name] != nil }) else { return nil }
        let descriptor = open(root + "/" + name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        let header = header(key)
        let checksumEnd = header.count + Self.checksumLineLength
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_size >= header.count else { return nil }
        var contents = [UInt8](repeating: 0, count: Int(status.st_size))
        var got = 0
        while got < contents.count {
            let count = contents.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + got, $0.count - got) }
            if count <= 0 { return nil }
            got += count
        }
        guard contents.starts(with: header) else { return nil }
        guard contents.count >= checksumEnd,
              contents[header.count..<checksumEnd].elementsEqual(Self.checksumLine(contents[checksumEnd...]))
        else {
            drop(name)
            return nil
        }
        lock.withLock { files[name]?.lastUse = MonotonicClock.now }
        return Array(contents[checksumEnd...])
    }

    func save(_ key: BlockCache.Key, _ bytes: [UInt8]) {
        let name = Self.fileName(key)
        let directory = root + "/" + Self.directoryName(key.version.path)
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else { return }
        let temporary = directory + "/.incoming-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return }
        let contents = header(key) + Self.checksumLine(bytes[...]) + bytes
        let written = contents.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == contents.count, rename(temporary, root + "/" + name) == 0 else {
            unlink(temporary)
            return
        }
        let excess: [String] = lock.withLock {
            if let old = files.updateValue((contents.count, MonotonicClock.now), forKey: name) {
                totalBytes -= old.size
            }
            totalBytes += contents.count
            guard totalBytes > budget else { return [] }
            // Down to 90% at once, so that a full cache does not evict on every save.
            var victims: [String] = []
            for (file, entry) in files.sorted(by: { $0.value.lastUse < $1.value.lastUse }) {
                guard totalBytes > budget - budget / 10 else { break }
                victims.append(file)
                totalBytes -= entry.size
                files.removeValue(forKey: file)
            }
            return victims
        }
        for file in excess { unlink(root + "/" + file) }
    }

    /// Removes a file found corrupt.
    private func drop(_ name: String) {
        lock.withLock {
            if let entry = files.removeValue(forKey: name) { totalBytes -= entry.size }
        }
        unlink(root + "/" + name)
    }

    func remove(path: String) {
        let directory = Self.directoryName(path)
        lock.withLock {
            for (file, entry) in files where file.hasPrefix(directory + "/") {
                totalBytes -= entry.size
                files.removeValue(forKey: file)
            }
        }
        removeTree(root + "/" + directory)
    }

    func removeAll() {
        let names: [String] = lock.withLock {
            let directories = Set(files.keys.compactMap { $0.split(separator: "/").first.map(String.init) })
            files.removeAll()
            totalBytes = 0
            return Array(directories)
        }
        for name in names { removeTree(root + "/" + name) }
    }

    /// Indexes what earlier mounts left, oldest first by modification time. A subdirectory that
    /// is not this user's alone was not made by ftpfs: it is left alone and never read.
    private func scan() {
        for directory in Self.entries(of: root) where PrivateDirectory.isPrivate(root + "/" + directory) {
            for file in Self.entries(of: root + "/" + directory) {
                let relative = directory + "/" + file
                var status = stat()
                guard stat(root + "/" + relative, &status) == 0 else { continue }
                if file.hasPrefix(".incoming-") {
                    unlink(root + "/" + relative)  // an interrupted save
                    continue
                }
                let age = Double(status.st_mtim.tv_sec) - Double(time(nil))  // older → smaller
                files[relative] = (Int(status.st_size), MonotonicClock.now + age)
                totalBytes += Int(status.st_size)
            }
        }
    }

    private func removeTree(_ directory: String) {
        for file in Self.entries(of: directory) { unlink(directory + "/" + file) }
        rmdir(directory)
    }

    private static func entries(of directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Names the block in full: a file is served only for the key it names. A version whose
    /// time may be cut to the minute names this mount as well, so that no later mount serves it
    /// (see `ContentVersion.persistsAcrossMounts`).
    func header(_ key: BlockCache.Key) -> [UInt8] {
        let scope = key.version.persistsAcrossMounts ? "any mount" : "mount " + Self.hex(mountToken)
        return Array("ftpfs block 2\n\(key.version.path)\n\(key.version.size) \(key.version.modified) \(key.index)\n\(scope)\n".utf8)
    }

    /// `crc32c 1a2b3c4d\n`: the checksum of the block that follows it.
    static func checksumLine(_ block: ArraySlice<UInt8>) -> [UInt8] {
        let digits = String(block.withUnsafeBytes { CRC32C.checksum($0) }, radix: 16)
        return Array(("crc32c " + String(repeating: "0", count: 8 - digits.count) + digits + "\n").utf8)
    }

    static let checksumLineLength = 16

    static func directoryName(_ path: String) -> String {
        hex(fnv1a(Array(path.utf8)))
    }

    static func fileName(_ key: BlockCache.Key) -> String {
        let version = fnv1a(Array("\(key.version.size) \(key.version.modified)".utf8))
        return directoryName(key.version.path) + "/" + hex(version) + "-\(key.index)"
    }

    /// A hash that stays the same from one run to the next (Swift's `Hasher` does not).
    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
