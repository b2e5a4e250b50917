#if canImport(Glibc)
import Glibc
#endif

/// Sent bytes of an upload kept on disk, beyond what its pipeline keeps in memory: a server
/// that drops the connection may have lost more than the memory tail holds (tens of MB sit in
/// the TCP buffers of machines tuned for fast networks), and these bytes are then sent again.
///
/// A ring of `capacity` bytes in an unlinked file in the cache directory, created on the first
/// write: it holds the `capacity` bytes before `end` (file offsets). The page cache keeps it
/// (a disk write only when the kernel writes dirty pages back), so it costs no process memory.
/// Not thread-safe: the pipeline's owner uses it while no other thread touches it.
final class UploadSpool {
    let capacity: Int
    private let directory: String
    private var descriptor: Int32 = -1
    /// The oldest and the next offset held; `start == end` when nothing is.
    private(set) var start: UInt64 = 0
    private(set) var end: UInt64 = 0
    /// A write failed (disk full, say): nothing is held from then on.
    private(set) var isBroken = false

    init(capacity: Int, directory: String) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.directory = directory
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Appends the bytes at file offset `offset`, which must be `end` (or anything, when
    /// nothing is held yet); the oldest bytes make room.
    func append(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) {
        guard !isBroken, bytes.count > 0 else { return }
        if start == end || offset != end { start = offset; end = offset }
        guard openFile(), writeRing(bytes, at: offset) else {
            isBroken = true
            start = end
            return
        }
        end = offset + UInt64(bytes.count)
        if end - start > UInt64(capacity) { start = end - UInt64(capacity) }
    }

    /// Reads `buffer.count` bytes from file offset `offset`; false unless all are held.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) -> Bool {
        guard !isBroken, offset >= start, offset + UInt64(buffer.count) <= end else { return false }
        let base = buffer.baseAddress!
        guard transferRing(count: buffer.count, at: offset, { pread(descriptor, base + $0, $2, off_t($1)) }) else {
            isBroken = true
            return false
        }
        return true
    }

    private func openFile() -> Bool {
        if descriptor >= 0 { return true }
        var template = Array((directory + "/.upload-spool-XXXXXX").utf8CString)
        let opened = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard opened >= 0 else { return false }
        _ = fcntl(opened, F_SETFD, FD_CLOEXEC)
        // Unlinked at once: the file goes when the descriptor does, even after a crash.
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        descriptor = opened
        return true
    }

    private func writeRing(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) -> Bool {
        let base = bytes.baseAddress!
        return transferRing(count: bytes.count, at: offset) { pwrite(descriptor, base + $0, $2, off_t($1)) }
    }

    /// Moves `count` bytes between a buffer and the ring at file offset `offset`, in the pieces
    /// the ring's wrap makes: `io(bufferOffset, ringIndex, length)` is a pread or pwrite.
    private func transferRing(count: Int, at offset: UInt64, _ io: (Int, Int, Int) -> Int) -> Bool {
        var done = 0
        while done < count {
            let index = Int((offset + UInt64(done)) % UInt64(capacity))
            let moved = io(done, index, min(count - done, capacity - index))
            guard moved > 0 else {
                if moved < 0 && errno == EINTR { continue }
                return false
            }
            done += moved
        }
        return true
    }
}
