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

    /// The absolute, resolved mountpoint, or why it cannot be used.
    static func mountpoint(_ path: String, allowNonEmpty: Bool) throws(Failure) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            throw Failure(status: .badMountpoint,
                          message: "mountpoint \(path): \(reason) (create it with: mkdir -p '\(path)')")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw Failure(status: .badMountpoint, message: "mountpoint \(path) is not a directory")
        }
        guard let resolved = realpath(path, nil) else {
            throw Failure(status: .badMountpoint, message: "mountpoint \(path): \(String(cString: strerror(errno)))")
        }
        let absolute = String(cString: resolved)
        free(resolved)
        if isMounted(absolute) {
            throw Failure(status: .badMountpoint,
                          message: "\(absolute) is already a mountpoint (unmount it with: fusermount3 -u '\(absolute)')")
        }
        guard access(absolute, W_OK) == 0 || getuid() == 0 else {
            throw Failure(status: .badMountpoint, message: "mountpoint \(absolute) is not writable by you")
        }
        if !allowNonEmpty, !isEmptyDirectory(absolute) {
            throw Failure(status: .badMountpoint,
                          message: "mountpoint \(absolute) is not empty (use -o nonempty to mount over its contents)")
        }
        return absolute
    }

    /// Whether the kernel's FUSE device is there and usable by this user.
    static func fuseDevice() throws(Failure) {
        var info = stat()
        guard stat("/dev/fuse", &info) == 0, info.st_mode & S_IFMT == S_IFCHR else {
            throw Failure(status: .fuseUnavailable,
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
        throw Failure(status: .fuseUnavailable,
                      message: "cannot open /dev/fuse: \(reason)"
                          + (getuid() == 0 ? "" : " (and fusermount3 is missing: install the fuse3 package)"))
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
