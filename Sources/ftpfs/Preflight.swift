#if canImport(Glibc)
import Glibc
#endif

/// Checks made before connecting anywhere, so a mistake costs no network round trip and the
/// message names the real problem rather than libfuse's guess.
enum Preflight {
    struct Failure: Error {
        var status: ExitStatus
        var message: String
    }

    /// The absolute, resolved mountpoint, or why it cannot be used. Each way of being wrong has
    /// its own exit status (see ``ExitStatus``).
    static func mountpoint(_ path: String, allowNonEmpty: Bool) throws(Failure) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            let reason = String(cString: strerror(code))
            if code == EACCES || code == EPERM {
                throw Failure(status: .mountpointNotPermitted,
                              message: "mountpoint \(path): \(reason) (you need search permission on every directory above it)")
            }
            throw Failure(status: .mountpointMissing,
                          message: "mountpoint \(path): \(reason) (create it with: mkdir -p '\(path)')")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw Failure(status: .mountpointNotDirectory,
                          message: "mountpoint \(path) is not a directory (mount on an empty directory instead)")
        }
        guard let resolved = realpath(path, nil) else {
            throw Failure(status: .mountpointMissing, message: "mountpoint \(path): \(String(cString: strerror(errno)))")
        }
        let absolute = String(cString: resolved)
        free(resolved)
        if isMounted(absolute) {
            throw Failure(status: .mountpointInUse,
                          message: "\(absolute) is already a mountpoint (unmount it with: fusermount3 -u '\(absolute)')")
        }
        guard access(absolute, W_OK) == 0 || getuid() == 0 else {
            throw Failure(status: .mountpointNotPermitted,
                          message: "mountpoint \(absolute) is not writable by you (mount on a directory you own)")
        }
        if !allowNonEmpty, !isEmptyDirectory(absolute) {
            throw Failure(status: .mountpointNotEmpty,
                          message: "mountpoint \(absolute) is not empty (use -o nonempty to mount over its contents)")
        }
        return absolute
    }

    /// Whether `path` is `/dev/fd/N` for an open descriptor: mount.fuse3's `drop_privileges`
    /// opens /dev/fuse and mounts itself, then hands ftpfs the descriptor in this form, which
    /// libfuse's fuse_mount understands. There is no directory to check then.
    static func isPassedFuseDescriptor(_ path: String) -> Bool {
        guard path.hasPrefix("/dev/fd/"), let descriptor = Int32(path.dropFirst("/dev/fd/".count)),
              descriptor >= 0 else { return false }
        return fcntl(descriptor, F_GETFD) != -1
    }

    /// Whether the kernel's FUSE device is there and usable by this user.
    static func fuseDevice() throws(Failure) {
        var info = stat()
        guard stat("/dev/fuse", &info) == 0, info.st_mode & S_IFMT == S_IFCHR else {
            throw Failure(status: .fuseMissing,
                          message: "/dev/fuse does not exist: load the module (modprobe fuse) or, in a container, "
                              + "pass the device in (docker run --device /dev/fuse --cap-add SYS_ADMIN)")
        }
        let descriptor = open("/dev/fuse", O_RDWR | O_CLOEXEC)
        if descriptor >= 0 {
            close(descriptor)
            return
        }
        let reason = String(cString: strerror(errno))
        // Without access to the device, libfuse can still mount through the setuid fusermount3.
        let helpers: [String] = ["/bin/fusermount3", "/usr/bin/fusermount3"]
        if getuid() != 0, helpers.contains(where: { access($0, X_OK) == 0 }) {
            return
        }
        throw Failure(status: .fuseNotPermitted,
                      message: "cannot open /dev/fuse: \(reason)"
                          + (getuid() == 0
                              ? " (in a container, allow the device: docker run --device /dev/fuse --cap-add SYS_ADMIN)"
                              : " (and fusermount3 is missing: install the fuse3 package, or ask for access to /dev/fuse)"))
    }

    static func isMounted(_ absolutePath: String) -> Bool {
        guard let file = fopen("/proc/self/mountinfo", "r") else { return false }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            guard let line else { continue }
            // Field 5 is the mount point, with spaces and other specials escaped as \040 etc.
            let fields = String(cString: line).split(separator: " ", omittingEmptySubsequences: false)
            if fields.count > 4, unescapeMountinfo(String(fields[4])) == absolutePath { return true }
        }
        return false
    }

    static func unescapeMountinfo(_ field: String) -> String {
        var bytes: [UInt8] = []
        let source = Array(field.utf8)
        var index = 0
        while index < source.count {
            if source[index] == 0x5C, index + 3 < source.count,
               let value = UInt8(String(decoding: source[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func isEmptyDirectory(_ path: String) -> Bool {
        guard let directory = opendir(path) else { return true }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { return false }
        }
        return true
    }
}
