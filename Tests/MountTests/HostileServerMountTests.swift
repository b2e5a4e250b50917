import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Servers that would hold a mount for ever or lead it astray: replies and data that trickle
/// in a byte at a time, a greeting that never comes, replies nobody asked for. Every
/// operation has a deadline (`-o timeout=`, for the whole operation, not per byte), and a
/// session that gets out of step is dropped, never reused.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib)))
struct HostileServerMountTests {
    func withQuirkyMount(_ quirks: [String], options: [String] = [], _ body: (FTPTestServer, TestMount) throws -> Void) throws {
        try TestRequirements.require(.pyftpdlib, .fuse)
        let root = try TestDirectory.make("hostile")
        defer { TestDirectory.cleanUp(root) }
        try "some content\n".write(toFile: root + "/file.txt", atomically: false, encoding: .utf8)
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard], quirks: quirks)
        defer { server.stop() }
        try TestMount.withMount(url: server.url(), options: options) { mount in try body(server, mount) }
    }

    /// Runs `command`, returns its result and how long it took.
    func timed(_ command: [String]) throws -> (ShellResult, Double) {
        let started = Date()
        let result = try Shell.run(command, timeout: .seconds(120))
        return (result, Date().timeIntervalSince(started))
    }

    /// A reply sent a byte a second: with `timeout=3` the lookup fails within about 3 s instead
    /// of taking a minute (SO_RCVTIMEO alone would restart with every byte).
    @Test func aTricklingReplyEndsInAnErrorWithinTheTimeout() throws {
        try withQuirkyMount(["trickle-reply=MLST:1"], options: ["timeout=3"]) { _, mount in
            let (result, seconds) = try timed(["stat", mount.path("file.txt")])
            #expect(!result.succeeded, "\(result.stdout)")
            #expect(seconds < 8, "stat took \(seconds) s")
            // The mount goes on working with the next session.
            let (listing, _) = try timed(["ls", mount.mountpoint])
            #expect(listing.stdout.contains("file.txt"), "\(listing.stderr)")
        }
    }

    /// A download sent a byte a second: `cat` fails within about the timeout.
    @Test func aTricklingDownloadEndsInAnErrorWithinTheTimeout() throws {
        try withQuirkyMount(["trickle-data=1"], options: ["timeout=3"]) { _, mount in
            let (result, seconds) = try timed(["cat", mount.path("file.txt")])
            #expect(!result.succeeded)
            #expect(result.stderr.contains("Input/output error"), "\(result.stderr)")
            #expect(seconds < 12, "cat took \(seconds) s")
        }
    }

    /// `-o intr`: a listing waiting on a trickling server gives up when its program is
    /// interrupted, and frees the connection (the only one here) at once instead of holding it
    /// until the timeout. (Reads through the page cache cannot be interrupted: the kernel sends
    /// no interrupt for read-ahead.)
    @Test func anInterruptedRequestFreesItsConnectionAtOnceWithIntr() throws {
        try withQuirkyMount(["trickle-data=1"], options: ["intr", "timeout=30", "max_conns=1"]) { _, mount in
            let lister = try ChildProcess(arguments: ["/usr/bin/python3", "-c", "import os, sys; os.listdir(sys.argv[1])",
                                                      mount.mountpoint], killWithTestProcess: true)
            usleep(1_500_000)  // the listing trickles in
            kill(lister.pid, SIGTERM)
            _ = lister.wait(timeout: .seconds(10))
            let (found, seconds) = try timed(["stat", "-c", "%s", mount.path("file.txt")])
            #expect(found.stdout == "13\n", "\(found.stderr)")
            #expect(seconds < 5, "stat waited \(seconds) s for the connection the interrupted listing held")
            #expect(mount.stderr.contains("interrupted"), "\(mount.stderr.suffix(1000))")
        }
    }

    /// A server that answers "120 ready in 1 minute" for ever: the mount fails with "timed out"
    /// (exit 75) within the connect timeout.
    @Test func aGreetingThatNeverComesEndsTheMountWithinTheConnectTimeout() throws {
        try TestRequirements.require(.pyftpdlib, .fuse)
        let root = try TestDirectory.make("endless-120")
        defer { TestDirectory.cleanUp(root) }
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard], quirks: ["endless-120"])
        defer { server.stop() }
        let started = Date()
        let run = try TestMount.run(expectingFailure: server.url(), options: ["connect_timeout=2"])
        let seconds = Date().timeIntervalSince(started)
        #expect(run.exitStatus == .exited(75), "\(run)")
        #expect(seconds < 10, "took \(seconds) s")
    }

    /// One reply too many (after MDTM, which follows every upload): the session that got it
    /// is dropped, and every operation after it gets its own answer.
    @Test func aSessionThatGetsAStrayReplyIsDroppedAndTheMountStaysRight() throws {
        try withQuirkyMount(["stray-reply=MDTM"]) { server, mount in
            try WriteFixture.script("""
                echo one > "$M/one.txt"
                echo two > "$M/two.txt"
                echo three > "$M/three.txt"
                test "$(cat "$M/one.txt" "$M/two.txt" "$M/three.txt")" = "$(printf 'one\\ntwo\\nthree')"
                test "$(ls "$M" | tr '\\n' ' ')" = "file.txt one.txt three.txt two.txt "
                test "$(cat "$S/two.txt")" = two
                """, mount: mount, server: server, directory: "")
            #expect(server.log().contains("sending a stray reply"))
            #expect(mount.stderr.contains("out of step"), "\(mount.stderr.suffix(2000))")
        }
    }
}

/// ftpfs sends commands whose outcome does not change the next back to back (TYPE+PWD at
/// login, EPSV with the transfer's command, CWD with a listing, RNFR+RNTO, SIZE+MDTM). A server
/// that drops commands sent that way is found out at the first login and gets one at a time.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib)))
struct PipeliningMountTests {
    @Test func aServerThatDropsPipelinedCommandsGetsOneAtATime() throws {
        try TestRequirements.require(.pyftpdlib, .fuse)
        let root = try TestDirectory.make("no-pipelining")
        defer { TestDirectory.cleanUp(root) }
        try "old\n".write(toFile: root + "/existing.txt", atomically: false, encoding: .utf8)
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard], quirks: ["no-pipelining"])
        defer { server.stop() }
        try TestMount.withMount(url: server.url()) { mount in
            try WriteFixture.script("""
                ls "$M/.." > /dev/null
                test "$(cat "$M/../existing.txt")" = old
                echo new > "$M/../existing.txt"
                echo made > "$M/made.txt"
                mv "$M/made.txt" "$M/moved.txt"
                test "$(cat "$S/moved.txt")" = made
                test "$(cat "$S/../existing.txt")" = new
                """, mount: mount, server: server, directory: "work")
            #expect(mount.stderr.contains("sending one at a time"), "\(mount.stderr.suffix(1500))")
        }
    }

    @Test func aServerThatTakesPipelinedCommandsGetsThemInOneRoundTrip() throws {
        try TestRequirements.require(.pyftpdlib, .fuse)
        let root = try TestDirectory.make("pipelining")
        defer { TestDirectory.cleanUp(root) }
        try "content\n".write(toFile: root + "/file.txt", atomically: false, encoding: .utf8)
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard])
        defer { server.stop() }
        try TestMount.withMount(url: server.url()) { mount in
            let read = try Shell.run(["cat", mount.path("file.txt")], timeout: .seconds(30)).check()
            #expect(read.stdout == "content\n")
        }
        // EPSV, then RETR before its reply was read: the commands went back to back.
        let commands = server.receivedCommands()
        #expect(commands.contains("RETR /file.txt"), "\(commands)")
    }
}
