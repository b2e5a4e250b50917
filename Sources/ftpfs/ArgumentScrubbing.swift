#if canImport(Glibc)
import Glibc
#endif

/// Hides a password given in the URL from `ps`, `top` and /proc/PID/cmdline.
///
/// The kernel shows a process's command line from the process's own argv strings, so ftpfs
/// overwrites the password in its copy once the arguments are parsed: `ftp://alice:secret@host/`
/// becomes `ftp://alice:***@host/`, the rest of the argument moved left and the freed bytes
/// zeroed (they show as spaces in `ps`). Other users could still have seen the password in the
/// moment before; ftpfs warns about that separately.
enum ArgumentScrubbing {
    /// Masks the password of every argument that is a URL with one. Returns whether any was.
    @discardableResult
    static func maskURLPasswords() -> Bool {
        var masked = false
        let argv = CommandLine.unsafeArgv
        for index in 1..<Int(CommandLine.argc) {
            guard let argument = argv[index] else { continue }
            let length = strlen(argument)
            let bytes = UnsafeMutableBufferPointer(start: UnsafeMutableRawPointer(argument)
                .assumingMemoryBound(to: UInt8.self), count: length)
            guard let range = passwordRange(in: Array(bytes)) else { continue }
            let replacement = [UInt8](repeating: UInt8(ascii: "*"), count: min(3, range.count))
            var result = Array(bytes[..<range.lowerBound]) + replacement + Array(bytes[range.upperBound...])
            result += [UInt8](repeating: 0, count: length - result.count)
            for (offset, byte) in result.enumerated() { bytes[offset] = byte }
            masked = true
        }
        return masked
    }

    /// Where the password is in `scheme://user:password@host…` (also after `ftpfs#`), or nil
    /// when the argument is no such URL or has no password.
    static func passwordRange(in argument: [UInt8]) -> Range<Int>? {
        let separator = Array("://".utf8)
        guard let schemeEnd = firstIndex(of: separator, in: argument) else { return nil }
        let authorityStart = schemeEnd + separator.count
        // The authority ends at the first "/" (or the end); its user info at the last "@".
        let authorityEnd = argument[authorityStart...].firstIndex(of: UInt8(ascii: "/")) ?? argument.count
        guard let at = argument[authorityStart..<authorityEnd].lastIndex(of: UInt8(ascii: "@")),
              let colon = argument[authorityStart..<at].firstIndex(of: UInt8(ascii: ":")),
              colon + 1 < at
        else { return nil }
        return (colon + 1)..<at
    }

    private static func firstIndex(of pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        for start in 0...(bytes.count - pattern.count) where Array(bytes[start..<(start + pattern.count)]) == pattern {
            return start
        }
        return nil
    }
}
