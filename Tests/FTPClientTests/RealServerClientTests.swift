import FTPClient
import FTPProtocol
import Foundation
import Logging
import Testing
import TestSupport

/// The client against real servers on loopback: pyftpdlib (MLSD) and vsftpd (LIST only).
/// One server of each kind, serving the standard data set, shared by the tests here.
enum SharedServers {
    static let pyftpdlib = shared(.pyftpdlib)
    static let vsftpd = shared(.vsftpd)

    private static func shared(_ kind: StandardServer) -> SharedTestServer {
        SharedTestServer {
            let root = try TestDirectory.make("client-\(kind)")
            try TestDataSet.generate(at: root)
            return try kind.start(root: root)
        }
    }
}

extension StandardServer {
    func server() throws -> FTPTestServer {
        try TestRequirements.require(requirement)
        return try (self == .pyftpdlib ? SharedServers.pyftpdlib : SharedServers.vsftpd).get()
    }
}

func clientConfiguration(_ server: FTPTestServer, password: String? = nil,
                         disableEPSV: Bool = false) -> ClientConfiguration
{
    ClientConfiguration(host: server.host, port: UInt16(server.port), user: server.username ?? "anonymous",
                        password: Secret(password ?? server.password ?? "anonymous@"), connectTimeout: 5,
                        timeout: 10, disableEPSV: disableEPSV)
}

let testLogger = Logger(label: "ftpfs.tests")

/// Reads a transfer to its end.
func readAll(_ transfer: DataTransfer) throws(FTPError) -> [UInt8] {
    var result: [UInt8] = []
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 32 * 1024, alignment: 1)
    defer { chunk.deallocate() }
    while true {
        let count = try transfer.read(into: chunk)
        if count == 0 { return result }
        result += chunk[0..<count]
    }
}

/// Reads exactly `count` bytes (or up to the end) from a transfer.
func read(_ count: Int, from transfer: DataTransfer) throws(FTPError) -> [UInt8] {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
    defer { buffer.deallocate() }
    var filled = 0
    while filled < count {
        let got = try transfer.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
        if got == 0 { break }
        filled += got
    }
    return Array(buffer[0..<filled])
}

func diskBytes(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

@Suite(.enabled(if: TestRequirements.canRun(.pyftpdlib, .vsftpd)))
struct RealServerClientTests {
    @Test(arguments: StandardServer.allCases)
    func loginReportsTheHomeDirectoryAndFeatures(_ kind: StandardServer) throws {
        let server = try kind.server()
        let session = try FTPSession.connect(configuration: clientConfiguration(server), logger: testLogger)
        defer { session.quit() }
        #expect(session.homeDirectory == "/")
        #expect(session.features.supportsSIZE)
        #expect(session.features.supportsMLST == (kind == .pyftpdlib))
    }

    @Test(arguments: StandardServer.allCases)
    func listingMatchesTheServersDirectory(_ kind: StandardServer) throws {
        let server = try kind.server()
        let session = try FTPSession.connect(configuration: clientConfiguration(server), logger: testLogger)
        defer { session.quit() }
        for directory in ["", "a dir", "\u{7248}\u{672C}", "dir1/dir2", "empty dir", "sizes"] {
            let listing = try session.list(directory: "/" + directory)
            let onDisk = try FileManager.default.contentsOfDirectory(atPath: server.path(directory))
            // `LIST -a` makes vsftpd show dotfiles too.
            #expect(Set(listing.entries.map(\.name)) == Set(onDisk), "listing of /\(directory)")
            #expect(!listing.isTruncated)
            for entry in listing.entries {
                let attributes = try FileManager.default.attributesOfItem(atPath: server.path(directory + "/" + entry.name))
                let isDirectory = attributes[.type] as? FileAttributeType == .typeDirectory
                #expect(entry.kind == (isDirectory ? .directory : .file), "kind of \(entry.name)")
                if !isDirectory {
                    #expect(entry.size == (attributes[.size] as? NSNumber)?.uint64Value, "size of \(entry.name)")
                }
                let diskTime = Int64((attributes[.modificationDate] as! Date).timeIntervalSince1970)
                let listed = try #require(entry.modified, "mtime of \(entry.name)")
                // MLSD gives seconds; a recent LIST date gives minutes.
                #expect(abs(listed.seconds - diskTime) < (kind == .pyftpdlib ? 2 : 61), "mtime of \(entry.name)")
            }
        }
    }

    @Test(arguments: StandardServer.allCases)
    func sizeAndModificationTime(_ kind: StandardServer) throws {
        let server = try kind.server()
        let session = try FTPSession.connect(configuration: clientConfiguration(server), logger: testLogger)
        defer { session.quit() }
        #expect(try session.size(of: "/hello.txt") == UInt64(TestDataSet.helloContent.utf8.count))
        #expect(try session.size(of: "/sizes/204800.bin") == 204_800)
        let attributes = try FileManager.default.attributesOfItem(atPath: server.path("hello.txt"))
        let diskTime = Int64((attributes[.modificationDate] as! Date).timeIntervalSince1970)
        #expect(abs(try session.modificationTime(of: "/hello.txt").seconds - diskTime) <= 1)
        let missing = #expect(throws: FTPError.self) { try session.size(of: "/no such file") }
        #expect(missing?.replyCode == .fileUnavailable)
        // The session stays usable after a refused command.
        #expect(try session.size(of: "/empty.txt") == 0)
    }

    @Test(arguments: StandardServer.allCases)
    func rangedRetrieveThenAbortLeavesTheSessionInStep(_ kind: StandardServer) throws {
        let server = try kind.server()
        let expected = try diskBytes(server.path("sizes/204800.bin"))
        let session = try FTPSession.connect(configuration: clientConfiguration(server), logger: testLogger)
        defer { session.quit() }
        for offset in [0, 1, 100_000, 204_799] {
            let transfer = try session.retrieve("/sizes/204800.bin", from: UInt64(offset))
            let bytes = try read(1000, from: transfer)
            #expect(bytes == Array(expected[offset..<min(offset + 1000, expected.count)]), "bytes at \(offset)")
            #expect(transfer.abort(), "abort at \(offset) should leave the session usable")
            #expect(session.isUsable)
            // The next command gets its own reply, not a leftover of the transfer.
            #expect(try session.size(of: "/hello.txt") == UInt64(TestDataSet.helloContent.utf8.count))
        }
        let whole = try session.retrieve("/sizes/204800.bin")
        #expect(try readAll(whole) == expected)
        #expect(whole.isFinished)
    }

    @Test(arguments: StandardServer.allCases)
    func passiveModeWithoutEPSV(_ kind: StandardServer) throws {
        let server = try kind.server()
        let session = try FTPSession.connect(configuration: clientConfiguration(server, disableEPSV: true),
                                             logger: testLogger)
        defer { session.quit() }
        let transfer = try session.retrieve("/" + TestDataSet.helloFileName)
        #expect(String(decoding: try readAll(transfer), as: UTF8.self) == TestDataSet.helloContent)
        #expect(server.receivedCommands().contains("PASV"))
    }

    @Test(arguments: StandardServer.allCases)
    func aWrongPasswordIsALoginFailureWithTheServersText(_ kind: StandardServer) throws {
        let server = try kind.server()
        let error = #expect(throws: FTPError.self) {
            _ = try FTPSession.connect(configuration: clientConfiguration(server, password: "wrong"), logger: testLogger)
        }
        guard case .loginFailed(let reply) = error else {
            Issue.record("expected a login failure, got \(String(describing: error))")
            return
        }
        #expect(reply.code == .notLoggedIn)
        #expect(!reply.text.isEmpty)
        #expect(!"\(error!)".contains("wrong"), "the password must not appear in the error")
    }

    @Test(arguments: StandardServer.allCases)
    func thePoolServesParallelOperationsWithinItsCap(_ kind: StandardServer) throws {
        let server = try kind.server()
        let pool = ConnectionPool(configuration: clientConfiguration(server), maxConnections: 3, logger: testLogger)
        try pool.start()
        defer { pool.shutdown() }
        let expected = try diskBytes(server.path("sizes/100000.bin"))
        let results = runConcurrently(count: 8) { _ in
            try pool.withSession { (session) throws(FTPError) in try readAll(session.retrieve("/sizes/100000.bin")) }
        }
        for result in results {
            #expect((try? result.get()) == expected)
        }
        #expect(pool.counts.open <= 3)
        #expect(pool.counts.open >= 1)
    }

    @Test func machineListingOfOnePath() throws {
        let server = try StandardServer.pyftpdlib.server()
        let session = try FTPSession.connect(configuration: clientConfiguration(server), logger: testLogger)
        defer { session.quit() }
        let file = try session.machineListing(of: "/sizes/4097.bin")
        #expect(file.name == "4097.bin")
        #expect(file.kind == .file)
        #expect(file.size == 4097)
        let directory = try session.machineListing(of: "/dir1")
        #expect(directory.kind == .directory)
        #expect(throws: FTPError.self) { try session.machineListing(of: "/missing") }
    }

    @Test func anUnreachablePortIsRefusedAndAnUnknownHostNotFound() {
        let refused = #expect(throws: FTPError.self) {
            _ = try FTPSession.connect(configuration: ClientConfiguration(host: "127.0.0.1", port: 1, connectTimeout: 2),
                                       logger: testLogger)
        }
        guard case .connectionRefused = refused else {
            Issue.record("expected connectionRefused, got \(String(describing: refused))")
            return
        }
        let unknown = #expect(throws: FTPError.self) {
            _ = try FTPSession.connect(configuration: ClientConfiguration(host: "no-such-host.invalid", connectTimeout: 2),
                                       logger: testLogger)
        }
        guard case .hostNotFound = unknown else {
            Issue.record("expected hostNotFound, got \(String(describing: unknown))")
            return
        }
    }
}

/// Runs `body` on `count` threads at once (blocking I/O does not belong on Swift's cooperative
/// pool) and returns each result.
func runConcurrently<T: Sendable>(count: Int, _ body: @escaping @Sendable (Int) throws -> T) -> [Result<T, any Error>] {
    let results = ResultBox<T>(count: count)
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        Thread.detachNewThread {
            results.set(index, Result { try body(index) })
            group.leave()
        }
    }
    group.wait()
    return results.all
}

final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Result<T, any Error>?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Result<T, any Error>) { lock.withLock { values[index] = value } }
    var all: [Result<T, any Error>] { lock.withLock { values.map { $0! } } }
}
