#if canImport(Glibc)
import Glibc
#endif

/// Takes a secret out of the process environment, including the copy /proc/PID/environ shows.
///
/// The kernel shows /proc/PID/environ from the strings exec placed on the stack, not from
/// `environ`: unsetenv only drops the pointer, and the bytes stay there for the life of the
/// process (readable by the user's other processes, root, and anything that may ptrace it). So
/// the variable's `NAME=value` string is overwritten with NULs where it lies, as
/// ArgumentScrubbing does for a password in argv; programs ftpfs starts (fusermount3) do not
/// inherit it either.
enum EnvironmentScrubbing {
    /// The value of `name`, after removing it from the environment; nil when it was not set.
    static func take(_ name: String) -> String? {
        guard let value = getenv(name).map({ String(cString: $0) }) else { return nil }
        let prefix = name + "="
        var entries: [UnsafeMutablePointer<CChar>] = []
        var index = 0
        while let entry = environ[index] {
            if strncmp(entry, prefix, prefix.utf8.count) == 0 { entries.append(entry) }
            index += 1
        }
        unsetenv(name)  // matches by name, so before the bytes are gone
        for entry in entries {
            memset(entry, 0, strlen(entry))
        }
        return value
    }
}
