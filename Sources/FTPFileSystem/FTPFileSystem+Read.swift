import FTPClient
import FTPProtocol
import FuseBridge
import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

extension FTPFileSystem {
    /// Serves a read from the handle's stream.
    ///
    /// A reader at the stream's position takes the next bytes straight into the kernel's buffer;
    /// a request a little ahead (the kernel's parallel read-ahead arriving out of order) reads
    /// through the gap into the reorder buffer, where the earlier request will find it; anything
    /// else (a seek) restarts the transfer with REST at the requested offset.
    public func read(_ path: String, handle: UInt64, into buffer: UnsafeMutableRawBufferPointer,
                     offset: Int64) throws(Errno) -> Int
    {
        guard let file = openFiles.file(handle) else { throw .badFileDescriptor }
        guard offset >= 0 else { throw .invalidArgument }
        file.touch()
        file.lock.lock()
        defer { file.lock.unlock() }

        // A file being written is read from where its bytes are.
        if let writer = file.writer ?? writers.writer(for: file.path) {
            writer.lock.lock()
            switch writer.state {
            case .staged(let staged):
                defer { writer.lock.unlock() }
                let available = writer.size > UInt64(offset) ? Int(min(UInt64(buffer.count), writer.size - UInt64(offset))) : 0
                return try staged.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<available]),
                                       at: UInt64(offset))
            case .streaming, .suspended:
                // What was streamed is on the server only once the upload completes.
                do {
                    try commit(writer)
                } catch {
                    writer.lock.unlock()
                    throw error
                }
            case .idle:
                break
            }
            let emptyUntilUploaded = writer.needsUpload
            let generation = writer.generation
            writer.lock.unlock()
            if emptyUntilUploaded { return 0 }
            file.discardReadState(pool: pool, generation: generation)
        }

        var filled = 0
        let deadline = pool.deadline()
        while filled < buffer.count {
            let position = UInt64(offset) + UInt64(filled)
            let destination = UnsafeMutableRawBufferPointer(rebasing: buffer[filled...])
            let buffered = file.reorderBuffer.copy(at: position, into: destination)
            if buffered > 0 {
                filled += buffered
                continue
            }
            do {
                let count = try readFromStream(file, at: position, into: destination, deadline: deadline)
                if count == 0 { break }  // end of file
                filled += count
            } catch {
                file.closeStream(pool: pool)
                // A stream broken mid-transfer resumes with REST where it stopped, for as long as
                // the operation's deadline allows (a server that stopped answering ends it).
                if error.isConnectionLost || error.isTransferInterrupted, MonotonicClock.now < deadline {
                    logger.info("read of \(path) at \(position) failed (\(error)); resuming")
                    usleep(20_000)
                    continue
                }
                // Never a short read: the kernel would take it for the end of the file.
                let code = Self.errno(for: error, during: .read)
                logFailure(error, operation: .read, errno: code)
                throw code
            }
        }
        file.touch()
        activity.recordRead(filled)
        return filled
    }

    /// Reads the next bytes at `position` into `destination` from the file's stream, starting
    /// or repositioning the stream as needed. Returns 0 at end of file. Call with the file locked.
    private func readFromStream(_ file: OpenFile, at position: UInt64,
                                into destination: UnsafeMutableRawBufferPointer,
                                deadline: Double) throws(FTPError) -> Int
    {
        if let end = file.endOfFile, position >= end { return 0 }
        if let stream = file.stream, position != stream.position {
            let isShortlyAhead = position > stream.position
                && position - stream.position <= configuration.readThroughWindow
            if !isShortlyAhead { file.closeStream(pool: pool) }
        }
        let stream: ReadStream
        if let current = file.stream {
            stream = current
        } else {
            let session = try pool.checkout(deadline: deadline)
            do {
                let transfer = try session.retrieve(file.serverPath, from: position)
                stream = ReadStream(transfer: transfer, position: position)
                file.setStream(stream)
            } catch {
                pool.checkin(session)
                throw error
            }
        }

        if position > stream.position {
            let gapLength = Int(position - stream.position)
            let gap = UnsafeMutableRawBufferPointer.allocate(byteCount: gapLength, alignment: 1)
            defer { gap.deallocate() }
            var got = 0
            while got < gapLength {
                let count = try stream.transfer.read(into: UnsafeMutableRawBufferPointer(rebasing: gap[got...]))
                if count == 0 { break }
                got += count
            }
            file.reorderBuffer.insert(offset: stream.position, bytes: Array(gap[0..<got]))
            stream.position += UInt64(got)
            if got < gapLength {
                file.reachedEnd(at: stream.position, pool: pool)
                return 0
            }
        }

        let count = try stream.transfer.read(into: destination)
        stream.position += UInt64(count)
        if count == 0 {
            // The server confirmed the end of the transfer: the session is free again.
            file.reachedEnd(at: stream.position, pool: pool)
        }
        return count
    }

    /// Called by the pool when every connection is taken: stops the least recently used read
    /// stream that is not serving a read right now. Returns whether one was stopped.
    func releaseIdleReadStream() -> Bool {
        for file in openFiles.filesWithStreams() {
            guard file.lock.tryLock() else { continue }
            defer { file.lock.unlock() }
            if file.stream != nil {
                logger.debug("reclaiming the idle read stream of \(file.path) for another operation")
                file.closeStream(pool: pool)
                return true
            }
        }
        return false
    }
}
