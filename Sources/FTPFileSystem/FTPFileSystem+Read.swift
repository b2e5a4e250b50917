import BlockCache
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
        let arrival = MonotonicClock.now
        file.arrive(at: UInt64(offset))
        file.lock.lock()
        defer {
            file.depart(from: UInt64(offset))
            file.lock.broadcast()  // reads waiting for this one (waitForEarlierReads)
            file.lock.unlock()
        }
        try file.throwFailure(since: arrival)

        // A file being written is read from where its bytes are.
        var limit: UInt64?
        if let writer = file.writer ?? file.linkedWriter ?? writers.writer(for: file.path) {
            writer.lock.lock()
            let source: FileWriter.ReadSource
            do {
                source = try writer.readSource()
            } catch {
                writer.lock.unlock()
                throw error
            }
            let size = writer.size
            let generation = writer.generation
            switch source {
            case .local(let staged):
                defer { writer.lock.unlock() }
                let available = size > UInt64(offset) ? Int(min(UInt64(buffer.count), size - UInt64(offset))) : 0
                return try staged.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<available]),
                                       at: UInt64(offset))
            case .nothing:
                writer.lock.unlock()
                return 0
            case .server(let path):
                writer.lock.unlock()
                file.discardReadState(generation: generation, source: path)
                limit = size
            }
        } else if file.readSource != nil {
            file.discardReadState(generation: file.readGeneration, source: nil)
        }
        if let limit, UInt64(offset) >= limit { return 0 }
        let wanted = limit.map { Int(min(UInt64(buffer.count), $0 - UInt64(offset))) } ?? buffer.count
        let buffer = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wanted])

        var filled = 0
        let deadline = store.deadline()
        waitForEarlierReads(file, before: UInt64(offset))
        file.resumeParkedStream(for: UInt64(offset), window: configuration.readThroughWindow)
        if let cached = cachedVersion(of: file) {
            do {
                filled = try readBlocks(file, cached.cache, cached.version, into: buffer, at: UInt64(offset),
                                        deadline: deadline)
            } catch {
                file.closeStream()
                // The stream path below retries from where the stream broke, or reports it.
                logger.info("block read of \(path) at \(offset) failed (\(error)); reading through the stream")
            }
            if filled > 0, filled == buffer.count || UInt64(offset) + UInt64(filled) >= cached.version.size {
                file.touch()
                activity.recordRead(filled)
                return filled
            }
        }
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
                try recoverStream(of: file, from: error, at: position, deadline: deadline)
            }
        }
        if filled < buffer.count, limit == nil {
            try checkEndOfFile(file, at: UInt64(offset) + UInt64(filled))
        }
        file.touch()
        activity.recordRead(filled)
        return filled
    }

    /// The server ended the file at `end`. When the size the kernel was given says there is
    /// more (the file shrank after it was listed, or the server's SIZE or listing promised more
    /// than RETR delivers), the kernel would fill the rest with zeros: bytes the server never
    /// sent. So the read fails with EIO instead, and the size is corrected everywhere it is
    /// kept (the listing, the handle, the kernel's caches) for the next attempt. Call with the
    /// file locked.
    private func checkEndOfFile(_ file: OpenFile, at end: UInt64) throws(Errno) {
        let promised = file.currentAttributes().size
        guard end < promised else { return }
        logger.warning("\(file.path): the server sent \(end) bytes where \(promised) were announced; correcting the size")
        file.correctSize(to: end)
        let path = file.path
        listings.updateEntry(at: path) { entry in
            if entry?.kind == .file { entry?.size = end }
        }
        exactTimes.forget(path)
        pageCacheValidity.forget(path)
        kernelInvalidator?(path, false)
        file.recordFailure(.ioError)
        throw .ioError
    }

    /// Serves a read by splicing the stream's bytes into the kernel's reply pipe: they never
    /// enter user space, which halves the copying a sequential reader costs. Only the plain
    /// case takes this path — a stream (or none yet) exactly at `offset` on a plain TCP data
    /// connection of a file nobody writes; gaps, seeks, buffered bytes and TLS go through `read`.
    public func spliceRead(_ path: String, handle: UInt64, size: Int, offset: Int64,
                           into pipe: Int32) throws(Errno) -> Int?
    {
        guard let file = openFiles.file(handle) else { throw .badFileDescriptor }
        guard offset >= 0 else { throw .invalidArgument }
        file.touch()
        let arrival = MonotonicClock.now
        file.arrive(at: UInt64(offset))
        file.lock.lock()
        defer {
            file.depart(from: UInt64(offset))
            file.lock.broadcast()
            file.lock.unlock()
        }
        try file.throwFailure(since: arrival)
        if file.writer != nil || file.linkedWriter != nil || file.readSource != nil
            || writers.writer(for: file.path) != nil
        {
            return nil
        }
        let start = UInt64(offset)
        if file.reorderBuffer.holds(start) { return nil }
        waitForEarlierReads(file, before: start)
        file.resumeParkedStream(for: start, window: 0)
        if let stream = file.stream, stream.position != start { return nil }
        // A seek to a fresh place goes through the block cache (`read`).
        if file.stream == nil, start != 0, cachedVersion(of: file) != nil { return nil }

        var moved = 0
        let deadline = store.deadline()
        while moved < size {
            let position = start + UInt64(moved)
            if let end = file.endOfFile, position >= end { break }
            do throws(FTPError) {
                let stream = try existingOrNewStream(file, at: position, deadline: deadline)
                guard stream.transfer.canSplice else { return moved == 0 ? nil : moved }
                guard let count = try stream.transfer.splice(into: pipe, count: size - moved) else {
                    break  // the pipe is full: `read` copies the rest
                }
                stream.position += UInt64(count)
                if count == 0 {
                    file.reachedEnd(at: stream.position)  // `read` checks the end against the size
                    break
                }
                moved += count
            } catch {
                // What is already in the pipe is thrown away by the bridge when this throws.
                try recoverStream(of: file, from: error, at: position, deadline: deadline)
            }
        }
        file.touch()
        activity.recordRead(moved)
        return moved
    }

    /// After the stream failed at `position`: returns (the caller goes on, and a new RETR
    /// resumes with REST where the old one stopped) when the connection broke or the transfer
    /// was interrupted and the operation's deadline allows; otherwise throws the errno, and so
    /// does every read queued behind this one. Never a short read: the kernel would take it for
    /// the end of the file. Call with the file locked.
    private func recoverStream(of file: OpenFile, from error: FTPError, at position: UInt64,
                               deadline: Double) throws(Errno)
    {
        file.closeStream()
        if [.connectionLost, .transferInterrupted].contains(error.meaning), MonotonicClock.now < deadline {
            logger.info("read of \(file.path) at \(position) failed (\(error)); resuming")
            usleep(20_000)
            return
        }
        let code = Self.errno(for: error, during: .read)
        logFailure(error, operation: .read, errno: code)
        file.recordFailure(code)
        throw code
    }

    /// The kernel's read-ahead sends several requests of one file at once, and they reach us in
    /// any order: a request just ahead of one that arrived before it and is still under way
    /// waits briefly for it, rather than taking it for a seek or reading through its bytes into
    /// the reorder buffer. Call with the file locked.
    private func waitForEarlierReads(_ file: OpenFile, before position: UInt64) {
        let deadline = MonotonicClock.now + Self.earlierReadsWait
        while file.stream?.position != position,
              file.hasEarlierArrival(before: position, within: configuration.readThroughWindow)
        {
            let remaining = deadline - MonotonicClock.now
            if remaining <= 0 { return }
            file.lock.wait(seconds: remaining)
        }
    }

    /// How long a read waits for the reads before it (see `waitForEarlierReads`).
    static let earlierReadsWait = 0.005

    /// The file's stream, or a new RETR at `position` when it has none: of the file, or of
    /// where a writer's bytes are (`readSource`). Call with the file locked.
    private func existingOrNewStream(_ file: OpenFile, at position: UInt64, deadline: Double) throws(FTPError) -> ReadStream {
        if let stream = file.stream { return stream }
        let transfer = try store.download(file.readSource ?? file.serverPath, from: position, deadline: deadline)
        let stream = ReadStream(transfer: transfer, position: position)
        file.setStream(stream)
        return stream
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
            if !isShortlyAhead { file.setStreamAside() }
        }
        let stream = try existingOrNewStream(file, at: position, deadline: deadline)

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
                file.reachedEnd(at: stream.position)
                return 0
            }
        }

        let count = try stream.transfer.read(into: destination)
        stream.position += UInt64(count)
        if count == 0 {
            // The server confirmed the end of the transfer: the session is free again.
            file.reachedEnd(at: stream.position)
        }
        return count
    }

    /// The open file's content version in the block cache: nil without a cache, for files
    /// being written, and for empty files.
    func cachedVersion(of file: OpenFile) -> (cache: BlockCache, version: ContentVersion)? {
        guard let cache = configuration.blockCache, cache.isEnabled, file.writer == nil, file.readSource == nil,
              file.linkedWriter == nil
        else { return nil }
        let attributes = file.currentAttributes()
        guard attributes.size > 0 else { return nil }
        let modified = Int64(attributes.modified.seconds) * 1_000_000_000 + Int64(attributes.modified.nanoseconds)
        return (cache, ContentVersion(path: configuration.blockCacheScope + file.serverPath, size: attributes.size,
                                      modified: modified))
    }

    /// Serves the start of a read from whole blocks: from the cache when it holds them, else —
    /// when the read is a seek rather than the stream's next bytes — by fetching each block it
    /// touches with REST at the block's start, keeping them for later reads nearby. Returns how
    /// many bytes it served (up to the size the file had at open); the stream serves the rest,
    /// and a sequential reader (whose pages the kernel caches) entirely. Call with the file locked.
    private func readBlocks(_ file: OpenFile, _ cache: BlockCache, _ version: ContentVersion,
                            into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64,
                            deadline: Double) throws(FTPError) -> Int
    {
        guard offset < version.size else { return 0 }
        let end = min(offset + UInt64(buffer.count), version.size)
        let blockSize = UInt64(cache.blockSize)

        // Everything cached: no round trip at all.
        var filled = 0
        while offset + UInt64(filled) < end {
            let position = offset + UInt64(filled)
            let destination = UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<Int(end - offset)])
            guard let count = cache.copy(version, block: position / blockSize, from: Int(position % blockSize),
                                         into: destination), count > 0 else { break }
            filled += count
        }
        if offset + UInt64(filled) == end { return filled }

        // A reader the stream serves well: the stream's next bytes, a little ahead of them, or
        // the start of the file.
        let position = offset + UInt64(filled)
        if let stream = file.stream, position >= stream.position,
           position - stream.position <= configuration.readThroughWindow
        {
            return filled
        }
        if file.stream == nil && position == 0 || file.reorderBuffer.holds(position) {
            return filled
        }

        // A seek: fetch whole blocks.
        while offset + UInt64(filled) < end {
            let position = offset + UInt64(filled)
            let index = position / blockSize
            let destination = UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<Int(end - offset)])
            if let count = cache.copy(version, block: index, from: Int(position % blockSize), into: destination),
               count > 0
            {
                filled += count
                continue
            }
            let start = index * blockSize
            if let stream = file.stream, stream.position != start { file.setStreamAside() }
            let stream = try existingOrNewStream(file, at: start, deadline: deadline)
            let block = UnsafeMutableRawBufferPointer.allocate(byteCount: cache.length(ofBlock: index, in: version),
                                                               alignment: 16)
            defer { block.deallocate() }
            var got = 0
            while got < block.count {
                let count = try stream.transfer.read(into: UnsafeMutableRawBufferPointer(rebasing: block[got...]))
                if count == 0 { break }
                got += count
                stream.position += UInt64(count)
            }
            let within = Int(position - start)
            let count = min(max(0, got - within), destination.count)
            if count > 0 {
                destination.baseAddress!.copyMemory(from: block.baseAddress! + within, byteCount: count)
            }
            if got < block.count {
                // The file is shorter than when it was opened: serve what there is, keep nothing.
                file.reachedEnd(at: stream.position)
                return filled + count
            }
            cache.store(version, block: index, bytes: Array(block))
            filled += count
        }
        return filled
    }

    /// Called by the pool when every connection is taken: stops parked streams first, else the
    /// least recently used read stream that is not serving a read right now. Returns whether
    /// one was stopped.
    func releaseIdleReadStream() -> Bool {
        let files = openFiles.filesWithStreams()
        for file in files where file.lock.tryLock() {
            defer { file.lock.unlock() }
            if file.stopParkedStreams() {
                logger.debug("reclaiming the parked read streams of \(file.path) for another operation")
                return true
            }
        }
        for file in files {
            guard file.lock.tryLock() else { continue }
            defer { file.lock.unlock() }
            if file.stream != nil {
                logger.debug("reclaiming the idle read stream of \(file.path) for another operation")
                file.closeStream()
                return true
            }
        }
        return false
    }
}
