import FTPClient
import FTPProtocol
import Foundation
import Testing
import TestSupport

/// Aborting a download must leave the control connection in step, whatever the server sends.
@Suite(.enabled(if: TestRequirements.canRun(.pyftpdlib)))
struct AbortTests {
    @Test func staleRepliesAfterAnAbortAreNotTakenForTheNextCommand() throws {
        try TestRequirements.require(.pyftpdlib)
        let root = try TestDirectory.make("abort")
        defer { TestDirectory.cleanUp(root) }
        try TestDataSet.writeRandomFile(at: root + "/big.bin", size: 20_000_000)
        try "seven!\n".write(toFile: root + "/seven.txt", atomically: true, encoding: .utf8)
        // The server answers an aborted download with 426 and then a stale 226.
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard], quirks: ["abort-extra-reply"])
        defer { server.stop() }
        let session = try FTPSession.connect(configuration: clientConfiguration(server), logger: testLogger)
        defer { session.quit() }
        for offset: UInt64 in [0, 5_000_000, 19_000_000] {
            let transfer = try session.retrieve("/big.bin", from: offset)
            #expect(try read(10_000, from: transfer).count == 10_000)
            #expect(transfer.abort())
            // Each command gets its own reply: SIZE's 213, not the leftover 226.
            #expect(try session.size(of: "/seven.txt") == 7)
            #expect(try session.list(directory: "/").entries.map(\.name).sorted() == ["big.bin", "seven.txt"])
        }
        #expect(server.log().contains("a second, stale reply"))
    }
}
