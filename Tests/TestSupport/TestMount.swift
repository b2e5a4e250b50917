import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What an ftpfs run that was expected to fail did.
public struct FTPFSRunResult: Sendable, CustomStringConvertible {
    public let arguments: [String]
    /// nil when ftpfs had to be killed (it neither failed nor mounted in time).
    public let exitStatus: ExitStatus?
    public let stdout: String
    public let stderr: String
    /// ftpfs mounted after all (it was unmounted again).
    public let mounted: Bool
    public let timedOut: Bool

    public var failed: Bool { !mounted && !timedOut && exitStatus != .exited(0) && exitStatus != nil }

    public var description: String {
        var text = "ftpfs " + TestMount.displayArguments(arguments).joined(separator: " ") + ": "
        if mounted {
            text += "mounted"
        } else if timedOut {
            text += "neither failed nor mounted in time"
        } else {
            text += exitStatus.map { "\($0)" } ?? "?"
        }
        return text + "\n--- stderr:\n\(tail(stderr))"
    }
}

/// An ftpfs mount run as a subprocess: `ftpfs -f -o auto_unmount[,options]
/// [extraArgs] URL MOUNTPOINT` on a fresh mountpoint under /tmp/ftpfs-tests.
/// Never mounts inside the test process.
///
///     try TestMount.withMount(url: server.url()) { mount in
///         let listing = try Shell.run(["ls", mount.mountpoint]).check()
///         …
///     }   // always unmounted here
///
/// Prefer `withMount`; when holding a TestMount yourself, `defer { try?
/// mount.unmount() }` right after creating it. `deinit` unmounts as a last
/// resort, and `-o auto_unmount` plus a watcher that kills ftpfs when the test
/// process dies make sure no mount outlives the tests.
public final class TestMount: @unchecked Sendable {
    public let url: String
    public let mountpoint: String
    /// Holds the mountpoint and ftpfs's stdout/stderr files.
    public let workDirectory: String
    /// ftpfs's arguments (after the program name).
    public let arguments: [String]
    private let process: ChildProcess
    private let stdoutPath: String
    private let stderrPath: String
    private let state = Mutex(State())

    private struct State {
        var unmounted = false
        var stdout: String?
        var stderr: String?
    }

    public var pid: pid_t { process.pid }
    /// How ftpfs exited; nil while it runs.
    public var exitStatus: ExitStatus? { process.status }
    public var isMounted: Bool { MountTable.isMounted(mountpoint) }
    /// The mount's entry in /proc/self/mountinfo.
    public var mountEntry: MountTable.Entry? { MountTable.entry(at: mountpoint) }

    /// ftpfs's stderr so far (kept after `unmount()` removed the files).
    public var stderr: String {
        state.withLock { $0.stderr } ?? FTPTestServer.read(stderrPath)
    }

    public var stdout: String {
        state.withLock { $0.stdout } ?? FTPTestServer.read(stdoutPath)
    }

    /// Sends `signal` to ftpfs alone (not its process group, where the auto_unmount helper and
    /// the test guard live).
    public func signal(_ signal: Int32) {
        if process.isRunning { kill(process.pid, signal) }
    }

    /// Waits up to `timeout` for ftpfs to exit (after a signal, say); nil while it still runs.
    @discardableResult
    public func waitForExit(timeout: Duration) -> ExitStatus? {
        process.wait(timeout: timeout)
    }

    /// The path of `relativePath` inside the mount.
    public func path(_ relativePath: String) -> String {
        relativePath.hasPrefix("/") ? mountpoint + relativePath : mountpoint + "/" + relativePath
    }

    private init(url: String, mountpoint: String, workDirectory: String, arguments: [String],
                 process: ChildProcess, stdoutPath: String, stderrPath: String) {
        self.url = url
        self.mountpoint = mountpoint
        self.workDirectory = workDirectory
        self.arguments = arguments
        self.process = process
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
    }

    deinit {
        try? unmount()
    }

    // MARK: - Mounting

    /// Starts ftpfs and waits until the mountpoint appears in
    /// /proc/self/mountinfo. Throws with ftpfs's exit status and stderr when
    /// it exits first or does not mount within `timeout`.
    /// - Parameters:
    ///   - options: `-o` options, joined after `auto_unmount`.
    ///   - extraArgs: more arguments before the URL (e.g. ["-d"]).
    ///   - environment: variables set on top of this process's environment.
    public static func mount(
        url: String,
        options: [String] = [],
        extraArgs: [String] = [],
        timeout: Duration = .seconds(30),
        environment: [String: String] = [:]
    ) throws -> TestMount {
        let started = try start(url: url, options: options, extraArgs: extraArgs, environment: environment)
        let mount = TestMount(url: url, mountpoint: started.mountpoint, workDirectory: started.workDirectory,
                              arguments: started.arguments, process: started.process,
                              stdoutPath: started.stdoutPath, stderrPath: started.stderrPath)
        let deadline = ContinuousClock.now + timeout
        while !mount.isMounted {
            if let status = started.process.status {
                let stderr = mount.stderr
                try? mount.unmount()
                throw TestSupportError(
                    "ftpfs \(displayArguments(started.arguments).joined(separator: " ")) exited (\(status)) "
                        + "without mounting.\n--- its stderr:\n\(tail(stderr))")
            }
            if ContinuousClock.now >= deadline {
                let stderr = mount.stderr
                try? mount.unmount()
                throw TestSupportError(
                    "ftpfs \(displayArguments(started.arguments).joined(separator: " ")) did not mount within "
                        + "\(timeout).\n--- its stderr:\n\(tail(stderr))")
            }
            sleep(for: .milliseconds(20))
        }
        return mount
    }

    /// Mounts, runs `body`, and unmounts whatever happens.
    /// A failed unmount is reported (thrown) only when `body` succeeded.
    public static func withMount<T>(
        url: String,
        options: [String] = [],
        extraArgs: [String] = [],
        timeout: Duration = .seconds(30),
        environment: [String: String] = [:],
        _ body: (TestMount) throws -> T
    ) throws -> T {
        let mount = try mount(url: url, options: options, extraArgs: extraArgs, timeout: timeout,
                              environment: environment)
        let result: T
        do {
            result = try body(mount)
        } catch {
            try? mount.unmount()
            throw mount.failure(error)
        }
        try mount.unmount()
        return result
    }

    /// `error` from a test body, with the end of ftpfs's stderr: why a command on the mount
    /// failed is usually there.
    private func failure(_ error: any Error) -> TestSupportError {
        TestSupportError("\(error)\n--- ftpfs's stderr:\n\(tail(stderr))")
    }

    /// `withMount` for async test bodies.
    public static func withMount<T>(
        url: String,
        options: [String] = [],
        extraArgs: [String] = [],
        timeout: Duration = .seconds(30),
        environment: [String: String] = [:],
        _ body: (TestMount) async throws -> T
    ) async throws -> T {
        let mount = try mount(url: url, options: options, extraArgs: extraArgs, timeout: timeout,
                              environment: environment)
        let result: T
        do {
            result = try await body(mount)
        } catch {
            try? mount.unmount()
            throw mount.failure(error)
        }
        try mount.unmount()
        return result
    }

    /// Runs ftpfs when it is expected NOT to mount (wrong password, bad URL,
    /// unreachable server…) and reports its exit status and output. Never
    /// throws for ftpfs's behaviour: if it mounts after all, it is unmounted
    /// and `mounted` is true; if it hangs, it is killed and `timedOut` is true.
    public static func run(
        expectingFailure url: String,
        options: [String] = [],
        extraArgs: [String] = [],
        timeout: Duration = .seconds(30),
        environment: [String: String] = [:]
    ) throws -> FTPFSRunResult {
        let started = try start(url: url, options: options, extraArgs: extraArgs, environment: environment)
        let mount = TestMount(url: url, mountpoint: started.mountpoint, workDirectory: started.workDirectory,
                              arguments: started.arguments, process: started.process,
                              stdoutPath: started.stdoutPath, stderrPath: started.stderrPath)
        let deadline = ContinuousClock.now + timeout
        var mounted = false
        var timedOut = false
        while started.process.status == nil {
            if mount.isMounted {
                mounted = true
                break
            }
            if ContinuousClock.now >= deadline {
                timedOut = true
                break
            }
            sleep(for: .milliseconds(20))
        }
        let status = timedOut ? nil : started.process.wait(timeout: mounted ? .zero : .seconds(5))
        try? mount.unmount()
        return FTPFSRunResult(arguments: started.arguments, exitStatus: mounted ? nil : status,
                              stdout: mount.stdout, stderr: mount.stderr, mounted: mounted, timedOut: timedOut)
    }

    private struct Started {
        let mountpoint: String
        let workDirectory: String
        let arguments: [String]
        let process: ChildProcess
        let stdoutPath: String
        let stderrPath: String
    }

    private static func start(url: String, options: [String], extraArgs: [String],
                              environment: [String: String]) throws -> Started {
        let binary = try FTPFSBinary.path
        let workDirectory = try TestDirectory.make("mount")
        let mountpoint = workDirectory + "/mnt"
        do {
            try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: false)
            let arguments = ["-f", "-o", (["auto_unmount"] + options).joined(separator: ",")]
                + extraArgs + [url, mountpoint]
            let stdoutPath = workDirectory + "/stdout"
            let stderrPath = workDirectory + "/stderr"
            let process = try ChildProcess(
                arguments: [binary] + arguments,
                environment: environment,
                stdoutPath: stdoutPath,
                stderrPath: stderrPath,
                killWithTestProcess: true
            )
            return Started(mountpoint: mountpoint, workDirectory: workDirectory, arguments: arguments,
                           process: process, stdoutPath: stdoutPath, stderrPath: stderrPath)
        } catch {
            TestDirectory.cleanUp(workDirectory)
            throw error
        }
    }

    // MARK: - Unmounting

    /// `fusermount3 -u` (then `-uz` if busy), waits for ftpfs to exit (SIGTERM
    /// then SIGKILL after a grace period), and removes the mountpoint and its
    /// directory. Idempotent. Throws (after cleaning up anyway) when the mount
    /// was busy or ftpfs did not exit by itself after the unmount: both are
    /// worth a failing test.
    public func unmount() throws {
        let alreadyUnmounted = state.withLock { state in
            defer { state.unmounted = true }
            return state.unmounted
        }
        guard !alreadyUnmounted else { return }

        var problems: [String] = []
        if isMounted {
            var grace = Duration.seconds(15)
            let plain = try? Shell.run(["fusermount3", "-u", mountpoint], timeout: .seconds(20))
            if plain?.succeeded != true {
                problems.append("`fusermount3 -u` failed: \(plain.map { tail($0.stderr) } ?? "could not run it")")
                _ = try? Shell.run(["fusermount3", "-uz", mountpoint], timeout: .seconds(20))
                // After a lazy unmount ftpfs serves the busy users until they
                // leave: do not wait for it long.
                grace = .seconds(3)
            }
            if process.wait(timeout: grace) == nil {
                problems.append("ftpfs did not exit within \(grace) after the unmount; killed it")
                process.terminate(grace: .seconds(5))
            }
        } else if process.isRunning {
            // Never mounted (a failed or abandoned start): no grace needed.
            process.terminate(grace: .seconds(5))
        }
        if isMounted {
            // ftpfs was killed before it could unmount (auto_unmount's helper
            // should already have done it).
            _ = try? Shell.run(["fusermount3", "-uz", mountpoint], timeout: .seconds(20))
            if isMounted && geteuid() == 0 {
                _ = try? Shell.run(["umount", "-l", mountpoint], timeout: .seconds(20))
            }
            if isMounted { problems.append("\(mountpoint) is still mounted") }
        }
        process.killProcessGroup()  // the guard's watcher
        let output = (FTPTestServer.read(stdoutPath), FTPTestServer.read(stderrPath))
        state.withLock { state in
            state.stdout = output.0
            state.stderr = output.1
        }
        if !isMounted {
            rmdir(mountpoint)
            TestDirectory.cleanUp(workDirectory)
        }
        if !problems.isEmpty {
            throw TestSupportError(
                "unmounting \(mountpoint): " + problems.joined(separator: "; ")
                    + "\n--- ftpfs stderr:\n\(tail(output.1))")
        }
    }

    /// Arguments with the URL's password replaced by "***", for messages.
    static func displayArguments(_ arguments: [String]) -> [String] {
        arguments.map { argument in
            guard argument.contains("://"), let components = URLComponents(string: argument),
                  components.password != nil else { return argument }
            var masked = components
            masked.percentEncodedPassword = "***"
            return masked.string ?? argument
        }
    }
}
