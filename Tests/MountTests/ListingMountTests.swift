import Foundation
import Testing
import TestSupport

/// Servers that list differently from a Unix vsftpd: IIS-style DOS listings, GBK names,
/// symlinks, servers that refuse `LIST -a`, and listings cut short. Through the mount they must
/// behave like a Unix server.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib, .vsftpd)))
struct ListingMountTests {
    @Test func aDOSListingServerWithoutMLSDLooksLikeAnyOther() throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let root = try TestDirectory.make("dos")
        defer { TestDirectory.cleanUp(root) }
        try TestDataSet.generate(at: root, bigFileSize: 5_000_000)
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard], noMLSD: true, quirks: ["dos-list"])
        defer { server.stop() }
        try TestMount.withMount(url: server.url()) { mount in
            #expect(try treeShape(mount.mountpoint) == treeShape(root))
            let mounted = try TestDataSet.manifest(of: mount.mountpoint)
            let original = try TestDataSet.manifest(of: root)
            #expect(mounted == original, "differences: \(mounted.differences(from: original))")
            let listing = try Shell.run(["bash", "-c", "cd \(Shell.quote(mount.path("dir1/dir2"))) && ls -l && cat dir3/deep.txt"],
                                        timeout: .seconds(30)).check()
            #expect(listing.stdout.contains("file2.bin"))
            #expect(listing.stdout.hasSuffix("three levels down\n"))
        }
        #expect(server.receivedCommands().contains { $0.hasPrefix("LIST") })
    }

    static func makeChineseTree() throws -> String {
        let root = try TestDirectory.make("gbk")
        try FileManager.default.createDirectory(atPath: root + "/中文目录/子目录", withIntermediateDirectories: true)
        try "你好，世界\n".write(toFile: root + "/中文目录/文件.txt", atomically: true, encoding: .utf8)
        try "深\n".write(toFile: root + "/中文目录/子目录/深层.txt", atomically: true, encoding: .utf8)
        try "ascii\n".write(toFile: root + "/plain.txt", atomically: true, encoding: .utf8)
        return root
    }

    @Test(arguments: [false, true])
    func namesFromAGBKServerAppearAndCanBeCreated(machineListing: Bool) throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let root = try Self.makeChineseTree()
        defer { TestDirectory.cleanUp(root) }
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard], noMLSD: !machineListing,
                                                      quirks: ["encoding=gbk"])
        defer { server.stop() }
        try TestMount.withMount(url: server.url(), options: ["encoding=GBK"]) { mount in
            let listing = try Shell.run(["ls", "-R", mount.mountpoint], timeout: .seconds(30)).check()
            for name in ["中文目录", "文件.txt", "子目录", "深层.txt", "plain.txt"] {
                #expect(listing.stdout.contains(name), "ls -R lacks \(name):\n\(listing.stdout)")
            }
            let content = try Shell.run(["cat", mount.path("中文目录/文件.txt")], timeout: .seconds(30)).check()
            #expect(content.stdout == "你好，世界\n")
            try Shell.run(["bash", "-c", "cd \(Shell.quote(mount.path("中文目录"))) && mkdir 新目录 && echo 新 > 新目录/新文件.txt"],
                          timeout: .seconds(30)).check()
            // The server keeps UTF-8 names on its disk and speaks GBK on the wire.
            #expect(try String(contentsOfFile: root + "/中文目录/新目录/新文件.txt", encoding: .utf8) == "新\n")
        }
        // Without -o encoding the GBK names cannot be shown: they are skipped, nothing breaks.
        try TestMount.withMount(url: server.url(), options: ["log_level=notice"]) { mount in
            let listing = try Shell.run(["ls", mount.mountpoint], timeout: .seconds(30)).check()
            #expect(listing.stdout == "plain.txt\n")
            #expect(mount.stderr.contains("could not be decoded"), "\(mount.stderr)")
        }
    }

    /// A tree with every kind of link: to a file, to a directory, absolute (in the server's
    /// view), broken, looping, pointing up, climbing above the server's root, and leaving a
    /// subdirectory that is mounted on its own.
    static func makeLinkTree() throws -> String {
        let root = try TestDirectory.make("links")
        try FileManager.default.createDirectory(atPath: root + "/data/sub", withIntermediateDirectories: true)
        try "content\n".write(toFile: root + "/data/file.txt", atomically: true, encoding: .utf8)
        try "other\n".write(toFile: root + "/other.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: root + "/elsewhere", withIntermediateDirectories: true)
        try "far\n".write(toFile: root + "/elsewhere/far.txt", atomically: true, encoding: .utf8)
        let links = [
            "link-to-file": "data/file.txt", "link-to-dir": "data", "abs-link": "/data/file.txt",
            "broken": "missing.txt", "loop1": "loop2", "loop2": "loop1", "data/up": "..",
            "data/climb": "../../../../../other.txt", "data/out": "../other.txt", "data/outdir": "../elsewhere",
            "data/chain": "out",
        ]
        for (link, target) in links {
            try FileManager.default.createSymbolicLink(atPath: root + "/" + link, withDestinationPath: target)
        }
        return root
    }

    @Test(arguments: [StandardServer.vsftpd, .pyftpdlib])
    func symlinksBehaveAsOnAUnixServer(_ kind: StandardServer) throws {
        try TestRequirements.require(.fuse, kind.requirement)
        let root = try Self.makeLinkTree()
        defer { TestDirectory.cleanUp(root) }
        // pyftpdlib's MLSD follows links; LIST shows them, as vsftpd's does.
        let server = kind == .vsftpd ? try FTPTestServer.startVsftpd(root: root, localUser: true)
            : try FTPTestServer.startPyftpdlib(root: root, users: [.standard], noMLSD: true)
        defer { server.stop() }
        try TestMount.withMount(url: server.url()) { mount in
            let script = """
                set -euo pipefail
                cd \(Shell.quote(mount.mountpoint))
                test "$(readlink link-to-file)" = data/file.txt
                test "$(cat link-to-file)" = content
                test "$(readlink abs-link)" = data/file.txt          # the server's absolute path, made relative
                test "$(cat abs-link)" = content
                test "$(stat -L -c %F link-to-dir)" = directory
                test "$(ls link-to-dir/ | tr '\\n' ' ')" = "chain climb file.txt out outdir sub up "
                cd link-to-dir/sub && cd ../.. && test -d data
                test "$(stat -c %F broken)" = "symbolic link"
                ! cat broken 2> err && grep -q 'No such file' err
                ! cat loop1 2> err && grep -q 'Too many levels of symbolic links' err
                test "$(readlink data/climb)" = ../other.txt          # clamped at the server's root
                test "$(cat data/up/other.txt)" = other
                ls -lR > /dev/null                                     # no endless recursion
                rm err
                """
            let result = try Shell.run(["bash", "-c", script], timeout: .seconds(60))
            #expect(result.status == 0, "\(result.stderr)")
        }
        // Mounting only data/: links that leave it are shown as what they lead to.
        try TestMount.withMount(url: server.url(path: "data")) { mount in
            let script = """
                set -euo pipefail
                cd \(Shell.quote(mount.mountpoint))
                test "$(stat -c %F out)" = "regular file"
                test "$(cat out)" = other
                test "$(cat chain)" = other                            # link → link → file
                test "$(stat -c %F outdir)" = directory
                test "$(cat outdir/far.txt)" = far
                test "$(readlink file.txt || true)" = ""
                """
            let result = try Shell.run(["bash", "-c", script], timeout: .seconds(60))
            #expect(result.status == 0, "\(result.stderr)")
        }
    }

    @Test func aServerThatRefusesLISTDashAIsListedWithPlainLIST() throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let root = try TestDirectory.make("no-list-a")
        defer { TestDirectory.cleanUp(root) }
        try TestDataSet.generate(at: root)
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard], noMLSD: true,
                                                      quirks: ["no-list-options"])
        defer { server.stop() }
        try TestMount.withMount(url: server.url()) { mount in
            let shape = try treeShape(mount.mountpoint)
            #expect(shape == (try treeShape(root)))
        }
        let lists = server.receivedCommands().filter { $0.hasPrefix("LIST") }
        #expect(lists.filter { $0 == "LIST -a" }.count == 1, "LIST -a is tried once, then remembered: \(lists)")
    }

    @Test(arguments: [false, true])
    func aTruncatedListingShowsWhatCameAndSaysSo(machineListing: Bool) throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let root = try TestDirectory.make("truncated")
        defer { TestDirectory.cleanUp(root) }
        for index in 0..<30 { FileManager.default.createFile(atPath: root + "/f\(index)", contents: Data()) }
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard], noMLSD: !machineListing,
                                                      quirks: ["list-limit=10"])
        defer { server.stop() }
        try TestMount.withMount(url: server.url()) { mount in
            let listing = try Shell.run(["ls", mount.mountpoint], timeout: .seconds(30)).check()
            #expect(listing.stdout.split(separator: "\n").count == 10)
            #expect(mount.stderr.contains("cut the listing"), "\(mount.stderr)")
            #expect(mount.stderr.contains(machineListing ? "-o list=list" : "administrator"), "\(mount.stderr)")
        }
    }
}
