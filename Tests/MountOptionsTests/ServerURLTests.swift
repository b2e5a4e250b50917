import MountOptions
import Testing

@Suite struct ServerURLTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        var text: String
        var scheme: ServerURL.Scheme
        var user: String?
        var password: String?
        var host: String
        var port: UInt16
        var explicitPort: UInt16?
        var path: String
        var isAbsolute: Bool
        var testDescription: String { text }
    }

    static let valid: [Valid] = [
        .init(text: "ftp://example.com", scheme: .ftp, host: "example.com", port: 21, path: "", isAbsolute: false),
        .init(text: "ftp://example.com/", scheme: .ftp, host: "example.com", port: 21, path: "", isAbsolute: false),
        .init(text: "FTP://Example.COM/pub", scheme: .ftp, host: "Example.COM", port: 21, path: "pub", isAbsolute: false),
        .init(text: "ftps://h", scheme: .ftps, host: "h", port: 990, path: "", isAbsolute: false),
        .init(text: "ftpes://h", scheme: .ftpes, host: "h", port: 21, path: "", isAbsolute: false),
        .init(text: "ftps://h:2990/x", scheme: .ftps, host: "h", port: 2990, explicitPort: 2990, path: "x",
              isAbsolute: false),
        .init(text: "ftp://alice@h:2121/pub/incoming/", scheme: .ftp, user: "alice", host: "h", port: 2121,
              explicitPort: 2121, path: "pub/incoming", isAbsolute: false),
        .init(text: "ftp://alice:s3cret@h", scheme: .ftp, user: "alice", password: "s3cret", host: "h", port: 21,
              path: "", isAbsolute: false),
        .init(text: "ftp://me%40example.com:pa%3Ass@h", scheme: .ftp, user: "me@example.com", password: "pa:ss",
              host: "h", port: 21, path: "", isAbsolute: false),
        // An unencoded '@' in the user name: the last '@' ends the user information.
        .init(text: "ftp://me@example.com@h", scheme: .ftp, user: "me@example.com", host: "h", port: 21, path: "",
              isAbsolute: false),
        // A password may contain ':' unencoded; only the first ':' separates it.
        .init(text: "ftp://bob:a:b@h", scheme: .ftp, user: "bob", password: "a:b", host: "h", port: 21, path: "",
              isAbsolute: false),
        .init(text: "ftp://bob:@h", scheme: .ftp, user: "bob", password: "", host: "h", port: 21, path: "",
              isAbsolute: false),
        .init(text: "ftp://h/%E7%89%88%E6%9C%AC/a%20b", scheme: .ftp, host: "h", port: 21, path: "版本/a b",
              isAbsolute: false),
        .init(text: "ftp://h/%2Fsrv/pub", scheme: .ftp, host: "h", port: 21, path: "/srv/pub", isAbsolute: true),
        .init(text: "ftp://h/%2f", scheme: .ftp, host: "h", port: 21, path: "/", isAbsolute: true),
        .init(text: "ftp://h//srv", scheme: .ftp, host: "h", port: 21, path: "/srv", isAbsolute: true),
        .init(text: "ftp://h/a//./b/", scheme: .ftp, host: "h", port: 21, path: "a/b", isAbsolute: false),
        .init(text: "ftp://h/../up", scheme: .ftp, host: "h", port: 21, path: "../up", isAbsolute: false),
        .init(text: "ftp://[::1]:2121/", scheme: .ftp, host: "::1", port: 2121, explicitPort: 2121, path: "",
              isAbsolute: false),
        .init(text: "ftp://[fe80::1%25eth0]/", scheme: .ftp, host: "fe80::1%eth0", port: 21, path: "",
              isAbsolute: false),
        .init(text: "ftps://u@[2001:db8::7]", scheme: .ftps, user: "u", host: "2001:db8::7", port: 990, path: "",
              isAbsolute: false),
        .init(text: "ftp://192.0.2.1:21/x", scheme: .ftp, host: "192.0.2.1", port: 21, explicitPort: 21, path: "x",
              isAbsolute: false),
        .init(text: "ftpfs#ftp://u@h/d", scheme: .ftp, user: "u", host: "h", port: 21, path: "d", isAbsolute: false),
        .init(text: "ftp://:guest%40example.com@h", scheme: .ftp, password: "guest@example.com", host: "h", port: 21,
              path: "", isAbsolute: false),
    ]

    @Test(arguments: valid)
    func parsesValidURL(_ expected: Valid) throws {
        let url = try ServerURL(parsing: expected.text)
        #expect(url.scheme == expected.scheme)
        #expect(url.user == expected.user)
        #expect(url.password == expected.password)
        #expect(url.host == expected.host)
        #expect(url.port == expected.port)
        #expect(url.explicitPort == expected.explicitPort)
        #expect(url.path == expected.path)
        #expect(url.isAbsolutePath == expected.isAbsolute)
    }

    @Test(arguments: [
        ("ftp://h", TransportSecurity.none), ("ftpes://h", .explicitTLS), ("FTPS://h", .implicitTLS),
    ])
    func schemeGivesSecurity(_ text: String, _ security: TransportSecurity) throws {
        #expect(try ServerURL(parsing: text).security == security)
    }

    @Test(arguments: [
        ("example.com/pub", ServerURLError.missingScheme),
        ("http://h/", .unknownScheme("http")),
        ("sftp://h/", .unknownScheme("sftp")),
        ("ftp://", .emptyHost),
        ("ftp:///pub", .emptyHost),
        ("ftp://user:pw@/pub", .emptyHost),
        ("ftp://:21/", .emptyHost),
        ("ftp://[]/", .emptyHost),
        ("ftp://h:0/", .invalidPort),
        ("ftp://h:65536/", .invalidPort),
        ("ftp://h:99999999999999999999/", .invalidPort),
        ("ftp://h:ftp/", .invalidPort),
        ("ftp://h:/", .invalidPort),
        ("ftp://h:-1/", .invalidPort),
        ("ftp://h:+21/", .invalidPort),
        ("ftp://[::1]:x/", .invalidPort),
        ("ftp://exa mple.com/", .invalidHost("exa mple.com")),
        ("ftp://h%41/", .invalidHost("h%41")),
        ("ftp://[::1/", .invalidHost("[::1")),
        ("ftp://[::g]/", .invalidHost("::g")),
        ("ftp://[::1]x/", .invalidHost("[::1]x")),
        ("ftp://[fe80::1%eth0]/", .invalidHost("fe80::1%eth0")),
        ("ftp://[fe80::1%25]/", .invalidHost("fe80::1%25")),
        ("ftp://u%4@h/", .malformedPercentEscape(.user)),
        ("ftp://u:p%zz@h/", .malformedPercentEscape(.password)),
        ("ftp://h/a%2", .malformedPercentEscape(.path)),
        ("ftp://h/%FF", .invalidUTF8(.path)),
        ("ftp://u%0D%0AX@h/", .forbiddenCharacter(.user)),
        ("ftp://u:p%0A@h/", .forbiddenCharacter(.password)),
        ("ftp://h/a%00b", .forbiddenCharacter(.path)),
        ("ftp://h/x%0D%0ADELE%20y", .forbiddenCharacter(.path)),
        ("ftp://u:pa#ss@h/", .reservedCharacter("#")),
        ("ftp://h/file?x", .reservedCharacter("?")),
    ] as [(String, ServerURLError)])
    func rejectsInvalidURL(_ text: String, _ expected: ServerURLError) {
        #expect(throws: expected) { try ServerURL(parsing: text) }
    }

    /// However the URL is broken, the message must not quote the password.
    @Test(arguments: [
        "ftp://u:topsecret%zz@h/", "ftp://u:topsecret%0A@h/", "ftp://u:topsecret#x@h/",
        "ftp://u:topsecret/more@h/", "ftp://u:topsecret@h:0/", "ftp://u:top%FFsecret@h/",
        "ftp://u:topsecret@/",
    ])
    func errorsNeverQuoteThePassword(_ text: String) throws {
        let error = try #require(throws: ServerURLError.self) { try ServerURL(parsing: text) }
        #expect(!error.description.contains("topsecret"))
        #expect(!error.description.contains("top"))
    }

    @Test(arguments: [
        ("ftp://alice:s3cret@h:2121/pub", "ftp://alice:***@h:2121/pub", "ftp://alice@h:2121/pub"),
        ("ftp://h", "ftp://h/", "ftp://h/"),
        ("ftps://me%40x.org@h/%2Fsrv/a%20b", "ftps://me%40x.org@h/%2Fsrv/a%20b", "ftps://me%40x.org@h/%2Fsrv/a%20b"),
        ("ftp://[fe80::1%25eth0]:21/", "ftp://[fe80::1%25eth0]:21/", "ftp://[fe80::1%25eth0]:21/"),
        ("ftp://:pw@h/%E7%89%88", "ftp://:***@h/%E7%89%88", "ftp://h/%E7%89%88"),
        ("ftpfs#ftp://u:p@h", "ftp://u:***@h/", "ftp://u@h/"),
    ])
    func redactsThePassword(_ text: String, _ redacted: String, _ withoutPassword: String) throws {
        let url = try ServerURL(parsing: text)
        #expect(url.redacted == redacted)
        #expect(url.description == redacted)
        #expect("\(url)" == redacted)
        #expect(url.withoutPassword == withoutPassword)
    }

    @Test func dumpMasksThePassword() throws {
        var dumped = ""
        dump(try ServerURL(parsing: "ftp://alice:s3cret@h/"), to: &dumped)
        #expect(!dumped.contains("s3cret"))
        #expect(dumped.contains("alice"))
    }

    /// The redacted form parses back to the same URL, apart from the password.
    @Test(arguments: [
        "ftp://alice@h:2121/pub/x%20y", "ftps://h/%2F", "ftp://[::1]/%2Fsrv/%E7%89%88", "ftpes://a%3Ab@h/",
    ])
    func canonicalFormRoundTrips(_ text: String) throws {
        let url = try ServerURL(parsing: text)
        #expect(try ServerURL(parsing: url.withoutPassword) == url)
    }

    @Test(arguments: [
        ("ftp://h", "/home/alice", "/home/alice"),
        ("ftp://h/pub", "/home/alice", "/home/alice/pub"),
        ("ftp://h/pub/../x", "/", "/pub/../x"),
        ("ftp://h/%2Fsrv/pub", "/home/alice", "/srv/pub"),
        ("ftp://h/%2F", "/home/alice", "/"),
    ])
    func mountRootJoinsTheLoginDirectory(_ text: String, _ login: String, _ root: String) throws {
        #expect(try ServerURL(parsing: text).mountRoot(loginDirectory: login) == root)
    }
}
