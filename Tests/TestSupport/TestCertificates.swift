import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A certificate and its key, as PEM files, for a TLS test server.
public struct TestCertificate: Sendable, CustomStringConvertible {
    public let name: String
    public let certificatePath: String
    public let keyPath: String
    /// `SHA256:AB:CD:…` of the certificate's DER encoding: what `-o tls_fingerprint=` takes.
    public let fingerprint: String

    public var description: String { name }
}

/// Throwaway certificates for the FTPS tests, made with the `openssl` command once per test
/// process in a temporary directory: a test CA, and server certificates that verify, or fail
/// verification for one reason each.
///
///     let certificates = try TestCertificates.shared()
///     let server = try FTPTestServer.startPyftpdlib(tls: .init(certificate: certificates.server))
///     … -o cafile=\(certificates.caPath)
public struct TestCertificates: Sendable {
    public let directory: String
    /// The test CA's certificate (PEM): what `-o cafile=` takes.
    public let caPath: String
    /// Signed by the test CA; names IP 127.0.0.1, IP ::1 and DNS localhost.
    public let server: TestCertificate
    /// Self-signed, with the same names.
    public let selfSigned: TestCertificate
    /// Signed by the test CA, with the right names, but valid only on 1 January 2020.
    public let expired: TestCertificate
    /// Signed by the test CA, but for DNS wrong.example only.
    public let wrongName: TestCertificate

    private static let made = Mutex<Result<TestCertificates, TestSupportError>?>(nil)

    /// The certificates of this test process (made on first use).
    public static func shared() throws -> TestCertificates {
        try made.withLock { state in
            if state == nil {
                do {
                    state = .success(try make())
                } catch {
                    state = .failure(error as? TestSupportError ?? TestSupportError("\(error)"))
                }
            }
            return try state!.get()
        }
    }

    /// Makes a fresh set in a new temporary directory.
    public static func make() throws -> TestCertificates {
        guard Shell.which("openssl") != nil else {
            throw TestSupportError("openssl: not in PATH (apt-get install openssl)")
        }
        let directory = try TestDirectory.make("certificates")
        func path(_ name: String) -> String { directory + "/" + name }
        func openssl(_ arguments: [String], input: String? = nil) throws {
            try Shell.run(["openssl"] + arguments, timeout: .seconds(60), input: input, workingDirectory: directory).check()
        }
        let goodNames = "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n"
        let serverExtensions = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            + "extendedKeyUsage=serverAuth\n"
        try (goodNames + serverExtensions).write(toFile: path("good.ext"), atomically: true, encoding: .utf8)
        try ("subjectAltName=DNS:wrong.example\n" + serverExtensions)
            .write(toFile: path("wrong.ext"), atomically: true, encoding: .utf8)

        // The CA.
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                     "-days", "30", "-subj", "/CN=ftpfs test CA",
                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

        func request(_ name: String, commonName: String) throws {
            try openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
                         "-subj", "/CN=" + commonName])
        }
        func signedByCA(_ name: String, extensions: String) throws {
            try openssl(["x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                         "-days", "30", "-extfile", extensions, "-out", name + ".pem"])
        }
        try request("server", commonName: "localhost")
        try signedByCA("server", extensions: "good.ext")
        try request("wrong-name", commonName: "wrong.example")
        try signedByCA("wrong-name", extensions: "wrong.ext")
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self-signed.key", "-out", "self-signed.pem",
                     "-days", "30", "-subj", "/CN=ftpfs self-signed test server",
                     "-addext", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"])

        // `openssl x509` of OpenSSL 3.0 cannot backdate; `openssl ca` can (-startdate/-enddate).
        try FileManager.default.createDirectory(atPath: path("ca-db"), withIntermediateDirectories: false)
        _ = FileManager.default.createFile(atPath: path("ca-db/index.txt"), contents: Data())
        try "1000\n".write(toFile: path("ca-db/serial"), atomically: true, encoding: .utf8)
        try """
            [ca]
            default_ca = test
            [test]
            database = ca-db/index.txt
            serial = ca-db/serial
            new_certs_dir = ca-db
            default_md = sha256
            policy = any
            unique_subject = no
            [any]
            commonName = supplied

            """.write(toFile: path("ca.cnf"), atomically: true, encoding: .utf8)
        try request("expired", commonName: "localhost")
        try openssl(["ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "expired.csr",
                     "-out", "expired.pem", "-notext", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
                     "-extfile", "good.ext"])

        func certificate(_ name: String) throws -> TestCertificate {
            let output = try Shell.run(["openssl", "x509", "-in", path(name + ".pem"), "-noout", "-fingerprint", "-sha256"],
                                       timeout: .seconds(30)).check().stdout
            // "sha256 Fingerprint=AB:CD:…" (OpenSSL 3) or "SHA256 Fingerprint=…" (1.1)
            guard let equals = output.firstIndex(of: "=") else {
                throw TestSupportError("cannot read the fingerprint of \(name).pem: \(output)")
            }
            let hex = output[output.index(after: equals)...].trimmingCharacters(in: .whitespacesAndNewlines)
            chmod(path(name + ".key"), 0o600)
            return TestCertificate(name: name, certificatePath: path(name + ".pem"), keyPath: path(name + ".key"),
                                   fingerprint: "SHA256:" + hex.uppercased())
        }
        return TestCertificates(directory: directory, caPath: path("ca.pem"), server: try certificate("server"),
                                selfSigned: try certificate("self-signed"), expired: try certificate("expired"),
                                wrongName: try certificate("wrong-name"))
    }
}

/// How a test server offers TLS.
public struct TestServerTLS: Sendable {
    public var certificate: TestCertificate
    /// TLS from the first byte (no AUTH TLS); clients use ftps://.
    public var implicit: Bool
    /// Refuse logins and data connections without TLS (pyftpdlib `--tls-required`; vsftpd
    /// `force_local_*_ssl`; ProFTPD `TLSRequired on`).
    public var required: Bool

    public init(certificate: TestCertificate, implicit: Bool = false, required: Bool = true) {
        self.certificate = certificate
        self.implicit = implicit
        self.required = required
    }
}

/// Reads the greeting of an implicit-TLS server (through `openssl s_client`, which needs no
/// trust in the certificate), so a harness can tell when such a server is up.
enum ImplicitTLSProbe {
    static func readGreeting(host: String, port: Int, timeout: Duration) throws -> String {
        let target = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let result = try Shell.run(["openssl", "s_client", "-connect", target, "-quiet", "-verify_quiet"],
                                   timeout: timeout, input: "QUIT\r\n")
        guard let line = result.stdout.split(separator: "\n").first(where: { $0.hasPrefix("220 ") }) else {
            throw TestSupportError("no TLS greeting from \(target): \(tail(result.stdout + result.stderr, limit: 500))")
        }
        return line.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
