import Foundation
import Synchronization
import Testing
import TestSupport

/// FTPS through the kernel: the ftpfs binary mounts pyftpdlib with TLS, vsftpd with
/// `ssl_enable=YES` (and its default `require_ssl_reuse=YES`), ProFTPD with mod_tls in its
/// default setting (session reuse required), and vsftpd with implicit TLS; reads and writes a
/// 100 MiB file with sha256 checked both ways and lists a tree. Plus what users see when the
/// certificate cannot be trusted, and `tls=required` / `tls=try` against a server without TLS.
enum TLSMountFixture {
    static let bigFileSize = 100 * 1024 * 1024

    static func certificates() throws -> TestCertificates {
        try TestRequirements.require(.openssl)
        return try TestCertificates.shared()
    }

    private static func shared(_ kind: TLSServerKind, implicit: Bool = false) -> SharedTestServer {
        SharedTestServer {
            let root = try TestDirectory.make("tls-mount-\(kind)")
            try TestDataSet.generate(at: root, bigFileSize: bigFileSize)
            return try kind.start(root: root, tls: TestServerTLS(certificate: certificates().server, implicit: implicit))
        }
    }

    static let explicitServers: [TLSServerKind: SharedTestServer] = Dictionary(
        uniqueKeysWithValues: TLSServerKind.allCases.map { ($0, shared($0)) })
    static let implicitVsftpd = shared(.vsftpd, implicit: true)

    static func server(_ kind: TLSServerKind, implicit: Bool = false) throws -> FTPTestServer {
        try TestRequirements.require(kind.requirements + [.fuse])
        return try implicit ? implicitVsftpd.get() : explicitServers[kind]!.get()
    }

    /// pyftpdlib with the self-signed certificate.
    static let selfSigned = SharedTestServer {
        let root = try TestDirectory.make("tls-mount-self-signed")
        try TestDataSet.generate(at: root)
        return try .startPyftpdlib(root: root, tls: TestServerTLS(certificate: certificates().selfSigned))
    }

    static func selfSignedServer() throws -> FTPTestServer {
        try TestRequirements.require(TLSServerKind.pyftpdlib.requirements + [.fuse])
        return try selfSigned.get()
    }

    /// pyftpdlib without TLS.
    static let plain = SharedTestServer {
        let root = try TestDirectory.make("tls-mount-plain")
        try TestDataSet.generate(at: root)
        return try .startPyftpdlib(root: root)
    }

    static func plainServer() throws -> FTPTestServer {
        try TestRequirements.require(.pyftpdlib, .fuse)
        return try plain.get()
    }

    /// A local 100 MiB file to upload, made once.
    static func upload() throws -> (path: String, sha256: String) {
        try uploadSource.withLock { made in
            if let made { return made }
            let directory = try TestDirectory.make("tls-upload-source")
            let path = directory + "/upload.bin"
            try TestDataSet.writeRandomFile(at: path, size: bigFileSize)
            let source = (path: path, sha256: try TestDataSet.sha256(ofFile: path))
            made = source
            return source
        }
    }

    private static let uploadSource = Mutex<(path: String, sha256: String)?>(nil)
}

@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .openssl, .pyftpdlibTLS, .vsftpd, .proftpd)))
struct TLSMountTests {
    // MARK: - 100 MiB both ways, and a tree

    @Test(arguments: TLSServerKind.allCases)
    func explicitTLSReadsWritesAndLists(_ kind: TLSServerKind) throws {
        let server = try TLSMountFixture.server(kind)
        try readWriteAndList(server, url: server.tlsURL(), name: "explicit")
    }

    @Test func implicitTLSReadsWritesAndLists() throws {
        let server = try TLSMountFixture.server(.vsftpd, implicit: true)
        try readWriteAndList(server, url: server.tlsURL(implicit: true), name: "implicit")
    }

    private func readWriteAndList(_ server: FTPTestServer, url: String, name: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) throws {
        let certificates = try TLSMountFixture.certificates()
        let upload = try TLSMountFixture.upload()
        let original = try TestDataSet.sha256(ofFile: server.path(TestDataSet.bigFileName))
        try TestMount.withMount(url: url, options: ["cafile=" + certificates.caPath], timeout: .seconds(60)) { mount in
            // The tree: ls -lR names everything, and find sees what the server's disk has.
            let listing = try Shell.run(["ls", "-lR", mount.mountpoint], timeout: .seconds(120)).check()
            for entry in ["file with  spaces.txt", "\u{6587}\u{4EF6}.txt", "empty.txt", "deep.txt", TestDataSet.bigFileName] {
                #expect(listing.stdout.contains(entry), "ls -lR lacks \(entry)", sourceLocation: sourceLocation)
            }
            #expect(try treeShape(mount.mountpoint) == treeShape(server.root), sourceLocation: sourceLocation)

            // Read 100 MiB.
            let read = try TestDataSet.sha256(ofFile: mount.path(TestDataSet.bigFileName))
            #expect(read == original, "sha256 of \(TestDataSet.bigFileName) read through the mount", sourceLocation: sourceLocation)

            // Write 100 MiB, check it on the server's disk, and read it back.
            let directory = "tls-\(name)-upload"
            try Shell.run(["mkdir", mount.path(directory)], timeout: .seconds(30)).check()
            try Shell.run(["cp", upload.path, mount.path(directory + "/upload.bin")], timeout: .seconds(300)).check()
            #expect(try TestDataSet.sha256(ofFile: server.path(directory + "/upload.bin")) == upload.sha256,
                    "sha256 of the uploaded file on the server's disk", sourceLocation: sourceLocation)
            #expect(try TestDataSet.sha256(ofFile: mount.path(directory + "/upload.bin")) == upload.sha256,
                    "sha256 of the uploaded file read back through the mount", sourceLocation: sourceLocation)
            try Shell.run(["rm", "-r", mount.path(directory)], timeout: .seconds(60)).check()
            #expect(!FileManager.default.fileExists(atPath: server.path(directory)), sourceLocation: sourceLocation)
        }
    }

    // MARK: - Certificates users have to decide about

    @Test func aSelfSignedServerFailsTheMountWithAClearMessage() throws {
        let server = try TLSMountFixture.selfSignedServer()
        let fingerprint = try TLSMountFixture.certificates().selfSigned.fingerprint
        let result = try TestMount.run(expectingFailure: server.tlsURL())
        #expect(result.exitStatus == .exited(78), "\(result)")
        #expect(result.stderr.contains("certificate verification failed"), "\(result)")
        #expect(result.stderr.contains("self-signed"), "\(result)")
        #expect(result.stderr.contains("-o tls_fingerprint=\(fingerprint)"), "\(result)")
        #expect(result.stderr.contains("-o cafile="), "\(result)")
        #expect(!result.stderr.contains(server.password ?? "no password"), "the password leaked: \(result)")
        #expect(!server.receivedCommands().contains { $0.hasPrefix("PASS") })
    }

    @Test func aPinnedFingerprintMountsTheSelfSignedServer() throws {
        let server = try TLSMountFixture.selfSignedServer()
        let fingerprint = try TLSMountFixture.certificates().selfSigned.fingerprint
        try TestMount.withMount(url: server.tlsURL(), options: ["tls_fingerprint=" + fingerprint]) { mount in
            let hello = try String(contentsOfFile: mount.path(TestDataSet.helloFileName), encoding: .utf8)
            #expect(hello == TestDataSet.helloContent)
            try Shell.run(["ls", "-lR", mount.mountpoint], timeout: .seconds(60)).check()
        }
        // A pin for another certificate fails and names the one the server has.
        let wrong = try TLSMountFixture.certificates().server.fingerprint
        let result = try TestMount.run(expectingFailure: server.tlsURL(), options: ["tls_fingerprint=" + wrong])
        #expect(result.exitStatus == .exited(78), "\(result)")
        #expect(result.stderr.contains("does not match -o tls_fingerprint=\(wrong)"), "\(result)")
        #expect(result.stderr.contains(fingerprint), "\(result)")
    }

    @Test func aCAFileMountsTheSelfSignedServer() throws {
        let server = try TLSMountFixture.selfSignedServer()
        let certificate = try TLSMountFixture.certificates().selfSigned
        // The self-signed certificate is its own CA.
        try TestMount.withMount(url: server.tlsURL(), options: ["cafile=" + certificate.certificatePath]) { mount in
            let hello = try String(contentsOfFile: mount.path(TestDataSet.helloFileName), encoding: .utf8)
            #expect(hello == TestDataSet.helloContent)
        }
    }

    @Test func tlsInsecureMountsAndWarns() throws {
        let server = try TLSMountFixture.selfSignedServer()
        try TestMount.withMount(url: server.tlsURL(), options: ["tls_insecure"]) { mount in
            let hello = try String(contentsOfFile: mount.path(TestDataSet.helloFileName), encoding: .utf8)
            #expect(hello == TestDataSet.helloContent)
            #expect(mount.stderr.contains("tls_insecure"), "\(mount.stderr)")
        }
    }

    @Test func anExpiredCertificateFailsTheMount() throws {
        try TestRequirements.require(TLSServerKind.pyftpdlib.requirements + [.fuse])
        let certificates = try TLSMountFixture.certificates()
        let server = try FTPTestServer.startPyftpdlib(tls: TestServerTLS(certificate: certificates.expired))
        defer { server.stop() }
        let result = try TestMount.run(expectingFailure: server.tlsURL(), options: ["cafile=" + certificates.caPath])
        #expect(result.exitStatus == .exited(78), "\(result)")
        #expect(result.stderr.contains("has expired"), "\(result)")
        #expect(result.stderr.contains("-o tls_fingerprint=\(certificates.expired.fingerprint)"), "\(result)")
    }

    // MARK: - Servers without TLS

    @Test func tlsRequiredAgainstAPlainServerFailsBeforeThePassword() throws {
        let server = try TLSMountFixture.plainServer()
        let before = server.receivedCommands().count
        let result = try TestMount.run(expectingFailure: server.url(), options: ["tls=required"])
        #expect(result.exitStatus == .exited(78), "\(result)")
        #expect(result.stderr.contains("does not offer TLS"), "\(result)")
        #expect(result.stderr.contains("the password was not sent"), "\(result)")
        let commands = Array(server.receivedCommands().dropFirst(before))
        #expect(commands.contains("AUTH TLS"), "\(commands)")
        #expect(!commands.contains { $0.hasPrefix("USER") || $0.hasPrefix("PASS") }, "\(commands)")
    }

    @Test func tlsTryAgainstAPlainServerMountsAndSaysSo() throws {
        let server = try TLSMountFixture.plainServer()
        try TestMount.withMount(url: server.url(), options: ["tls=try"]) { mount in
            let hello = try String(contentsOfFile: mount.path(TestDataSet.helloFileName), encoding: .utf8)
            #expect(hello == TestDataSet.helloContent)
            #expect(mount.stderr.contains("does not offer TLS"), "\(mount.stderr)")
        }
    }
}
