import FuseBridge

#if canImport(Glibc)
import Glibc
#endif

/// Where files edited in place are copied while they are open: unnamed files in the cache
/// directory, so a crash leaves nothing behind and no other user can open them.
final class StagingArea: Sendable {
    let directory: String

    /// Uses `directory` (created with mode 0700 when missing), or the default: under
    /// `$XDG_CACHE_HOME/ftpfs` when set, else `/var/tmp/ftpfs-<uid>`.
    init(directory: String?) {
        if let directory {
            self.directory = directory
        } else if let cache = getenv("XDG_CACHE_HOME"), cache.pointee != 0 {
            self.directory = String(cString: cache) + "/ftpfs"
        } else {
            self.directory = "/var/tmp/ftpfs-\(getuid())"
        }
    }

    /// Creates the directory if needed; a failure is reported now rather than at the first edit.
    func prepare() throws(Errno) {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw Errno(errno)
        }
        var info = stat()
        guard stat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { throw .notDirectory }
        guard access(directory, W_OK | X_OK) == 0 else { throw .accessDenied }
    }

    /// A new, empty, unnamed file.
    func makeFile() throws(Errno) -> StagedFile {
        // O_TMPFILE (__O_TMPFILE | O_DIRECTORY): Glibc's module does not export the macro.
        let temporaryFileFlag: Int32 = 0o20_200_000
        var descriptor = open(directory, temporaryFileFlag | O_RDWR | O_CLOEXEC, 0o600)
        if descriptor < 0 {
            // File systems without O_TMPFILE: a named file, unlinked at once.
            var template = Array((directory + "/staging-XXXXXX").utf8CString)
            descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard descriptor >= 0 else { throw Errno(errno) }
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        }
        return StagedFile(descriptor: descriptor)
    }
}

/// The local copy of one file. Positional reads and writes; not thread-safe on its own (the
/// `FileWriter` that owns it serialises access).
final class StagedFile {
    let descriptor: Int32
    /// Changed since the last upload.
    var isDirty = false

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(Errno) {
        var done = 0
        while done < bytes.count {
            let count = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if count < 0 {
                if errno == EINTR { continue }
                throw Errno(errno)
            }
            done += count
        }
        isDirty = true
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(Errno) -> Int {
        var done = 0
        while done < buffer.count {
            let count = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if count < 0 {
                if errno == EINTR { continue }
                throw Errno(errno)
            }
            if count == 0 { break }
            done += count
        }
        return done
    }

    func truncate(to size: UInt64) throws(Errno) {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw Errno(errno) }
        isDirty = true
    }

    var size: UInt64 {
        var info = stat()
        fstat(descriptor, &info)
        return UInt64(info.st_size)
    }
}
