import Testing

@testable import FTPFileSystem

@Suite struct SentTailTests {
    func append(_ tail: SentTail, _ bytes: [UInt8], endingAt offset: UInt64) {
        bytes.withUnsafeBytes { tail.append($0, endingAt: offset) }
    }

    @Test func keepsTheNewestBytesByFileOffset() {
        let tail = SentTail(capacity: 10)
        append(tail, [1, 2, 3, 4], endingAt: 104)
        append(tail, [5, 6, 7, 8], endingAt: 108)
        #expect(tail.bytes(from: 100, to: 108) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(tail.bytes(from: 106, to: 108) == [7, 8])
        #expect(tail.bytes(from: 108, to: 108) == [])
        append(tail, [9, 10, 11, 12, 13], endingAt: 113)  // wraps: the oldest three are gone
        #expect(tail.bytes(from: 103, to: 113) == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
        #expect(tail.bytes(from: 102, to: 113) == nil)
    }

    @Test func onlyTheRangeEndingAtTheNewestByteIsAvailable() {
        let tail = SentTail(capacity: 16)
        append(tail, [1, 2, 3], endingAt: 3)
        #expect(tail.bytes(from: 0, to: 2) == nil)  // must end where the stream is
        #expect(tail.bytes(from: 4, to: 3) == nil)
    }

    @Test func aGapStartsAfresh() {
        let tail = SentTail(capacity: 16)
        append(tail, [1, 2, 3], endingAt: 3)
        append(tail, [9, 9], endingAt: 10)  // not contiguous with what came before
        #expect(tail.bytes(from: 8, to: 10) == [9, 9])
        #expect(tail.bytes(from: 0, to: 10) == nil)
    }

    @Test func aChunkLargerThanTheCapacityKeepsItsEnd() {
        let tail = SentTail(capacity: 4)
        append(tail, Array(0..<10), endingAt: 10)
        #expect(tail.bytes(from: 6, to: 10) == [6, 7, 8, 9])
    }
}
