@testable import FTPClient
import FTPProtocol
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport

/// FTPS servers for the client tests: one of each kind per mode (explicit, implicit), serving the
/// standard data set with the test CA's certificate; pyftpdlib servers with the certificates
/// that fail verification; and plain servers for `tls=try` and `tls=required`.
enum TLSFixture {
    static func certificates() throws -> TestCertificates {
        try TestRequirements.require(.openssl)
        return try TestCertificates.shared()
    }

    private static func shared(_ kind: TLSServerKind, implicit: Bool) -> SharedTestServer {
        SharedTestServer {
            let root = try TestDirectory.make("tls-client-\(kind)\(implicit ? "-implicit" : "")")
            try TestDataSet.generate(at: root)
            return try kind.start(root: root, tls: TestServerTLS(certificate: certificates().server, implicit: implicit))
        }
    }

    static let explicitServers: [TLSServerKind: SharedTestServer] = Dictionary(
        uniqueKeysWithValues: TLSServerKind.allCases.map { ($0, shared($0, implicit: false)) })
    static let implicitServers: [TLSServerKind: SharedTestServer] = Dictionary(
        uniqueKeysWithValues: TLSServerKind.allCases.map { ($0, shared($0, implicit: true)) })

    static func server(_ kind: TLSServerKind, implicit: Bool = false) throws -> FTPTestServer {
        try TestRequirements.require(kind.requirements)
        return try (implicit ? implicitServers : explicitServers)[kind]!.get()
    }

    /// pyftpdlib with one of the test certificates, by name.
    private static func pyftpdlib(_ pick: @escaping @Sendable (TestCertificates) -> TestCertificate) -> SharedTestServer {
        SharedTestServer {
            let root = try TestDirectory.make("tls-cert")
            try TestDataSet.generate(at: root)
            return try .startPyftpdlib(root: root, tls: TestServerTLS(certificate: pick(certificates())))
        }
    }

    static let selfSigned = pyftpdlib(\.selfSigned)
    static let expired = pyftpdlib(\.expired)
    static let wrongName = pyftpdlib(\.wrongName)

    static func certificateServer(_ server: SharedTestServer) throws -> FTPTestServer {
        try TestRequirements.require(TLSServerKind.pyftpdlib.requirements)
        return try server.get()
    }

    /// Servers without TLS, for these tests only (their command logs must not mix with other
    /// suites' logins).
    static let plainPyftpdlib = SharedTestServer {
        let root = try TestDirectory.make("tls-plain-pyftpdlib")
        try TestDataSet.generate(at: root)
        return try .startPyftpdlib(root: root)
    }
    static let plainVsftpd = SharedTestServer {
        let root = try TestDirectory.make("tls-plain-vsftpd")
        try TestDataSet.generate(at: root)
        return try .startVsftpd(root: root, localUser: true)
    }

    static func configuration(_ server: FTPTestServer, mode: TLSConfiguration.Mode = .explicit,
                              verification: TLSConfiguration.Verification? = nil,
                              version: TLSConfiguration.Version? = nil, host: String? = nil) throws -> ClientConfiguration
    {
        var configuration = clientConfiguration(server)
        if let host { configuration.host = host }
        configuration.tls = TLSConfiguration(mode: mode, verification: try verification ?? .caFile(certificates().caPath),
                                             maximumVersion: version)
        return configuration
    }
}

/// Collects what a logger says, for tests of what the client tells the user.
final class LogCapture: Sendable {
    private let entries = Mutex<[(Logger.Level, String)]>([])

    var logger: Logger {
        var logger = Logger(label: "ftpfs.tests.capture") { _ in CaptureHandler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    func append(_ level: Logger.Level, _ message: String) {
        entries.withLock { $0.append((level, message)) }
    }

    func messages(atLeast level: Logger.Level) -> [String] {
        entries.withLock { $0.filter { $0.0 >= level }.map(\.1) }
    }

    struct CaptureHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        var metadataProvider: Logger.MetadataProvider?

        func log(event: LogEvent) {
            capture.append(event.level, event.message.description)
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
    }
}

extension TLSConfiguration.Version: CustomTestStringConvertible {
    public var testDescription: String { self == .tls12 ? "TLS 1.2" : "TLS 1.3" }
}

/// Uploads `bytes` with STOR (or APPE) in 64 KiB writes.
func upload(_ bytes: [UInt8], to path: String, on session: FTPSession, append: Bool = false) throws {
    let transfer = try append ? session.append(path) : session.store(path)
    var offset = 0
    while offset < bytes.count {
        let end = min(offset + 65536, bytes.count)
        try bytes[offset..<end].withUnsafeBytes { raw in try transfer.write(raw) }
        offset = end
    }
    try transfer.finish()
}

func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        for offset in stride(from: 0, to: raw.count, by: 8) {
            withUnsafeBytes(of: generator.next() as UInt64) { word in
                raw.baseAddress!.advanced(by: offset).copyMemory(from: word.baseAddress!, byteCount: min(8, raw.count - offset))
            }
        }
    }
    return bytes
}

@Suite(.serialized, .enabled(if: TestRequirements.canRun(.openssl, .pyftpdlibTLS, .vsftpd, .proftpd)))
struct TLSClientTests {
    // MARK: - Transfers over TLS, session reuse

    /// Listings, downloads, uploads and appends, several of each on one control connection:
    /// vsftpd and ProFTPD refuse any data connection that does not resume the control
    /// connection's session, so every transfer succeeding proves reuse, with TLS 1.2 and 1.3.
    @Test(arguments: TLSServerKind.allCases, [TLSConfiguration.Version.tls12, .tls13])
    func explicitTLSTransfersResumeTheControlSession(_ kind: TLSServerKind, _ version: TLSConfiguration.Version) throws {
        let server = try TLSFixture.server(kind)
        let session = try FTPSession.connect(configuration: TLSFixture.configuration(server, version: version),
                                             logger: testLogger)
        defer { session.quit() }
        #expect(session.isTLSProtected)
        let expectedVersion = version == .tls12 ? "TLSv1.2" : "TLSv1.3"
        #expect(session.tlsDescription?.hasPrefix(expectedVersion) == true, "\(session.tlsDescription ?? "no TLS")")
        try exerciseDataConnections(session, server: server, name: "explicit-\(version == .tls12 ? 12 : 13)")
        let commands = server.receivedCommands()
        #expect(commands.contains("AUTH TLS"))
        #expect(commands.contains("PBSZ 0"))
        #expect(commands.contains("PROT P"))
        // USER and PASS came after AUTH TLS.
        let auth = commands.firstIndex(of: "AUTH TLS")
        let user = commands.firstIndex { $0.hasPrefix("USER") }
        #expect(auth != nil && user != nil && auth! < user!, "\(commands)")
    }

    @Test(arguments: TLSServerKind.allCases)
    func implicitTLSTransfersResumeTheControlSession(_ kind: TLSServerKind) throws {
        let server = try TLSFixture.server(kind, implicit: true)
        let session = try FTPSession.connect(configuration: TLSFixture.configuration(server, mode: .implicit),
                                             logger: testLogger)
        defer { session.quit() }
        #expect(session.isTLSProtected)
        try exerciseDataConnections(session, server: server, name: "implicit")
        #expect(!server.receivedCommands().contains("AUTH TLS"))
    }

    private func exerciseDataConnections(_ session: FTPSession, server: FTPTestServer, name: String) throws {
        let hello = "/" + TestDataSet.helloFileName
        for _ in 0..<3 {
            let listing = try session.list(directory: "/")
            #expect(listing.entries.contains { $0.name == TestDataSet.helloFileName })
            #expect(String(decoding: try readAll(session.retrieve(hello)), as: UTF8.self) == TestDataSet.helloContent)
        }
        let path = "/tls-\(name)-\(UInt32.random(in: 0...UInt32.max)).bin"
        let payload = randomBytes(3 * 1024 * 1024 + 17)
        try upload(payload, to: path, on: session)
        #expect(try diskBytes(server.path(path)) == payload)
        let tail = randomBytes(1000)
        try upload(tail, to: path, on: session, append: true)
        #expect(try diskBytes(server.path(path)) == payload + tail)
        // A download right after the uploads (the session a TLS 1.3 upload leaves behind).
        #expect(try readAll(session.retrieve(path)) == payload + tail)
        // A partial read then an abort, and the session still works.
        let partial = try session.retrieve(path)
        #expect(try read(100_000, from: partial) == Array(payload[0..<100_000]))
        partial.abort()
        if session.isUsable {
            #expect(try readAll(session.retrieve(hello)).count == TestDataSet.helloContent.utf8.count)
        }
        try session.delete(path)
    }

    /// The negative control: a client that does not resume the session is refused by vsftpd and
    /// ProFTPD, and the error says what the server said.
    @Test(arguments: TLSServerKind.allCases.filter(\.requiresSessionReuse))
    func serversRefuseDataConnectionsThatDoNotResume(_ kind: TLSServerKind) throws {
        let server = try TLSFixture.server(kind)
        var configuration = try TLSFixture.configuration(server)
        configuration.tls?.resumesSessions = false
        let session = try FTPSession.connect(configuration: configuration, logger: testLogger)
        defer { session.close() }
        #expect {
            _ = try readAll(session.retrieve("/" + TestDataSet.helloFileName))
        } throws: { error in
            let text = "\(error)"
            return kind == .vsftpd ? text.contains("session reuse required") : text.contains("425")
        }
    }

    // MARK: - Verification

    @Test func aSelfSignedCertificateIsRefusedWithItsFingerprint() throws {
        let server = try TLSFixture.certificateServer(TLSFixture.selfSigned)
        let certificates = try TLSFixture.certificates()
        let error = try #require(throws: FTPError.self) {
            _ = try FTPSession.connect(configuration: TLSFixture.configuration(server, verification: .system),
                                       logger: testLogger)
        }
        let text = "\(error)"
        #expect(text.contains("self-signed"), "\(text)")
        #expect(text.contains("-o tls_fingerprint=\(certificates.selfSigned.fingerprint)"), "\(text)")
        #expect(text.contains("-o cafile="), "\(text)")
        guard case .tls = error else { Issue.record("not a TLS error: \(error)"); return }
        // Nothing was sent after the failed handshake: no USER, no PASS.
        #expect(!server.receivedCommands().contains { $0.hasPrefix("USER") || $0.hasPrefix("PASS") })
    }

    @Test func aCertificateFromAnUnknownCAIsRefused() throws {
        let server = try TLSFixture.server(.pyftpdlib)
        let error = try #require(throws: FTPError.self) {
            _ = try FTPSession.connect(configuration: TLSFixture.configuration(server, verification: .system),
                                       logger: testLogger)
        }
        let text = "\(error)"
        #expect(text.contains("issued by a CA that this system's CA store does not know"), "\(text)")
        #expect(text.contains("unable to get local issuer certificate"), "\(text)")
        #expect(text.contains("-o tls_fingerprint=\(try TLSFixture.certificates().server.fingerprint)"), "\(text)")
        #expect(text.contains("-o cafile=FILE"), "\(text)")
    }

    @Test func anExpiredCertificateIsRefused() throws {
        let server = try TLSFixture.certificateServer(TLSFixture.expired)
        let error = try #require(throws: FTPError.self) {
            _ = try FTPSession.connect(configuration: TLSFixture.configuration(server), logger: testLogger)
        }
        let text = "\(error)"
        #expect(text.contains("the server's certificate has expired"), "\(text)")
        #expect(text.contains("Jan  2 00:00:00 2020 GMT"), "\(text)")
        #expect(text.contains("-o tls_fingerprint=\(try TLSFixture.certificates().expired.fingerprint)"), "\(text)")
    }

    @Test func aCertificateForAnotherNameIsRefused() throws {
        let server = try TLSFixture.certificateServer(TLSFixture.wrongName)
        let error = try #require(throws: FTPError.self) {
            _ = try FTPSession.connect(configuration: TLSFixture.configuration(server), logger: testLogger)
        }
        let text = "\(error)"
        #expect(text.contains("not valid for '127.0.0.1'"), "\(text)")
        #expect(text.contains("DNS:wrong.example"), "\(text)")
        #expect(text.contains("-o tls_fingerprint=\(try TLSFixture.certificates().wrongName.fingerprint)"), "\(text)")
    }

    @Test func theHostNameIsCheckedAgainstDNSNamesToo() throws {
        let server = try TLSFixture.server(.pyftpdlib)
        // "localhost" is in the certificate (and is sent as SNI).
        let session = try FTPSession.connect(configuration: TLSFixture.configuration(server, host: "localhost"),
                                             logger: testLogger)
        defer { session.quit() }
        #expect(try session.list(directory: "/").entries.isEmpty == false)
        // The wrong-name certificate does not name localhost either.
        let wrong = try TLSFixture.certificateServer(TLSFixture.wrongName)
        #expect(throws: FTPError.self) {
            _ = try FTPSession.connect(configuration: TLSFixture.configuration(wrong, host: "localhost"),
                                       logger: testLogger)
        }
    }

    @Test func aPinnedFingerprintAcceptsASelfSignedServer() throws {
        let server = try TLSFixture.certificateServer(TLSFixture.selfSigned)
        let pin = try TLSFixture.certificates().selfSigned.fingerprint
        let bytes = try #require(fingerprintBytes(pin))
        let session = try FTPSession.connect(
            configuration: TLSFixture.configuration(server, verification: .pinned(sha256: bytes)), logger: testLogger)
        defer { session.quit() }
        #expect(String(decoding: try readAll(session.retrieve("/" + TestDataSet.helloFileName)), as: UTF8.self)
            == TestDataSet.helloContent)
    }

    @Test func aWrongPinIsRefusedWithTheActualFingerprint() throws {
        let server = try TLSFixture.certificateServer(TLSFixture.selfSigned)
        let certificates = try TLSFixture.certificates()
        let wrongPin = try #require(fingerprintBytes(certificates.server.fingerprint))
        let error = try #require(throws: FTPError.self) {
            _ = try FTPSession.connect(
                configuration: TLSFixture.configuration(server, verification: .pinned(sha256: wrongPin)),
                logger: testLogger)
        }
        let text = "\(error)"
        #expect(text.contains("does not match -o tls_fingerprint=\(certificates.server.fingerprint)"), "\(text)")
        #expect(text.contains("presented \(certificates.selfSigned.fingerprint)"), "\(text)")
    }

    @Test func aCAFileAcceptsTheServerItSigned() throws {
        let server = try TLSFixture.server(.pyftpdlib)
        let session = try FTPSession.connect(configuration: TLSFixture.configuration(server), logger: testLogger)
        defer { session.quit() }
        #expect(session.isTLSProtected)
        // And a CA file that does not exist says so.
        let error = try #require(throws: FTPError.self) {
            _ = try FTPSession.connect(
                configuration: TLSFixture.configuration(server, verification: .caFile("/nonexistent/ca.pem")),
                logger: testLogger)
        }
        #expect("\(error)".contains("cannot read the CA file /nonexistent/ca.pem"), "\(error)")
    }

    @Test func tlsInsecureConnectsAndWarns() throws {
        let server = try TLSFixture.certificateServer(TLSFixture.selfSigned)
        let capture = LogCapture()
        let session = try FTPSession.connect(configuration: TLSFixture.configuration(server, verification: .insecure),
                                             logger: capture.logger)
        defer { session.quit() }
        #expect(session.isTLSProtected)
        #expect(capture.messages(atLeast: .warning).contains { $0.contains("tls_insecure") })
    }

    // MARK: - tls=try and tls=required against servers without TLS

    @Test func tlsRequiredNeverSendsThePasswordToAPlainServer() throws {
        try TestRequirements.require(.pyftpdlib, .openssl)
        let server = try TLSFixture.plainPyftpdlib.get()
        let before = server.receivedCommands().count
        let error = try #require(throws: FTPError.self) {
            _ = try FTPSession.connect(configuration: TLSFixture.configuration(server, mode: .explicit),
                                       logger: testLogger)
        }
        guard case .tls(let text) = error else { Issue.record("not a TLS error: \(error)"); return }
        #expect(text.contains("does not offer TLS"), "\(text)")
        #expect(text.contains("the password was not sent"), "\(text)")
        let commands = Array(server.receivedCommands().dropFirst(before))
        #expect(commands.contains("AUTH TLS"), "\(commands)")
        #expect(!commands.contains { $0.hasPrefix("USER") || $0.hasPrefix("PASS") }, "\(commands)")
    }

    @Test func tlsRequiredAgainstPlainVsftpd() throws {
        try TestRequirements.require(.vsftpd, .openssl)
        let server = try TLSFixture.plainVsftpd.get()
        let before = server.receivedCommands().count
        #expect {
            _ = try FTPSession.connect(configuration: TLSFixture.configuration(server, mode: .explicit),
                                       logger: testLogger)
        } throws: { error in
            guard case FTPError.tls(let text) = error else { return false }
            return text.contains("does not offer TLS")
        }
        let commands = Array(server.receivedCommands().dropFirst(before))
        #expect(commands.contains("AUTH TLS"), "\(commands)")
        #expect(!commands.contains { $0.hasPrefix("USER") || $0.hasPrefix("PASS") }, "\(commands)")
    }

    @Test func tlsTryFallsBackToPlainFTPAndSaysSo() throws {
        try TestRequirements.require(.pyftpdlib, .openssl)
        let server = try TLSFixture.plainPyftpdlib.get()
        let capture = LogCapture()
        var configuration = try TLSFixture.configuration(server, mode: .explicitIfAvailable)
        let session = try FTPSession.connect(configuration: configuration, logger: capture.logger)
        defer { session.quit() }
        #expect(!session.isTLSProtected)
        #expect(try session.list(directory: "/").entries.isEmpty == false)
        let notices = capture.messages(atLeast: .notice)
        #expect(notices.contains { $0.contains("does not offer TLS") && $0.contains("tls=try") }, "\(notices)")
        // A second connection of the same configuration says it only at debug level.
        configuration.host = server.host
        let second = try FTPSession.connect(configuration: configuration, logger: capture.logger)
        second.quit()
        #expect(capture.messages(atLeast: .notice).count == notices.count)
    }

    @Test func tlsTryUsesTLSWhenOffered() throws {
        let server = try TLSFixture.server(.vsftpd)
        let session = try FTPSession.connect(configuration: TLSFixture.configuration(server, mode: .explicitIfAvailable),
                                             logger: testLogger)
        defer { session.quit() }
        #expect(session.isTLSProtected)
        #expect(try session.list(directory: "/").entries.isEmpty == false)
    }

    @Test func implicitTLSAgainstAnExplicitPortSaysWhatIsWrong() throws {
        let server = try TLSFixture.server(.pyftpdlib)
        let error = try #require(throws: FTPError.self) {
            _ = try FTPSession.connect(configuration: TLSFixture.configuration(server, mode: .implicit),
                                       logger: testLogger)
        }
        #expect("\(error)".contains("does not speak TLS on this port") || "\(error)".contains("timed out"), "\(error)")
    }

    // MARK: - The pool

    /// Connections the pool opens later, and those that replace dropped ones, use TLS too.
    @Test(arguments: [TLSServerKind.vsftpd, .proftpd])
    func poolReconnectsKeepTLS(_ kind: TLSServerKind) throws {
        let server = try TLSFixture.server(kind)
        let pool = ConnectionPool(configuration: try TLSFixture.configuration(server), maxConnections: 2,
                                  logger: testLogger)
        try pool.start()
        defer { pool.shutdown() }
        let first = try pool.checkout()
        let second = try pool.checkout()
        #expect(first.isTLSProtected && second.isTLSProtected)
        first.close()  // as if the server had dropped it
        pool.checkin(first)
        pool.checkin(second)
        for _ in 0..<3 {
            let listing = try pool.withSession { session throws(FTPError) in
                #expect(session.isTLSProtected)
                return try session.list(directory: "/")
            }
            #expect(!listing.entries.isEmpty)
        }
    }
}

/// The 32 bytes of a `SHA256:AB:CD:…` fingerprint.
func fingerprintBytes(_ text: String) -> [UInt8]? {
    let hex = text.dropFirst("SHA256:".count).split(separator: ":")
    let bytes = hex.compactMap { UInt8($0, radix: 16) }
    return bytes.count == 32 ? bytes : nil
}

/// Servers forget TLS sessions (OpenSSL's cache expires them after 300 s by default) and a
/// TLS 1.2 session is never renewed: a long-lived control connection then has a session no
/// data connection can resume. The pool replaces it and the operation goes through.
@Suite(.enabled(if: TestRequirements.canRun(.openssl, .proftpd)))
struct TLSSessionExpiryTests {
    @Test func aSessionTheServerForgotIsReplaced() throws {
        try TestRequirements.require(TLSServerKind.proftpd.requirements)
        let certificates = try TLSFixture.certificates()
        let root = try TestDirectory.make("tls-expiry")
        try TestDataSet.generate(at: root)
        let server = try FTPTestServer.startProFTPD(
            root: root, tls: TestServerTLS(certificate: certificates.server),
            extraConfig: ["<IfModule mod_tls.c>", "  TLSSessionCache internal: 2", "</IfModule>"])
        defer { server.stop() }
        let pool = ConnectionPool(configuration: try TLSFixture.configuration(server, version: .tls12),
                                  maxConnections: 1, logger: testLogger)
        try pool.start()
        defer { pool.shutdown() }
        let list = { () throws(FTPError) -> DirectoryListing in
            try pool.withSession { session throws(FTPError) in try session.list(directory: "/") }
        }
        #expect(try !list().entries.isEmpty)
        Thread.sleep(forTimeInterval: 3)
        #expect(try !list().entries.isEmpty)
        #expect(server.proftpdTLSLog().contains("did not reuse"), "the server did forget the session")
    }
}
