import CFuse

#if canImport(Glibc)
import Glibc
#endif

/// One open directory (opendir to releasedir): the entries the file system gave at the first
/// readdir (or after a rewind), handed to the kernel over as many requests as it takes.
///
/// Entries carry offsets (1 for ".", 2 for "..", n + 3 for the n-th entry), so libfuse's
/// high-level API passes each entry's attributes on to the kernel in a READDIRPLUS reply and
/// the kernel keeps them: `ls -l` or `find -size` then needs no LOOKUP per file. (Filled without
/// offsets, libfuse buffers the entries itself and sends them with node id 0, which tells the
/// kernel to ignore their attributes; every file then cost a LOOKUP round trip of its own.)
/// The snapshot also keeps a directory read in several requests consistent, and costs the file
/// system one readdir per pass instead of one per request.
///
/// libfuse serializes the requests of one directory handle, so no lock is needed.
final class DirectoryStream {
    var entries: (any DirectoryContents)?

    /// The stream stored in a directory handle's `fh` at opendir.
    static func from(_ info: UnsafeMutablePointer<fuse_file_info>?) -> DirectoryStream? {
        guard let info, let pointer = UnsafeRawPointer(bitPattern: UInt(info.pointee.fh)) else { return nil }
        return Unmanaged<DirectoryStream>.fromOpaque(pointer).takeUnretainedValue()
    }
}

extension FuseOperationTable {
    static func opendir(_ info: UnsafeMutablePointer<fuse_file_info>?) -> Int32 {
        guard let info else { return -EINVAL }
        info.pointee.fh = UInt64(UInt(bitPattern: Unmanaged.passRetained(DirectoryStream()).toOpaque()))
        return 0
    }

    static func releasedir(_ info: UnsafeMutablePointer<fuse_file_info>?) -> Int32 {
        guard let info, let pointer = UnsafeRawPointer(bitPattern: UInt(info.pointee.fh)) else { return 0 }
        Unmanaged<DirectoryStream>.fromOpaque(pointer).release()
        info.pointee.fh = 0
        return 0
    }

    /// Fills the reply from `offset` on (0: a new pass, which asks the file system again).
    static func readdir(_ fileSystem: any FileSystemOperations, path: String, buffer: UnsafeMutableRawPointer?,
                        filler: fuse_fill_dir_t, offset: off_t, info: UnsafeMutablePointer<fuse_file_info>?,
                        flags: fuse_readdir_flags) throws(Errno) -> Int32
    {
        let stream = DirectoryStream.from(info)
        let entries: any DirectoryContents
        if offset == 0 || stream?.entries == nil {
            entries = try fileSystem.readdir(path)
            stream?.entries = entries
        } else {
            entries = stream!.entries!
        }
        let plus = (flags.rawValue & FUSE_READDIR_PLUS.rawValue) != 0
        var position = max(Int(offset), 0)
        // The offset given with an entry is where the next request resumes: the one after it.
        if position == 0 {
            if filler(buffer, ".", nil, 1, fuse_fill_dir_flags(0)) != 0 { return 0 }
            position = 1
        }
        if position == 1 {
            if filler(buffer, "..", nil, 2, fuse_fill_dir_flags(0)) != 0 { return 0 }
            position = 2
        }
        var status = stat()
        var index = position - 2
        while index < entries.count {
            guard let entry = entries.entry(at: index) else {
                index += 1
                continue
            }
            let next = off_t(index + 3)
            if let attributes = entry.attributes {
                attributes.fill(&status)
                if filler(buffer, entry.name, &status, next, plus ? FUSE_FILL_DIR_PLUS : fuse_fill_dir_flags(0)) != 0 {
                    break
                }
            } else if filler(buffer, entry.name, nil, next, fuse_fill_dir_flags(0)) != 0 {
                break
            }
            index += 1
        }
        return 0
    }
}
