import Foundation
import Testing
import TestSupport

/// A directory whose listing holds entries no client may show (a path for a name, NUL and CR in
/// names, names longer than Linux allows, bytes that are not UTF-8, `..` as a file, a link whose
/// target holds NUL, a name listed twice, a line that is no entry) still lists, through the
/// kernel, with its real entries: the bad ones cost themselves, never the directory.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib)))
struct HostileListingMountTests {
    @Test(arguments: [true, false])
    func aDirectoryWithHostileEntriesListsItsGoodOnes(machineListing: Bool) throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let root = try TestDirectory.make("hostile-listing")
        defer { TestDirectory.cleanUp(root) }
        try FileManager.default.createDirectory(atPath: root + "/hostile/sub", withIntermediateDirectories: true)
        try "good\n".write(toFile: root + "/hostile/good.txt", atomically: true, encoding: .utf8)
        try "inner\n".write(toFile: root + "/hostile/sub/inner.txt", atomically: true, encoding: .utf8)
        let server = try FTPTestServer.startPyftpdlib(root: root, noMLSD: !machineListing, quirks: ["hostile-entries"])
        defer { server.stop() }

        try TestMount.withMount(url: server.url(), options: ["log_level=notice"]) { mount in
            let listing = try Shell.run(["ls", "-a", mount.path("hostile")], timeout: .seconds(30)).check()
            #expect(listing.stdout == ".\n..\ngood.txt\nsub\n")
            let long = try Shell.run(["ls", "-l", mount.path("hostile")], timeout: .seconds(30)).check()
            #expect(long.stdout.contains(" 5 ") && long.stdout.contains("good.txt"),
                    "good.txt shows its real size, not the second entry's:\n\(long.stdout)")
            let content = try Shell.run(["cat", mount.path("hostile/good.txt"), mount.path("hostile/sub/inner.txt")],
                                        timeout: .seconds(30)).check()
            #expect(content.stdout == "good\ninner\n")
            let walk = try Shell.run(["find", mount.mountpoint], timeout: .seconds(30)).check()
            #expect(walk.stdout.split(separator: "\n").count == 5, "\(walk.stdout)")

            // One line says what was left out and where.
            let notices = mount.stderr.split(separator: "\n").filter { $0.contains("listing of ") && $0.contains("/hostile") }
            #expect(notices.count >= 1, "\(mount.stderr)")
            let notice = String(notices.first ?? "")
            // a/b, NUL, CR, 256 and 1100 bytes, `..`, the link to a target with NUL, good.txt again.
            #expect(notice.contains(#"skipped 8 entries: "a/b" (contains '/'), "nul\u{0}byte" (contains NUL), "#
                + #""carriage\rreturn" (contains CR or LF), and 5 more"#), "\(notice)")
            #expect(notice.contains(#"1 line not understood ("this line is no listing entry")"#), "\(notice)")
            #expect(notice.contains("1 line could not be decoded"), "\(notice)")
            #expect(notice.contains("showing the other 2"), "\(notice)")
            #expect(!notice.contains("\r"), "the CR of a hostile name is escaped in the log")
        }
    }
}
