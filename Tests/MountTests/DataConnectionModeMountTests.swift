import Foundation
import Testing
import TestSupport

/// Every way a data connection can be made: passive with EPSV or PASV, active with EPRT or
/// PORT, over IPv4 and IPv6. Each mount reads and writes, checked on the server's disk, and the
/// server's log shows the mode was really used.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib, .vsftpd, .ipv6)))
struct DataConnectionModeMountTests {
    /// Reads the data set through the mount, writes a file, and compares with the server's disk.
    func exercise(_ server: FTPTestServer, options: [String]) throws {
        try TestMount.withMount(url: server.url(), options: options) { mount in
            let mounted = try TestDataSet.manifest(of: mount.mountpoint)
            let original = try TestDataSet.manifest(of: server.root)
            #expect(mounted == original, "differences: \(mounted.differences(from: original))")
            try Shell.run(["bash", "-c", "head -c 3000000 /dev/urandom > \(Shell.quote(mount.path("upload.bin")))"],
                          timeout: .seconds(60)).check()
            let back = try Shell.run(["sha256sum", mount.path("upload.bin")], timeout: .seconds(60)).check()
            #expect(back.stdout.prefix(64) == (try TestDataSet.sha256(ofFile: server.path("upload.bin"))))
            try Shell.run(["rm", mount.path("upload.bin")], timeout: .seconds(30)).check()
        }
    }

    func dataSet() throws -> String {
        let root = try TestDirectory.make("modes")
        try TestDataSet.generate(at: root, bigFileSize: 4_000_000)
        return root
    }

    @Test(arguments: [StandardServer.pyftpdlib, .vsftpd])
    func activeMode(_ kind: StandardServer) throws {
        try TestRequirements.require(.fuse, kind.requirement)
        let root = try dataSet()
        defer { TestDirectory.cleanUp(root) }
        let server = try kind.start(root: root)
        defer { server.stop() }
        try exercise(server, options: ["active"])
        let commands = server.receivedCommands()
        #expect(commands.contains { $0.hasPrefix("EPRT") }, "\(commands.suffix(20))")
        #expect(!commands.contains { $0.hasPrefix("EPSV") || $0.hasPrefix("PASV") })
    }

    @Test func activeModeFallsBackToPORTWithoutEPRT() throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let root = try dataSet()
        defer { TestDirectory.cleanUp(root) }
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard], quirks: ["without=EPRT"])
        defer { server.stop() }
        try exercise(server, options: ["active"])
        #expect(server.receivedCommands().filter { $0.hasPrefix("EPRT") }.count == 1, "EPRT is tried once")
        #expect(server.receivedCommands().contains { $0.hasPrefix("PORT 127,0,0,1,") })
    }

    @Test func passiveModeFallsBackToPASVWithoutEPSV() throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let root = try dataSet()
        defer { TestDirectory.cleanUp(root) }
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard], quirks: ["without=EPSV"])
        defer { server.stop() }
        try exercise(server, options: [])
        #expect(server.receivedCommands().filter { $0.hasPrefix("EPSV") }.count == 1, "EPSV is tried once")
        #expect(server.receivedCommands().contains("PASV"))
    }

    @Test func disableEPSVSendsPASVOnly() throws {
        try TestRequirements.require(.fuse, .vsftpd)
        let root = try dataSet()
        defer { TestDirectory.cleanUp(root) }
        let server = try StandardServer.vsftpd.start(root: root)
        defer { server.stop() }
        try exercise(server, options: ["disable_epsv"])
        #expect(!server.receivedCommands().contains { $0.hasPrefix("EPSV") })
        #expect(server.receivedCommands().contains("PASV"))
    }

    @Test(arguments: [StandardServer.pyftpdlib, .vsftpd], [false, true])
    func ipv6(_ kind: StandardServer, active: Bool) throws {
        try TestRequirements.require(.fuse, kind.requirement, .ipv6)
        let root = try dataSet()
        defer { TestDirectory.cleanUp(root) }
        let server = kind == .vsftpd ? try FTPTestServer.startVsftpd(root: root, localUser: true, ipv6: true)
            : try FTPTestServer.startPyftpdlib(root: root, users: [.standard], ipv6: true)
        defer { server.stop() }
        #expect(server.url().contains("[::1]"))
        try exercise(server, options: active ? ["active"] : [])
        let commands = server.receivedCommands()
        #expect(commands.contains { $0.hasPrefix(active ? "EPRT |2|::1|" : "EPSV") }, "\(commands.suffix(20))")
    }
}
