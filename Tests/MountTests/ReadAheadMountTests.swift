import Foundation
import Testing
import TestSupport

/// The kernel's read-ahead on an ftpfs mount: 128 KiB unless raised through sysfs, which ftpfs
/// does when it runs as root (`-o readahead=`, 1 MiB by default).
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib, .root)))
struct ReadAheadMountTests {
    func readAheadKiB(of mountpoint: String) throws -> Int? {
        let table = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        guard let line = table.split(separator: "\n").last(where: { $0.split(separator: " ")[4] == mountpoint }) else {
            return nil
        }
        let device = line.split(separator: " ")[2]
        let value = try String(contentsOfFile: "/sys/class/bdi/\(device)/read_ahead_kb", encoding: .utf8)
        return Int(value.filter(\.isNumber))
    }

    @Test(arguments: [([String](), 1024), (["readahead=4M"], 4096), (["readahead=4M", "max_readahead=262144"], 256)])
    func rootRaisesTheKernelsReadAhead(options: [String], kibibytes: Int) throws {
        try TestRequirements.require(.fuse, .pyftpdlib, .root)
        let server = try ReadFixture.server(.pyftpdlib)
        try TestMount.withMount(url: server.url(), options: options) { mount in
            // Once a request has been answered, the kernel has applied max_readahead too.
            try Shell.run(["stat", mount.mountpoint], timeout: .seconds(30)).check()
            #expect(try readAheadKiB(of: mount.mountpoint) == kibibytes)
            // And reads still come out right with it.
            let sum = try Shell.run(["sha256sum", mount.path(TestDataSet.bigFileName)], timeout: .seconds(120)).check()
            #expect(sum.stdout.prefix(64) == (try TestDataSet.sha256(ofFile: server.path(TestDataSet.bigFileName))))
        }
    }
}
