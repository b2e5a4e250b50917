import Foundation
import Testing
import TestSupport

/// Read streams of one open file: a reader that reads at two places in turn (a media player,
/// a zip reader) keeps a stream at each, instead of a new RETR at every switch.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib)))
struct ReadStreamMountTests {
    @Test func twoSequentialCursorsInOneHandleKeepAStreamEach() throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let root = try TestDirectory.make("cursors")
        defer { TestDirectory.cleanUp(root) }
        try TestDataSet.writeRandomFile(at: root + "/big.bin", size: 48 * 1024 * 1024)
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard])
        defer { server.stop() }
        // direct_io: every pread reaches ftpfs as it is, with no page cache in between.
        try TestMount.withMount(url: server.url(), options: ["direct_io"]) { mount in
            let script = """
                import hashlib, os, sys
                chunk = 128 * 1024
                fd = os.open(sys.argv[1], os.O_RDONLY)
                a, b = hashlib.sha256(), hashlib.sha256()
                for i in range(128):  # 16 MiB from 0 and 16 MiB from 24 MiB, in turn
                    a.update(os.pread(fd, chunk, i * chunk))
                    b.update(os.pread(fd, chunk, 24 * 1024 * 1024 + i * chunk))
                os.close(fd)
                print(a.hexdigest(), b.hexdigest())
                """
            let mounted = try Shell.run(["/usr/bin/python3", "-c", script, mount.path("big.bin")],
                                        timeout: .seconds(120)).check()
            let original = try Shell.run(["/usr/bin/python3", "-c", script, root + "/big.bin"],
                                         timeout: .seconds(120)).check()
            #expect(mounted.stdout == original.stdout)
        }
        // 256 switches between the two places; a handful of RETRs (the first block fetches
        // before a stream has proven sequential), not one per switch.
        let retrievals = server.receivedCommands().filter { $0.hasPrefix("RETR") }.count
        #expect(retrievals <= 12, "\(retrievals) RETRs for two cursors")
    }
}
