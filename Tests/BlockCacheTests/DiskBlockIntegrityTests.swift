import Foundation
import Testing

@testable import BlockCache

/// Blocks on disk carry a CRC-32C and are dropped when it does not match; blocks of a version
/// whose time may be cut to the minute serve only the mount that read them.
struct DiskBlockIntegrityTests {
    /// 2023-11-14 22:13:20 UTC, to the second (not a whole minute).
    let precise = ContentVersion(path: "ftp://u@h/a.bin", size: 3000, modified: 1_700_000_000_000_000_000)
    /// 2023-11-14 22:13:00 UTC: what a LIST line `Nov 14 22:13` gives.
    let toTheMinute = ContentVersion(path: "ftp://u@h/b.bin", size: 3000, modified: 1_699_999_980_000_000_000)

    func block(_ index: UInt64, of version: ContentVersion) -> [UInt8] {
        let count = min(1024, Int(version.size) - Int(index) * 1024)
        return (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(index)) }
    }

    func read(_ cache: BlockCache, _ version: ContentVersion, block index: UInt64) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 1024)
        let copied = buffer.withUnsafeMutableBytes { cache.copy(version, block: index, from: 0, into: $0) }
        return copied.map { Array(buffer[0..<$0]) }
    }

    func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = NSTemporaryDirectory() + "ftpfs-integrity-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    func file(of version: ContentVersion, block index: UInt64, in directory: String) -> String {
        directory + "/blocks/" + DiskBlockStore.fileName(BlockCache.Key(version: version, index: index))
    }

    @Test(arguments: [
        ("123456789", UInt32(0xE306_9283)),
        ("", 0),
        ("a", 0xC1D0_4330),
        ("The quick brown fox jumps over the lazy dog", 0x2262_0404),
    ])
    func crc32cMatchesKnownValues(_ text: String, _ expected: UInt32) {
        #expect(CRC32C.checksum(Array(text.utf8)) == expected)
    }

    @Test func crc32cMatchesTheRFC3720Vectors() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func aCorruptBlockIsDroppedNeverServed() throws {
        try withDirectory { directory in
            do {
                let cache = try BlockCache(blockSize: 1024, memoryBudget: 0, directory: directory)
                cache.store(precise, block: 0, bytes: block(0, of: precise))
                cache.store(precise, block: 1, bytes: block(1, of: precise))
            }
            // A bit flips in block 1's data (a bad disk; the header still names the block).
            let path = file(of: precise, block: 1, in: directory)
            var contents = try Data(contentsOf: URL(fileURLWithPath: path))
            contents[contents.count - 100] ^= 0x01
            try contents.write(to: URL(fileURLWithPath: path))

            let cache = try BlockCache(blockSize: 1024, memoryBudget: 0, directory: directory)
            let before = cache.currentStatistics.diskBytes
            #expect(read(cache, precise, block: 0) == block(0, of: precise))
            #expect(read(cache, precise, block: 1) == nil, "a corrupt block was served")
            #expect(!FileManager.default.fileExists(atPath: path), "the corrupt file is removed")
            #expect(cache.currentStatistics.diskBytes < before)
            // Fetched again and stored, it serves again.
            cache.store(precise, block: 1, bytes: block(1, of: precise))
            #expect(read(cache, precise, block: 1) == block(1, of: precise))
        }
    }

    @Test func aVersionKnownToTheMinuteServesOnlyTheMountThatReadIt() throws {
        #expect(precise.persistsAcrossMounts)
        #expect(!toTheMinute.persistsAcrossMounts)
        try withDirectory { directory in
            do {
                // memoryBudget 0: every hit below comes from the disk.
                let cache = try BlockCache(blockSize: 1024, memoryBudget: 0, directory: directory)
                cache.store(toTheMinute, block: 0, bytes: block(0, of: toTheMinute))
                cache.store(precise, block: 0, bytes: block(0, of: precise))
                #expect(read(cache, toTheMinute, block: 0) == block(0, of: toTheMinute), "within the mount it serves")
            }
            // A later mount: the file may have been rewritten within that minute at the same size.
            let later = try BlockCache(blockSize: 1024, memoryBudget: 0, directory: directory)
            #expect(read(later, toTheMinute, block: 0) == nil, "a block keyed to the minute served a later mount")
            #expect(read(later, precise, block: 0) == block(0, of: precise))
        }
    }

    @Test func blocksInASubdirectoryNotMadeByThisUserAreNeverRead() throws {
        try withDirectory { directory in
            do {
                let cache = try BlockCache(blockSize: 1024, memoryBudget: 0, directory: directory)
                cache.store(precise, block: 0, bytes: block(0, of: precise))
            }
            // Someone made the path's subdirectory writable by all (ftpfs makes it 0700).
            let subdirectory = URL(fileURLWithPath: file(of: precise, block: 0, in: directory)).deletingLastPathComponent().path
            chmod(subdirectory, 0o777)
            let later = try BlockCache(blockSize: 1024, memoryBudget: 0, directory: directory)
            #expect(read(later, precise, block: 0) == nil)
            #expect(later.currentStatistics.diskBytes == 0)
        }
    }
}
