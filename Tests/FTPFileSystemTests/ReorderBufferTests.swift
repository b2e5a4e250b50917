import Testing

@testable import FTPFileSystem

@Suite struct ReorderBufferTests {
    func read(_ buffer: ReorderBuffer, at offset: UInt64, count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let got = out.withUnsafeMutableBytes { buffer.copy(at: offset, into: $0) }
        return Array(out[0..<got])
    }

    @Test func servesBytesFromTheChunkThatHoldsThem() {
        var buffer = ReorderBuffer(capacity: 100)
        buffer.insert(offset: 10, bytes: Array(0..<20))
        #expect(read(buffer, at: 10, count: 5) == [0, 1, 2, 3, 4])
        #expect(read(buffer, at: 25, count: 10) == [15, 16, 17, 18, 19])
        #expect(read(buffer, at: 30, count: 4).isEmpty)
        #expect(read(buffer, at: 9, count: 4).isEmpty)
    }

    @Test func dropsTheOldestChunksBeyondItsCapacity() {
        var buffer = ReorderBuffer(capacity: 25)
        buffer.insert(offset: 0, bytes: [UInt8](repeating: 1, count: 10))
        buffer.insert(offset: 10, bytes: [UInt8](repeating: 2, count: 10))
        buffer.insert(offset: 20, bytes: [UInt8](repeating: 3, count: 10))
        #expect(read(buffer, at: 0, count: 1).isEmpty)
        #expect(read(buffer, at: 10, count: 1) == [2])
        #expect(read(buffer, at: 29, count: 5) == [3])
    }
}
