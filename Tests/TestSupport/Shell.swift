import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a command run by `Shell` did.
public struct ShellResult: Sendable, CustomStringConvertible {
    public let arguments: [String]
    /// Exit code, or 128 + signal number (137 after a timeout's SIGKILL).
    public let status: Int32
    public let exitStatus: ExitStatus
    public let stdoutData: Data
    public let stderrData: Data
    /// The command ran into its timeout and was killed.
    public let timedOut: Bool

    public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    public var stderr: String { String(decoding: stderrData, as: UTF8.self) }
    public var succeeded: Bool { status == 0 && !timedOut }

    /// Throws a readable error unless the command exited with status 0.
    @discardableResult
    public func check() throws -> ShellResult {
        guard succeeded else { throw TestSupportError(description) }
        return self
    }

    public var description: String {
        var text = "`\(arguments.map(Shell.quote).joined(separator: " "))` "
        text += timedOut ? "timed out and was killed" : "ended with \(exitStatus)"
        text += "\n--- stdout:\n\(tail(stdout, limit: 2000))\n--- stderr:\n\(tail(stderr, limit: 2000))"
        return text
    }
}

/// Runs commands with a hard timeout. Commands run in their own process group,
/// which is killed as a whole when the timeout expires, so a test never hangs
/// on a stuck command (or a stuck mount). Output goes to temporary files, so a
/// background grandchild holding stdout open cannot block the caller either.
public enum Shell {
    public static let defaultTimeout: Duration = .seconds(60)

    /// Runs `arguments[0]` (looked up in PATH) with the given arguments.
    /// - Parameters:
    ///   - environment: variables set on top of this process's environment.
    ///   - input: written to the command's stdin (stdin is /dev/null otherwise).
    /// - Throws: only when the command cannot be started; a non-zero exit is
    ///   reported in the result (use `.check()` to turn it into an error).
    @discardableResult
    public static func run(
        _ arguments: [String],
        timeout: Duration = defaultTimeout,
        environment: [String: String] = [:],
        input: String? = nil,
        workingDirectory: String? = nil
    ) throws -> ShellResult {
        let scratch = try TestDirectory.scratchFiles(count: 3)
        defer { scratch.forEach { unlink($0) } }
        let (inputPath, stdoutPath, stderrPath) = (scratch[0], scratch[1], scratch[2])
        try Data((input ?? "").utf8).write(to: URL(fileURLWithPath: inputPath))

        let process = try ChildProcess(
            arguments: arguments,
            environment: environment,
            workingDirectory: workingDirectory,
            stdinPath: inputPath,
            stdoutPath: stdoutPath,
            stderrPath: stderrPath
        )
        var timedOut = false
        var status = process.wait(timeout: timeout)
        if status == nil {
            timedOut = true
            process.send(SIGKILL)
            status = process.wait(timeout: .seconds(10)) ?? .signaled(SIGKILL)
        }
        return ShellResult(
            arguments: arguments,
            status: status!.code,
            exitStatus: status!,
            stdoutData: FileManager.default.contents(atPath: stdoutPath) ?? Data(),
            stderrData: FileManager.default.contents(atPath: stderrPath) ?? Data(),
            timedOut: timedOut
        )
    }

    /// Runs `script` with `/bin/sh -c`.
    @discardableResult
    public static func sh(
        _ script: String,
        timeout: Duration = defaultTimeout,
        environment: [String: String] = [:],
        input: String? = nil,
        workingDirectory: String? = nil
    ) throws -> ShellResult {
        try run(["/bin/sh", "-c", script], timeout: timeout, environment: environment,
                input: input, workingDirectory: workingDirectory)
    }

    /// Quotes `word` for /bin/sh (for building `Shell.sh` scripts from paths).
    public static func quote(_ word: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")
        if !word.isEmpty && word.allSatisfy({ safe.contains($0) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The full path of `program` in PATH, or nil.
    public static func which(_ program: String) -> String? {
        if program.contains("/") {
            return access(program, X_OK) == 0 ? program : nil
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }
}
