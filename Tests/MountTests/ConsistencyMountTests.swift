import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A shared server: other clients change it while the mount is up. Close-to-open consistency,
/// as NFS gives it: another client's rewrite, new file and delete are seen by the next open or
/// lookup within about a second (`-o revalidate=1`), not after the listing cache's 30 s.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib, .vsftpd)))
struct ConsistencyMountTests {
    /// Runs `command` until `done` says its result is the awaited one, for at most `seconds`;
    /// returns the last result and how long it took.
    func within(_ seconds: Double, _ command: [String], until done: (ShellResult) -> Bool) throws -> (ShellResult, Double) {
        let started = Date()
        while true {
            let result = try Shell.run(command, timeout: .seconds(30))
            let elapsed = Date().timeIntervalSince(started)
            if done(result) || elapsed > seconds { return (result, elapsed) }
            usleep(100_000)
        }
    }

    @Test(arguments: StandardServer.allCases)
    func anotherClientsRewriteNewFileAndDeleteAreSeenWithinTwoSeconds(_ kind: StandardServer) throws {
        try TestRequirements.require(kind.requirement, .fuse)
        let root = try TestDirectory.make("consistency-\(kind)")
        defer { TestDirectory.cleanUp(root) }
        try "version one\n".write(toFile: root + "/shared.txt", atomically: false, encoding: .utf8)
        let server = try kind.start(root: root)
        defer { server.stop() }
        try TestMount.withMount(url: server.url()) { mount in
            // Listed and read: everything about the directory is cached now.
            #expect(try Shell.run(["ls", mount.mountpoint], timeout: .seconds(30)).check().stdout == "shared.txt\n")
            #expect(try Shell.run(["cat", mount.path("shared.txt")], timeout: .seconds(30)).check().stdout == "version one\n")

            // Another client rewrites it, makes a new file, and (later) deletes one.
            try "version two, and longer\n".write(toFile: server.path("shared.txt"), atomically: false, encoding: .utf8)
            try "made by someone else\n".write(toFile: server.path("new.txt"), atomically: false, encoding: .utf8)
            let (rewritten, rewriteTime) = try within(2, ["cat", mount.path("shared.txt")]) {
                $0.stdout == "version two, and longer\n"
            }
            #expect(rewritten.stdout == "version two, and longer\n", "after \(rewriteTime) s: \(rewritten.stdout)")
            #expect(rewriteTime <= 2)
            let (created, creationTime) = try within(2, ["cat", mount.path("new.txt")]) { $0.succeeded }
            #expect(created.stdout == "made by someone else\n", "after \(creationTime) s: \(created.stderr)")
            #expect(creationTime <= 2)

            try FileManager.default.removeItem(atPath: server.path("shared.txt"))
            let (deleted, deletionTime) = try within(2, ["cat", mount.path("shared.txt")]) { !$0.succeeded }
            #expect(!deleted.succeeded, "still read after \(deletionTime) s")
            #expect(deleted.stderr.contains("No such file"), "\(deleted.stderr)")
        }
    }
}
