import CFuse

#if canImport(Glibc)
import Glibc
#endif

/// Builds the `fuse_operations` table: each C callback converts its arguments, calls the file
/// system, and turns an `Errno` into libfuse's negative return. Nothing else can escape: the
/// protocol's methods throw only `Errno`.
enum FuseOperationTable {
    /// Runs `body` against the mounted file system; a thrown `Errno` becomes `-errno`.
    @inline(__always)
    static func run(_ body: (any FileSystemOperations) throws(Errno) -> Int32) -> Int32 {
        do {
            return try body(FuseMount.current.fileSystem)
        } catch {
            return -error.rawValue
        }
    }

    @inline(__always)
    static func path(_ pointer: UnsafePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }

    /// Reads smaller than this are copied: splicing them saves less than it costs (libfuse
    /// itself copies replies under two pages).
    static let smallestSplicedRead = 32 * 1024

    /// A read reply: as much as the file system splices into this thread's reply pipe, then
    /// the rest read into memory. libfuse frees the reply after sending it.
    static func readReply(_ fileSystem: any FileSystemOperations, path: String, handle: UInt64, size: Int,
                          offset: Int64) throws(Errno) -> UnsafeMutablePointer<fuse_bufvec>
    {
        var readEnd: Int32 = -1
        var writeEnd: Int32 = -1
        var piped = 0
        if size >= smallestSplicedRead, cfuse_thread_reply_pipe(size, &readEnd, &writeEnd) == 0 {
            cfuse_thread_reply_pipe_discard()  // what a reply libfuse could not send left behind
            do {
                piped = try fileSystem.spliceRead(path, handle: handle, size: size, offset: offset, into: writeEnd) ?? 0
            } catch {
                cfuse_thread_reply_pipe_discard()
                throw error
            }
        }
        var memory: UnsafeMutableRawPointer?
        var copied = 0
        if piped < size {
            memory = malloc(size - piped)
            guard let memory else {
                cfuse_thread_reply_pipe_discard()
                throw .outOfMemory
            }
            do {
                copied = try fileSystem.read(path, handle: handle,
                                             into: UnsafeMutableRawBufferPointer(start: memory, count: size - piped),
                                             offset: offset + Int64(piped))
            } catch {
                free(memory)
                cfuse_thread_reply_pipe_discard()
                throw error
            }
        }
        guard let reply = cfuse_read_reply(readEnd, piped, memory, copied) else {
            free(memory)
            cfuse_thread_reply_pipe_discard()
            throw .outOfMemory
        }
        return reply
    }

    static func make() -> fuse_operations {
        var operations = fuse_operations()

        operations.`init` = { connection, config in
            let mount = FuseMount.current
            if let connection, let config { mount.configure(connection: connection, config: config) }
            mount.fileSystem.mounted()
            return cfuse_private_data()
        }
        operations.destroy = { privateData in
            guard let privateData else { return }
            Unmanaged<FuseMount>.fromOpaque(privateData).takeUnretainedValue().fileSystem.destroy()
        }

        operations.getattr = { path, stat, info in
            FuseOperationTable.run { fileSystem throws(Errno) in
                let attributes = try fileSystem.getattr(FuseOperationTable.path(path), handle: info?.pointee.fh)
                attributes.fill(stat!)
                return 0
            }
        }
        operations.readlink = { path, buffer, size in
            FuseOperationTable.run { fileSystem throws(Errno) in
                let target = try fileSystem.readlink(FuseOperationTable.path(path))
                guard let buffer, size > 0 else { return -EINVAL }
                let bytes = Array(target.utf8.prefix(size - 1))
                bytes.withUnsafeBufferPointer { source in
                    buffer.withMemoryRebound(to: UInt8.self, capacity: size) { destination in
                        destination.update(from: source.baseAddress!, count: bytes.count)
                        destination[bytes.count] = 0
                    }
                }
                return 0
            }
        }
        // Directories: DirectoryStream.swift.
        operations.opendir = { _, info in FuseOperationTable.opendir(info) }
        operations.releasedir = { _, info in FuseOperationTable.releasedir(info) }
        operations.readdir = { path, buffer, filler, offset, info, flags in
            FuseOperationTable.run { fileSystem throws(Errno) in
                guard let filler else { return -EIO }
                return try FuseOperationTable.readdir(fileSystem, path: FuseOperationTable.path(path), buffer: buffer,
                                                      filler: filler, offset: offset, info: info, flags: flags)
            }
        }
        operations.open = { path, info in
            FuseOperationTable.run { fileSystem throws(Errno) in
                guard let info else { return -EINVAL }
                let opened = try fileSystem.open(FuseOperationTable.path(path), flags: info.pointee.flags)
                FuseOperationTable.apply(opened, to: info)
                return 0
            }
        }
        operations.create = { path, mode, info in
            FuseOperationTable.run { fileSystem throws(Errno) in
                guard let info else { return -EINVAL }
                let opened = try fileSystem.create(FuseOperationTable.path(path), mode: UInt32(mode), flags: info.pointee.flags)
                FuseOperationTable.apply(opened, to: info)
                return 0
            }
        }
        operations.read = { path, buffer, size, offset, info in
            FuseOperationTable.run { fileSystem throws(Errno) in
                guard let info else { return -EBADF }
                let count = try fileSystem.read(FuseOperationTable.path(path), handle: info.pointee.fh,
                                                into: UnsafeMutableRawBufferPointer(start: buffer, count: size),
                                                offset: Int64(offset))
                return Int32(count)
            }
        }
        operations.read_buf = { path, reply, size, offset, info in
            FuseOperationTable.run { fileSystem throws(Errno) in
                guard let info, let reply else { return -EBADF }
                reply.pointee = try FuseOperationTable.readReply(
                    fileSystem, path: FuseOperationTable.path(path), handle: info.pointee.fh, size: size,
                    offset: Int64(offset))
                return 0
            }
        }
        operations.write = { path, buffer, size, offset, info in
            FuseOperationTable.run { fileSystem throws(Errno) in
                guard let info else { return -EBADF }
                let count = try fileSystem.write(FuseOperationTable.path(path), handle: info.pointee.fh,
                                                 bytes: UnsafeRawBufferPointer(start: buffer, count: size),
                                                 offset: Int64(offset))
                return Int32(count)
            }
        }
        operations.flush = { path, info in
            FuseOperationTable.run { fileSystem throws(Errno) in
                guard let info else { return -EBADF }
                try fileSystem.flush(FuseOperationTable.path(path), handle: info.pointee.fh)
                return 0
            }
        }
        operations.fsync = { path, dataOnly, info in
            FuseOperationTable.run { fileSystem throws(Errno) in
                guard let info else { return -EBADF }
                try fileSystem.fsync(FuseOperationTable.path(path), handle: info.pointee.fh, dataOnly: dataOnly != 0)
                return 0
            }
        }
        operations.release = { path, info in
            FuseOperationTable.run { fileSystem throws(Errno) in
                guard let info else { return -EBADF }
                fileSystem.release(FuseOperationTable.path(path), handle: info.pointee.fh)
                return 0
            }
        }
        operations.statfs = { path, result in
            FuseOperationTable.run { fileSystem throws(Errno) in
                let statistics = try fileSystem.statfs(FuseOperationTable.path(path))
                guard let result else { return -EINVAL }
                result.pointee = statvfs()
                result.pointee.f_bsize = statistics.blockSize
                result.pointee.f_frsize = statistics.blockSize
                result.pointee.f_blocks = fsblkcnt_t(statistics.totalBlocks)
                result.pointee.f_bfree = fsblkcnt_t(statistics.freeBlocks)
                result.pointee.f_bavail = fsblkcnt_t(statistics.availableBlocks)
                result.pointee.f_files = fsfilcnt_t(statistics.totalFiles)
                result.pointee.f_ffree = fsfilcnt_t(statistics.freeFiles)
                result.pointee.f_favail = fsfilcnt_t(statistics.freeFiles)
                result.pointee.f_namemax = statistics.maximumNameLength
                return 0
            }
        }
        operations.truncate = { path, size, info in
            FuseOperationTable.run { fileSystem throws(Errno) in
                try fileSystem.truncate(FuseOperationTable.path(path), size: Int64(size), handle: info?.pointee.fh)
                return 0
            }
        }
        operations.unlink = { path in
            FuseOperationTable.run { fileSystem throws(Errno) in
                try fileSystem.unlink(FuseOperationTable.path(path))
                return 0
            }
        }
        operations.mkdir = { path, mode in
            FuseOperationTable.run { fileSystem throws(Errno) in
                try fileSystem.mkdir(FuseOperationTable.path(path), mode: UInt32(mode))
                return 0
            }
        }
        operations.rmdir = { path in
            FuseOperationTable.run { fileSystem throws(Errno) in
                try fileSystem.rmdir(FuseOperationTable.path(path))
                return 0
            }
        }
        operations.rename = { source, destination, flags in
            FuseOperationTable.run { fileSystem throws(Errno) in
                try fileSystem.rename(FuseOperationTable.path(source), to: FuseOperationTable.path(destination), flags: UInt32(flags))
                return 0
            }
        }
        operations.utimens = { path, times, info in
            FuseOperationTable.run { fileSystem throws(Errno) in
                let now = Timestamp.now()
                func convert(_ time: timespec?) -> Timestamp? {
                    guard let time else { return now }
                    if time.tv_nsec == cfuse_utime_omit { return nil }
                    if time.tv_nsec == cfuse_utime_now { return now }
                    return Timestamp(seconds: Int64(time.tv_sec), nanoseconds: Int32(time.tv_nsec))
                }
                try fileSystem.utimens(FuseOperationTable.path(path), accessed: convert(times?[0]), modified: convert(times?[1]),
                                       handle: info?.pointee.fh)
                return 0
            }
        }
        operations.chmod = { path, mode, info in
            FuseOperationTable.run { fileSystem throws(Errno) in
                try fileSystem.chmod(FuseOperationTable.path(path), mode: UInt32(mode) & 0o7777, handle: info?.pointee.fh)
                return 0
            }
        }
        operations.chown = { path, uid, gid, info in
            FuseOperationTable.run { fileSystem throws(Errno) in
                try fileSystem.chown(FuseOperationTable.path(path), uid: uid == uid_t.max ? nil : uid,
                                     gid: gid == gid_t.max ? nil : gid, handle: info?.pointee.fh)
                return 0
            }
        }
        operations.symlink = { target, path in
            FuseOperationTable.run { fileSystem throws(Errno) in
                try fileSystem.symlink(target: FuseOperationTable.path(target), at: FuseOperationTable.path(path))
                return 0
            }
        }
        operations.copy_file_range = { sourcePath, sourceInfo, sourceOffset, destinationPath, destinationInfo, destinationOffset, size, _ in
            do throws(Errno) {
                guard let sourceInfo, let destinationInfo else { return -Int(EBADF) }
                let count = try FuseMount.current.fileSystem.copyFileRange(
                    from: FuseOperationTable.path(sourcePath), handle: sourceInfo.pointee.fh, offset: Int64(sourceOffset),
                    to: FuseOperationTable.path(destinationPath), handle: destinationInfo.pointee.fh,
                    offset: Int64(destinationOffset), length: size)
                return count
            } catch {
                return -Int(error.rawValue)
            }
        }
        return operations
    }

    static func apply(_ opened: OpenedFile, to info: UnsafeMutablePointer<fuse_file_info>) {
        info.pointee.fh = opened.handle
        cfuse_file_info_set_keep_cache(info, opened.keepCache ? 1 : 0)
        cfuse_file_info_set_direct_io(info, opened.directIO ? 1 : 0)
    }
}
