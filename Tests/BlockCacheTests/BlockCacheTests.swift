import Foundation
import Testing

@testable import BlockCache

struct BlockCacheTests {
    let version = ContentVersion(path: "ftp://u@h/dir/big.bin", size: 10 * 1024 + 100, modified: 1_700_000_000_000_000_000)

    func block(_ index: UInt64, of version: ContentVersion, blockSize: Int = 1024) -> [UInt8] {
        let start = Int(index) * blockSize
        let count = min(blockSize, Int(version.size) - start)
        return (0..<count).map { UInt8(truncatingIfNeeded: (start + $0) &* 31 &+ 7) }
    }

    func read(_ cache: BlockCache, _ version: ContentVersion, block index: UInt64, from offset: Int = 0,
              count: Int = 1024) -> [UInt8]?
    {
        var buffer = [UInt8](repeating: 0, count: count)
        let copied = buffer.withUnsafeMutableBytes { cache.copy(version, block: index, from: offset, into: $0) }
        return copied.map { Array(buffer[0..<$0]) }
    }

    @Test func aStoredBlockIsServedFromAnyOffsetAndTheLastBlockIsShort() throws {
        let cache = try BlockCache(blockSize: 1024, memoryBudget: 1 << 20)
        #expect(cache.length(ofBlock: 10, in: version) == 100)
        #expect(cache.length(ofBlock: 11, in: version) == 0)
        cache.store(version, block: 3, bytes: block(3, of: version))
        cache.store(version, block: 10, bytes: block(10, of: version))
        #expect(read(cache, version, block: 3) == block(3, of: version))
        #expect(read(cache, version, block: 3, from: 1000, count: 100) == Array(block(3, of: version)[1000...]))
        #expect(read(cache, version, block: 10) == block(10, of: version))
        #expect(read(cache, version, block: 4) == nil)
        #expect(cache.currentStatistics.hits == 3 && cache.currentStatistics.misses == 1)
    }

    @Test func aBlockOfTheWrongLengthIsNotKept() throws {
        let cache = try BlockCache(blockSize: 1024, memoryBudget: 1 << 20)
        cache.store(version, block: 0, bytes: [1, 2, 3])
        cache.store(version, block: 10, bytes: block(0, of: version))  // last block: 100 bytes, not 1024
        #expect(read(cache, version, block: 0) == nil)
        #expect(read(cache, version, block: 10) == nil)
    }

    @Test func anotherSizeOrModificationTimeIsAnotherVersion() throws {
        let cache = try BlockCache(blockSize: 1024, memoryBudget: 1 << 20)
        cache.store(version, block: 0, bytes: block(0, of: version))
        var touched = version
        touched.modified += 1
        var grown = version
        grown.size += 1
        #expect(read(cache, touched, block: 0) == nil)
        #expect(read(cache, grown, block: 0) == nil)
        #expect(read(cache, version, block: 0) != nil)
    }

    @Test func theLeastRecentlyUsedBlocksGoWhenTheBudgetIsFull() throws {
        let cache = try BlockCache(blockSize: 1024, memoryBudget: 3 * 1024)
        for index: UInt64 in 0..<3 { cache.store(version, block: index, bytes: block(index, of: version)) }
        _ = read(cache, version, block: 0)  // 0 is now more recent than 1
        cache.store(version, block: 3, bytes: block(3, of: version))
        #expect(read(cache, version, block: 1) == nil)
        #expect(read(cache, version, block: 0) != nil)
        #expect(read(cache, version, block: 2) != nil)
        #expect(read(cache, version, block: 3) != nil)
        #expect(cache.currentStatistics.memoryBytes <= 3 * 1024)
    }

    @Test func invalidatingAPathDropsItsBlocksOnly() throws {
        let cache = try BlockCache(blockSize: 1024, memoryBudget: 1 << 20)
        let other = ContentVersion(path: "ftp://u@h/dir/other.bin", size: version.size, modified: version.modified)
        cache.store(version, block: 0, bytes: block(0, of: version))
        cache.store(other, block: 0, bytes: block(0, of: other))
        cache.invalidate(path: version.path)
        #expect(read(cache, version, block: 0) == nil)
        #expect(read(cache, other, block: 0) != nil)
        cache.removeAll()
        #expect(read(cache, other, block: 0) == nil)
        #expect(cache.currentStatistics.memoryBytes == 0)
    }

    @Test func diskBlocksSurviveANewCacheAndInvalidationRemovesThem() throws {
        let directory = NSTemporaryDirectory() + "ftpfs-blockcache-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let cache = try BlockCache(blockSize: 1024, memoryBudget: 1 << 20, directory: directory)
            cache.store(version, block: 2, bytes: block(2, of: version))
            cache.store(version, block: 10, bytes: block(10, of: version))
        }
        // A new mount: nothing in memory, the blocks on disk.
        let again = try BlockCache(blockSize: 1024, memoryBudget: 0, directory: directory)
        #expect(again.currentStatistics.diskBytes > 1124)
        #expect(read(again, version, block: 2) == block(2, of: version))
        #expect(read(again, version, block: 10) == block(10, of: version))
        again.invalidate(path: version.path)
        #expect(read(again, version, block: 2) == nil)
        #expect(again.currentStatistics.diskBytes == 0)
    }

    @Test func aDiskBlockWithAForeignOrTornHeaderIsNeverServed() throws {
        let directory = NSTemporaryDirectory() + "ftpfs-blockcache-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cache = try BlockCache(blockSize: 1024, memoryBudget: 0, directory: directory)
        cache.store(version, block: 1, bytes: block(1, of: version))
        let file = directory + "/blocks/" + DiskBlockStore.fileName(BlockCache.Key(version: version, index: 1))
        var contents = try Data(contentsOf: URL(fileURLWithPath: file))
        contents[5] ^= 0xff  // the header no longer names this block
        try contents.write(to: URL(fileURLWithPath: file))
        #expect(read(cache, version, block: 1) == nil)
        cache.store(version, block: 1, bytes: block(1, of: version))
        contents = try Data(contentsOf: URL(fileURLWithPath: file))
        try contents.prefix(contents.count - 10).write(to: URL(fileURLWithPath: file))  // torn: cut short
        #expect(read(cache, version, block: 1) == nil)
    }

    @Test func theDiskBudgetEvictsTheOldestFiles() throws {
        let directory = NSTemporaryDirectory() + "ftpfs-blockcache-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cache = try BlockCache(blockSize: 1024, memoryBudget: 0, directory: directory, diskBudget: 5 * 1200)
        for index: UInt64 in 0..<10 { cache.store(version, block: index, bytes: block(index, of: version)) }
        #expect(cache.currentStatistics.diskBytes <= 5 * 1200)
        #expect(read(cache, version, block: 9) == block(9, of: version))
        #expect(read(cache, version, block: 0) == nil)
    }

    @Test func anUnusableDirectoryIsAnError() {
        #expect(throws: BlockCacheError.self) {
            _ = try BlockCache(memoryBudget: 1, directory: "/proc/ftpfs-cannot-exist/x")
        }
    }
}
