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
        operations.readdir = { path, buffer, filler, _, _, flags in
            FuseOperationTable.run { fileSystem throws(Errno) in
                let entries = try fileSystem.readdir(FuseOperationTable.path(path))
                guard let filler else { return -EIO }
                let plus = (flags.rawValue & FUSE_READDIR_PLUS.rawValue) != 0
                _ = filler(buffer, ".", nil, 0, fuse_fill_dir_flags(0))
                _ = filler(buffer, "..", nil, 0, fuse_fill_dir_flags(0))
                var status = stat()
                for entry in entries {
                    if let attributes = entry.attributes {
                        attributes.fill(&status)
                        let fillFlags = plus ? FUSE_FILL_DIR_PLUS : fuse_fill_dir_flags(0)
                        if filler(buffer, entry.name, &status, 0, fillFlags) != 0 { break }
                    } else if filler(buffer, entry.name, nil, 0, fuse_fill_dir_flags(0)) != 0 {
                        break
                    }
                }
                return 0
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
