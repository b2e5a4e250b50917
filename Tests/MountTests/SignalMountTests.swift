import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// What signals do to a running mount, and where a background mount's log goes:
/// SIGHUP drops the caches and keeps the mount, SIGTERM unmounts after uploading what is
/// pending (and logs an upload that fails as an error), SIGUSR1 logs a status line (SIGUSR2
/// with `-o intr`), and a detached mount logs to syslog.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .root, .pyftpdlib)))
struct SignalMountTests {
    static let shared = SharedTestServer {
        let root = try TestDirectory.make("signals")
        try TestDataSet.generate(at: root)
        return try .startPyftpdlib(root: root)
    }

    /// pyftpdlib refusing every upload with 552.
    static let refusingServer = SharedTestServer {
        let root = try TestDirectory.make("signals-552")
        try TestDataSet.generate(at: root)
        return try .startPyftpdlib(root: root, quirks: ["stor-552"])
    }

    static func server(_ shared: SharedTestServer = shared) throws -> FTPTestServer {
        try TestRequirements.require(.fuse, .root, .pyftpdlib)
        return try shared.get()
    }

    /// A directory of this test's own on the server's disk (relative path).
    static func directory(on server: FTPTestServer, _ name: String) throws -> String {
        let relative = name + "-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try FileManager.default.createDirectory(atPath: server.path(relative), withIntermediateDirectories: false)
        return relative
    }

    static func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// Polls `condition` for up to `timeout`.
    static func eventually(_ timeout: Duration = .seconds(10), _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    static func size(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    // MARK: - SIGHUP

    @Test func sighupDropsCachedListingsWithoutUnmounting() throws {
        let server = try Self.server()
        let directory = try Self.directory(on: server, "hup")
        try Self.write("short", to: server.path(directory + "/file.txt"))
        // Listings trusted for an hour; the kernel's own caches off, so what stat shows is
        // what ftpfs's cache says.
        let options = ["dir_cache_timeout=3600", "attr_timeout=0", "entry_timeout=0", "negative_timeout=0"]
        try TestMount.withMount(url: server.url(), options: options) { mount in
            let file = mount.path(directory + "/file.txt")
            #expect(Self.size(file) == 5)
            #expect(try FileManager.default.contentsOfDirectory(atPath: mount.path(directory)) == ["file.txt"])

            // Changed behind ftpfs's back: the cached listing still rules.
            try Self.write("a good deal longer now", to: server.path(directory + "/file.txt"))
            try Self.write("new", to: server.path(directory + "/added.txt"))
            usleep(300_000)
            #expect(Self.size(file) == 5, "the listing should still be cached")

            mount.signal(SIGHUP)
            let refreshed = Self.eventually(.seconds(5)) {
                Self.size(file) == 22
                    && (try? FileManager.default.contentsOfDirectory(atPath: mount.path(directory)).sorted())
                        == ["added.txt", "file.txt"]
            }
            #expect(refreshed, "after SIGHUP the server's changes should show at once")
            #expect(try String(contentsOfFile: file, encoding: .utf8) == "a good deal longer now")
            #expect(mount.isMounted && mount.exitStatus == nil, "SIGHUP must not unmount")
            #expect(mount.stderr.contains("SIGHUP: dropped cached listings"), "\(mount.stderr)")
        }
    }

    // MARK: - SIGTERM

    /// Mounts `server`, runs `script` (made for the mount) in a shell that keeps what it opened
    /// open, sends ftpfs SIGTERM and waits up to a minute for it to exit. Returns the mount
    /// and ftpfs's exit status (nil if it did not exit).
    static func terminateWithFilesOpen(on server: FTPTestServer, _ script: (TestMount) -> String) throws
        -> (mount: TestMount, status: TestSupport.ExitStatus?)
    {
        let mount = try TestMount.mount(url: server.url())
        let holder: (process: ChildProcess, output: String)
        do {
            holder = try Self.holdOpen(script(mount))
        } catch {
            try? mount.unmount()
            throw error
        }
        defer {
            holder.process.terminate()
            TestDirectory.cleanUp(holder.output)
            try? mount.unmount()
        }
        mount.signal(SIGTERM)
        return (mount, mount.waitForExit(timeout: .seconds(60)))
    }

    /// Starts a shell that opens files in the mount, writes without closing, says "ready" and
    /// holds the descriptors until killed.
    static func holdOpen(_ script: String) throws -> (process: ChildProcess, output: String) {
        let output = try TestDirectory.make("holder")
        let process = try ChildProcess(arguments: ["bash", "-c", script + "\necho ready\nexec sleep 120"],
                                       stdoutPath: output + "/stdout", stderrPath: output + "/stderr",
                                       killWithTestProcess: true)
        let ready = eventually(.seconds(30)) {
            (try? String(contentsOfFile: output + "/stdout", encoding: .utf8))?.contains("ready") == true
                || !process.isRunning
        }
        guard ready, process.isRunning else {
            let stderr = (try? String(contentsOfFile: output + "/stderr", encoding: .utf8)) ?? ""
            process.terminate()
            TestDirectory.cleanUp(output)
            throw TestSupportError("the writing shell did not get ready: \(stderr)")
        }
        return (process, output)
    }

    @Test func sigtermUploadsPendingChangesThenUnmountsAndExitsZero() throws {
        let server = try Self.server()
        let directory = try Self.directory(on: server, "term")
        try Self.write("0123456789", to: server.path(directory + "/edited.txt"))
        // A new file streamed into STOR, and an existing one edited in place (staged): neither
        // closed, so both uploads are still pending when ftpfs is told to stop.
        let (mount, status) = try Self.terminateWithFilesOpen(on: server) { mount in """
            set -e
            exec 3>\(Shell.quote(mount.path(directory + "/streamed.txt")))
            printf 'streamed, never closed' >&3
            exec 4<>\(Shell.quote(mount.path(directory + "/edited.txt")))
            printf 'AB' >&4
            """
        }
        #expect(status == .exited(0), "ftpfs should exit cleanly after SIGTERM:\n\(mount.stderr)")
        #expect(!mount.isMounted)
        #expect(try String(contentsOfFile: server.path(directory + "/streamed.txt"), encoding: .utf8)
            == "streamed, never closed")
        #expect(try String(contentsOfFile: server.path(directory + "/edited.txt"), encoding: .utf8) == "AB23456789")
        #expect(mount.stderr.contains("unmounted"), "\(mount.stderr)")
    }

    @Test func aPendingUploadThatFailsAtExitIsLoggedAsAnError() throws {
        let server = try Self.server(Self.refusingServer)
        let directory = try Self.directory(on: server, "term-552")
        try Self.write("0123456789", to: server.path(directory + "/edited.txt"))
        let (mount, status) = try Self.terminateWithFilesOpen(on: server) { mount in """
            set -e
            exec 4<>\(Shell.quote(mount.path(directory + "/edited.txt")))
            printf 'AB' >&4
            """
        }
        #expect(status != nil, "ftpfs should exit after SIGTERM")
        #expect(mount.stderr.contains("error: "), "\(mount.stderr)")
        #expect(mount.stderr.contains("edited.txt: changes not saved to the server at unmount"), "\(mount.stderr)")
        #expect(try String(contentsOfFile: server.path(directory + "/edited.txt"), encoding: .utf8) == "0123456789")
    }

    // MARK: - The status line

    @Test func sigusr1LogsAOneLineStatus() throws {
        let server = try Self.server()
        try TestMount.withMount(url: server.url()) { mount in
            let hello = try String(contentsOfFile: mount.path(TestDataSet.helloFileName), encoding: .utf8)
            #expect(hello == TestDataSet.helloContent)
            _ = try FileManager.default.contentsOfDirectory(atPath: mount.mountpoint)
            mount.signal(SIGUSR1)
            #expect(Self.eventually { mount.stderr.contains("status: ") }, "\(mount.stderr)")
            let line = mount.stderr.split(separator: "\n").first { $0.contains("status: ") }.map(String.init) ?? ""
            #expect(line.contains("notice: status: connections: "), "\(line)")
            #expect(line.contains("at most 4"), "\(line)")
            #expect(line.contains("listings: "), "\(line)")
            #expect(line.contains("read \(TestDataSet.helloContent.utf8.count) B"), "\(line)")
            #expect(line.contains("written 0 B"), "\(line)")
            #expect(line.contains("errors: 0"), "\(line)")
            #expect(mount.isMounted && mount.exitStatus == nil, "SIGUSR1 must not end ftpfs")
        }
    }

    @Test func withIntrTheStatusSignalIsSIGUSR2() throws {
        let server = try Self.server()
        try TestMount.withMount(url: server.url(), options: ["intr"]) { mount in
            _ = try FileManager.default.contentsOfDirectory(atPath: mount.mountpoint)
            mount.signal(SIGUSR2)
            #expect(Self.eventually { mount.stderr.contains("status: connections: ") }, "\(mount.stderr)")
            // SIGUSR1 is libfuse's interrupt signal here: it must neither kill ftpfs nor log.
            mount.signal(SIGUSR1)
            usleep(300_000)
            #expect(mount.isMounted && mount.exitStatus == nil, "SIGUSR1 with -o intr must not end ftpfs")
            #expect(mount.stderr.components(separatedBy: "status: ").count == 2, "\(mount.stderr)")
        }
    }

    // MARK: - syslog

    /// A detached mount in a private mount namespace whose /dev holds what ftpfs needs plus a
    /// /dev/log socket the test reads: the mount, a SIGUSR1 status line and the unmount must
    /// arrive there as syslog datagrams from `ftpfs[PID]`, facility daemon.
    @Test func aBackgroundMountLogsToSyslog() throws {
        let server = try Self.server()
        let work = try TestDirectory.make("syslog")
        defer { TestDirectory.cleanUp(work) }
        let mountpoint = work + "/mnt"
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: false)
        let received = work + "/syslog.txt"
        let receiver = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(sys.argv[1])
            with open(sys.argv[2], "ab", buffering=0) as out:
                while True:
                    out.write(s.recv(65536).rstrip(b"\\0\\n") + b"\\n")
            """
        let script = """
            set -eu
            mount -t tmpfs none /dev
            mknod -m 666 /dev/null c 1 3
            mknod -m 666 /dev/urandom c 1 9
            mknod -m 600 /dev/fuse c 10 229
            \(FTPTestServer.python) -c \(Shell.quote(receiver)) /dev/log \(Shell.quote(received)) &
            receiver=$!
            trap 'fusermount3 -uz "$MNT" 2>/dev/null || true; kill $receiver 2>/dev/null || true' EXIT
            for i in $(seq 100); do [ -S /dev/log ] && break; sleep 0.05; done
            \(Shell.quote(try FTPFSBinary.path)) "$URL" "$MNT"
            cat "$MNT/\(TestDataSet.helloFileName)" >/dev/null
            pid=$(pgrep -f -- "$MNT" | head -n 1)
            echo "ftpfs pid $pid"
            kill -USR1 "$pid"
            for i in $(seq 100); do grep -q 'status: ' \(Shell.quote(received)) && break; sleep 0.05; done
            fusermount3 -u "$MNT"
            for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
            sleep 0.2
            """
        let result = try Shell.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
                                   timeout: .seconds(120), environment: ["URL": server.url(), "MNT": mountpoint])
        #expect(result.status == 0, "\(result)")
        let log = (try? String(contentsOfFile: received, encoding: .utf8)) ?? ""
        let pid = result.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "?"
        // <29> = facility daemon (3) × 8 + notice (5); <30> = daemon + info.
        #expect(log.contains("<29>"), "\(log)")
        #expect(log.contains("ftpfs[\(pid)]: mounted ftp://"), "\(log)")
        #expect(log.contains("status: connections: "), "\(log)")
        #expect(log.contains("<30>") && log.contains("unmounted \(mountpoint)"), "\(log)")
        #expect(!log.contains(FTPTestUser.standard.password), "the password leaked into syslog")
        #expect(result.stderr.isEmpty || !result.stderr.contains("status"), "nothing should be logged on stderr: \(result.stderr)")
        #expect(!MountTable.isMounted(mountpoint))
    }
}
