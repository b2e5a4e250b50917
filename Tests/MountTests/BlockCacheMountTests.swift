import Foundation
import Testing
import TestSupport

/// The block cache through the mount: random reads fetch whole blocks once, later reads of those
/// blocks cost no RETR, blocks kept in `cache_dir` serve a new mount, and a file changed on the
/// server is never served from its old blocks.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib)))
struct BlockCacheMountTests {
    static let fileSize = 8 * 1024 * 1024
    /// Far enough apart that no read is served by reading through from the previous one.
    static let offsets = [300_000, 305_000, 5_000_000, 300_000, 5_000_100, 310_000]

    /// Reads 4 KiB at each offset with pread (the mount uses direct_io, so every read reaches
    /// ftpfs rather than the kernel's page cache) and returns the bytes, hex-encoded.
    func readAtOffsets(_ path: String) throws -> [String] {
        let script = """
            import os, sys
            fd = os.open(sys.argv[1], os.O_RDONLY)
            for offset in map(int, sys.argv[2:]):
                print(os.pread(fd, 4096, offset).hex())
            os.close(fd)
            """
        let result = try Shell.run(["/usr/bin/python3", "-c", script, path] + Self.offsets.map(String.init),
                                   timeout: .seconds(60)).check()
        return result.stdout.split(separator: "\n").map(String.init)
    }

    func expected(_ path: String) throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return Self.offsets.map { offset in
            data[offset..<min(offset + 4096, data.count)].map { String(format: "%02x", $0) }.joined()
        }
    }

    func retrievals(_ server: FTPTestServer) -> Int {
        server.receivedCommands().filter { $0.hasPrefix("RETR") }.count
    }

    @Test func randomReadsFetchEachBlockOnceAndCacheDirServesTheNextMount() throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let root = try TestDirectory.make("blockcache")
        let cacheDirectory = try TestDirectory.make("blockcache-dir")
        defer {
            TestDirectory.cleanUp(root)
            TestDirectory.cleanUp(cacheDirectory)
        }
        try TestDataSet.writeRandomFile(at: root + "/random.bin", size: Self.fileSize)
        // A time with seconds (MLSD gives them): blocks keyed to it may serve later mounts. (A
        // whole minute may be a LIST time cut to the minute, whose blocks serve one mount only.)
        try Self.setModificationTime(of: root + "/random.bin", secondsAgo: 7)
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard])
        defer { server.stop() }
        let options = ["direct_io", "cache_dir=\(cacheDirectory)"]

        try TestMount.withMount(url: server.url(), options: options) { mount in
            let read = try readAtOffsets(mount.path("random.bin"))
            #expect(read == (try expected(server.path("random.bin"))))
        }
        // Two blocks touched (around 300,000 and 5,000,000): two RETRs, however many reads.
        #expect(retrievals(server) == 2, "\(server.receivedCommands().filter { $0.hasPrefix("RETR") || $0.hasPrefix("REST") })")
        let blocks = try Shell.run(["find", cacheDirectory + "/blocks", "-type", "f"], timeout: .seconds(10)).check()
        #expect(blocks.stdout.split(separator: "\n").count == 2)

        // A new mount with the same cache_dir: the blocks come from disk.
        let before = retrievals(server)
        try TestMount.withMount(url: server.url(), options: options) { mount in
            let read = try readAtOffsets(mount.path("random.bin"))
            #expect(read == (try expected(server.path("random.bin"))))
        }
        #expect(retrievals(server) == before, "the second mount should read every block from cache_dir")

        // The file changes on the server (same size, new content and time): its old blocks
        // are never served.
        try TestDataSet.writeRandomFile(at: root + "/random.bin", size: Self.fileSize)
        let changed = Date().addingTimeInterval(3600)
        try FileManager.default.setAttributes([.modificationDate: changed], ofItemAtPath: root + "/random.bin")
        try TestMount.withMount(url: server.url(), options: options) { mount in
            let read = try readAtOffsets(mount.path("random.bin"))
            #expect(read == (try expected(server.path("random.bin"))))
        }
        #expect(retrievals(server) > before)
    }

    /// Sets the file's time to `secondsAgo` before now, moved off a whole minute.
    static func setModificationTime(of path: String, secondsAgo: Int) throws {
        var time = Int(Date().timeIntervalSince1970) - secondsAgo
        if time % 60 == 0 { time -= 1 }
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: Double(time))],
                                              ofItemAtPath: path)
    }

    @Test func aFileRewrittenWithinTheMinuteOfItsLISTTimeIsNeverServedStale() throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let scratch = try TestDirectory.make("blockcache-minute")
        defer { TestDirectory.cleanUp(scratch) }
        let root = scratch + "/root"
        let cacheDirectory = scratch + "/cache"  // ftpfs creates it
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        let file = root + "/random.bin"
        try TestDataSet.writeRandomFile(at: file, size: Self.fileSize)
        // pyftpdlib without MLSD: LIST shows `Dec 04 18:22`, the time to the minute.
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard], noMLSD: true)
        defer { server.stop() }
        let options = ["direct_io", "cache_dir=\(cacheDirectory)"]
        let minute = (Int(Date().timeIntervalSince1970) / 60 - 1) * 60
        func touch(_ second: Int) throws {
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: Double(minute + second))],
                                                  ofItemAtPath: file)
        }
        try touch(10)
        try TestMount.withMount(url: server.url(), options: options) { mount in
            let read = try readAtOffsets(mount.path("random.bin"))
            #expect(read == (try expected(file)))
        }
        // Rewritten within the same minute, same size: the listing shows the same size and time.
        try TestDataSet.writeRandomFile(at: file, size: Self.fileSize)
        try touch(40)
        let before = retrievals(server)
        try TestMount.withMount(url: server.url(), options: options) { mount in
            let read = try readAtOffsets(mount.path("random.bin"))
            #expect(read == (try expected(file)), "stale blocks were served")
        }
        #expect(retrievals(server) > before, "the second mount should fetch, not trust blocks keyed to the minute")
    }

    @Test func writingAFileDropsItsCachedBlocks() throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let root = try TestDirectory.make("blockcache-write")
        defer { TestDirectory.cleanUp(root) }
        try TestDataSet.writeRandomFile(at: root + "/random.bin", size: Self.fileSize)
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard])
        defer { server.stop() }
        try TestMount.withMount(url: server.url(), options: ["direct_io"]) { mount in
            let path = mount.path("random.bin")
            #expect(try readAtOffsets(path) == expected(server.path("random.bin")))
            // Overwrite a stretch in place (staged and uploaded on close), then read again.
            try Shell.run(["dd", "if=/dev/urandom", "of=\(path)", "bs=4096", "count=4", "seek=73",
                           "conv=notrunc", "status=none"], timeout: .seconds(60)).check()
            #expect(try readAtOffsets(path) == expected(server.path("random.bin")))
        }
    }
}
