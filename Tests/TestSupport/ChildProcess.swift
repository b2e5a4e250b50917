import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How a child process ended.
public enum ExitStatus: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// The shell's convention: the exit code, or 128 + signal number.
    public var code: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }

    init(waitStatus status: Int32) {
        if status & 0x7f == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signaled(status & 0x7f)
        }
    }
}

/// A child process started with posix_spawn, in its own process group, with
/// stdin/stdout/stderr connected to files. Waits are always bounded.
///
/// With `killWithTestProcess`, the child is started through a tiny `/bin/sh`
/// guard that `exec`s it (so `pid` is the real program's) and leaves behind, in
/// the same process group, a watcher blocked on a pipe whose only writer is
/// this test process. When the test process ends in any way (even a crash or
/// SIGKILL) the pipe reaches EOF and the watcher sends SIGTERM, then SIGKILL, to
/// the whole group, so no server or mount outlives the tests.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    public let arguments: [String]
    private let ownsProcessGroup: Bool
    private let guarded: Bool
    private let reaped = Mutex<ExitStatus?>(nil)

    /// - Parameters:
    ///   - arguments: program (looked up in PATH) and its arguments.
    ///   - environment: variables set on top of this process's environment.
    ///   - stdinPath/stdoutPath/stderrPath: files for the standard streams
    ///     (stdout/stderr are created or truncated).
    public init(
        arguments: [String],
        environment: [String: String] = [:],
        workingDirectory: String? = nil,
        stdinPath: String = "/dev/null",
        stdoutPath: String = "/dev/null",
        stderrPath: String = "/dev/null",
        newProcessGroup: Bool = true,
        killWithTestProcess: Bool = false
    ) throws {
        precondition(!arguments.isEmpty, "ChildProcess needs a program")
        self.arguments = arguments
        self.ownsProcessGroup = newProcessGroup
        self.guarded = killWithTestProcess

        var argv = arguments
        if let workingDirectory {
            // (posix_spawn_file_actions_addchdir_np is not visible from Swift.)
            argv = ["/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "ftpfs-test-chdir", workingDirectory]
                + argv
        }
        if killWithTestProcess {
            precondition(newProcessGroup, "the watcher kills the child's own process group")
            argv = ["/bin/sh", "-c", Self.guardScript, "ftpfs-test-guard"] + argv
        }

        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        let outFlags = O_WRONLY | O_CREAT | O_TRUNC  // no O_CLOEXEC: these are the child's streams
        posix_spawn_file_actions_addopen(&fileActions, 0, stdinPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, stdoutPath, outFlags, 0o644)
        posix_spawn_file_actions_addopen(&fileActions, 2, stderrPath, outFlags, 0o644)
        if killWithTestProcess {
            // dup2 clears FD_CLOEXEC on the copy: the guard sees the pipe as fd 3.
            posix_spawn_file_actions_adddup2(&fileActions, ParentDeathPipe.readEnd, 3)
        }
        // Foundation opens files without O_CLOEXEC, so a test reading a file in
        // one mount while another test starts a child would hand that child the
        // descriptor, and the first mount would stay busy (fusermount3 -u fails
        // with EBUSY) for as long as the child lives.
        try closeInheritedDescriptors(&fileActions, from: killWithTestProcess ? 4 : 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        // Signals this process ignores (SIGPIPE, typically) would stay ignored
        // in the child: reset them to their defaults.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        var mergedEnvironment = ProcessInfo.processInfo.environment
        for (key, value) in environment { mergedEnvironment[key] = value }
        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = mergedEnvironment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArguments.forEach { free($0) }
            cEnvironment.forEach { free($0) }
        }

        var childPID: pid_t = 0
        let result = posix_spawnp(&childPID, argv[0], &fileActions, &attributes, cArguments, cEnvironment)
        guard result == 0 else {
            throw TestSupportError("cannot start \(arguments[0]): \(String(cString: strerror(result)))")
        }
        self.pid = childPID
    }

    deinit {
        // Never leave a zombie or a stray process behind.
        if status == nil {
            _ = terminate(grace: .seconds(2))
        } else if guarded {
            killProcessGroup()
        }
    }

    /// The exit status if the process has ended (reaps it), nil while it runs.
    public var status: ExitStatus? {
        reaped.withLock { reaped in
            if let reaped { return reaped }
            var waitStatus: Int32 = 0
            let result = waitpid(pid, &waitStatus, WNOHANG)
            if result == pid {
                reaped = ExitStatus(waitStatus: waitStatus)
            } else if result == -1 && errno == ECHILD {
                // Reaped elsewhere: we cannot know how it ended.
                reaped = .exited(-1)
            }
            return reaped
        }
    }

    public var isRunning: Bool { status == nil }

    /// Waits up to `timeout` for the process to end; nil if it is still running.
    @discardableResult
    public func wait(timeout: Duration) -> ExitStatus? {
        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(1)
        while true {
            if let status { return status }
            if ContinuousClock.now >= deadline { return nil }
            sleep(for: pause)
            pause = min(pause * 2, .milliseconds(25))
        }
    }

    /// Sends `signal` to the child's process group (or only to the child when
    /// it shares ours). Does nothing once the child has been reaped.
    public func send(_ signal: Int32) {
        guard status == nil else { return }
        kill(ownsProcessGroup ? -pid : pid, signal)
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL. Afterwards sweeps the
    /// process group with SIGKILL (helpers such as the guard's watcher or a
    /// server's session processes). Returns how the child ended.
    @discardableResult
    public func terminate(grace: Duration = .seconds(5)) -> ExitStatus {
        send(SIGTERM)
        var ended = wait(timeout: grace)
        if ended == nil {
            send(SIGKILL)
            ended = wait(timeout: .seconds(10))
        }
        killProcessGroup()
        return ended ?? .signaled(SIGKILL)
    }

    /// SIGKILL to whatever is left in the child's process group (the guard's
    /// watcher, helpers), typically once the child itself has exited.
    public func killProcessGroup() {
        if ownsProcessGroup { kill(-pid, SIGKILL) }
    }

    // The guard: a watcher blocked reading fd 3 (the parent-death pipe) runs in
    // the background, then the shell execs the real program with fd 3 closed.
    // The watcher ignores SIGTERM so that after sending it to the group it can
    // follow up with SIGKILL; ChildProcess.terminate sweeps it with SIGKILL.
    private static let guardScript = """
        ( trap '' TERM INT HUP; read -r _ <&3; kill -TERM 0 2>/dev/null; sleep 3; kill -KILL 0 2>/dev/null ) &
        exec 3<&-
        exec "$@"
        """
}

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34) is not visible from
/// Swift, so it is looked up at run time.
private func closeInheritedDescriptors(_ fileActions: inout posix_spawn_file_actions_t, from lowest: Int32) throws {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
        throw TestSupportError("the tests need glibc 2.34 or later (posix_spawn_file_actions_addclosefrom_np)")
    }
    let result = unsafeBitCast(symbol, to: AddCloseFrom.self)(&fileActions, lowest)
    guard result == 0 else {
        throw TestSupportError("posix_spawn_file_actions_addclosefrom_np: \(String(cString: strerror(result)))")
    }
}

/// A connected socket pair, both ends close-on-exec from the start: children
/// get `readEnd` as fd 3; only this process holds the other end, so reads on
/// `readEnd` reach EOF exactly when this process is gone.
enum ParentDeathPipe {
    static let readEnd: Int32 = {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            fatalError("socketpair failed: \(String(cString: strerror(errno)))")
        }
        // The other end (fds[1]) is deliberately never closed.
        return fds[0]
    }()
}

func sleep(for duration: Duration) {
    let (seconds, attoseconds) = duration.components
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR {
        request = remaining
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
