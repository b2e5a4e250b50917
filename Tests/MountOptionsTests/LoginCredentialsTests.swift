import MountOptions
import Testing

@Suite struct LoginCredentialsTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var url: String
        var options: [String] = []
        var netrc: String?
        var environment: String?
        var passfile: String?
        var user: String
        var userSource: UserSource
        var password: LoginPassword
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        .init(name: "nothing given: anonymous", url: "ftp://h", user: "anonymous", userSource: .anonymous,
              password: .known("anonymous@", source: .anonymousDefault)),
        .init(name: "anonymous with a URL password (an e-mail address)", url: "ftp://:me%40x.org@h",
              user: "anonymous", userSource: .anonymous, password: .known("me@x.org", source: .url)),
        .init(name: "URL user and password", url: "ftp://alice:pw@h", user: "alice", userSource: .url,
              password: .known("pw", source: .url)),
        .init(name: "URL empty password is a password", url: "ftp://alice:@h", user: "alice", userSource: .url,
              password: .known("", source: .url)),
        .init(name: "URL user without password: prompt", url: "ftp://alice@h", user: "alice", userSource: .url,
              password: .needsPrompt),
        .init(name: "user= overrides the URL user", url: "ftp://alice@h", options: ["user=bob"], user: "bob",
              userSource: .option, password: .needsPrompt),
        .init(name: "user= with the URL's own user keeps the URL password", url: "ftp://alice:pw@h",
              options: ["user=alice"], user: "alice", userSource: .option, password: .known("pw", source: .url)),
        .init(name: "user= for a different user drops the URL password", url: "ftp://alice:pw@h",
              options: ["user=bob"], environment: "envpw", user: "bob", userSource: .option,
              password: .known("envpw", source: .environment)),
        .init(name: "user= with a password-only URL", url: "ftp://:pw@h", options: ["user=bob"], user: "bob",
              userSource: .option, password: .known("pw", source: .url)),
        .init(name: "URL password beats every other source", url: "ftp://alice:pw@h",
              netrc: "machine h login alice password netrcpw", environment: "envpw", passfile: "filepw\n",
              user: "alice", userSource: .url, password: .known("pw", source: .url)),
        .init(name: "passfile beats the environment", url: "ftp://alice@h", netrc: "machine h password netrcpw",
              environment: "envpw", passfile: "filepw\r\nsecond line", user: "alice", userSource: .url,
              password: .known("filepw", source: .passwordFile)),
        .init(name: "environment beats netrc", url: "ftp://alice@h", netrc: "machine h password netrcpw",
              environment: "envpw", user: "alice", userSource: .url, password: .known("envpw", source: .environment)),
        .init(name: "netrc password for the user", url: "ftp://alice@h",
              netrc: "machine h login bob password b\nmachine h login alice password a", user: "alice",
              userSource: .url, password: .known("a", source: .netrc)),
        .init(name: "netrc for another user does not apply", url: "ftp://carol@h",
              netrc: "machine h login alice password a", user: "carol", userSource: .url, password: .needsPrompt),
        .init(name: "netrc supplies the login when none is given", url: "ftp://H/pub",
              netrc: "machine h login alice password a", user: "alice", userSource: .netrc,
              password: .known("a", source: .netrc)),
        .init(name: "netrc login, password from the environment", url: "ftp://h",
              netrc: "machine h login alice", environment: "envpw", user: "alice", userSource: .netrc,
              password: .known("envpw", source: .environment)),
        .init(name: "netrc default login", url: "ftp://other", netrc: "machine h login a\ndefault login dave password d",
              user: "dave", userSource: .netrc, password: .known("d", source: .netrc)),
        .init(name: "netrc entry without login leaves the login anonymous", url: "ftp://h",
              netrc: "machine h password p", user: "anonymous", userSource: .anonymous,
              password: .known("anonymous@", source: .anonymousDefault)),
        .init(name: "explicit anonymous user without password", url: "ftp://anonymous@h", user: "anonymous",
              userSource: .url, password: .known("anonymous@", source: .anonymousDefault)),
        .init(name: "explicit ftp user without password", url: "ftp://h", options: ["user=FTP"], user: "FTP",
              userSource: .option, password: .known("anonymous@", source: .anonymousDefault)),
        .init(name: "explicit anonymous user takes the netrc password", url: "ftp://anonymous@h",
              netrc: "default login anonymous password me@x.org", user: "anonymous", userSource: .url,
              password: .known("me@x.org", source: .netrc)),
        .init(name: "passfile without a user is ignored", url: "ftp://h", environment: "envpw", passfile: "filepw",
              user: "anonymous", userSource: .anonymous, password: .known("anonymous@", source: .anonymousDefault)),
        .init(name: "empty passfile is an empty password", url: "ftp://alice@h", passfile: "", user: "alice",
              userSource: .url, password: .known("", source: .passwordFile)),
    ]

    @Test(arguments: cases)
    func resolves(_ testCase: Case) throws {
        let credentials = LoginCredentials.resolve(
            url: try ServerURL(parsing: testCase.url),
            configuration: try MountConfiguration(parsing: testCase.options),
            netrc: try testCase.netrc.map { try Netrc(parsing: $0) },
            environmentPassword: testCase.environment,
            passwordFileContents: testCase.passfile)
        #expect(credentials.user == testCase.user)
        #expect(credentials.userSource == testCase.userSource)
        #expect(credentials.password == testCase.password)
    }

    @Test func warnsAboutPasswordInURLWithoutQuotingIt() throws {
        let credentials = LoginCredentials.resolve(
            url: try ServerURL(parsing: "ftp://alice:hunter2@h"), configuration: MountConfiguration())
        #expect(credentials.warnings.count == 1)
        #expect(credentials.warnings[0].contains("ps"))
        #expect(credentials.warnings.allSatisfy { !$0.contains("hunter2") })
        #expect(!credentials.description.contains("hunter2"))
        var dumped = ""
        dump(credentials, to: &dumped)
        #expect(!dumped.contains("hunter2"))
    }

    @Test func warnsWhenTheURLPasswordBelongsToAnotherUser() throws {
        let credentials = LoginCredentials.resolve(
            url: try ServerURL(parsing: "ftp://alice:hunter2@h"),
            configuration: try MountConfiguration(parsing: ["user=bob"]))
        #expect(credentials.password == .needsPrompt)
        #expect(credentials.warnings.count == 2)
        #expect(credentials.warnings[1].contains("user=bob"))
        #expect(credentials.warnings.allSatisfy { !$0.contains("hunter2") })
    }

    @Test func warnsWhenAnonymousIgnoresPasswordSources() throws {
        let credentials = LoginCredentials.resolve(
            url: try ServerURL(parsing: "ftp://h"), configuration: MountConfiguration(),
            environmentPassword: "envsecret", passwordFileContents: "filesecret")
        #expect(credentials.warnings == [
            "passfile ignored: no user name was given, so the login is anonymous",
            "FTPFS_PASSWORD ignored: no user name was given, so the login is anonymous",
        ])
    }

    @Test func noWarningsForAnOrdinaryLogin() throws {
        let credentials = LoginCredentials.resolve(
            url: try ServerURL(parsing: "ftp://alice@h"), configuration: MountConfiguration(),
            environmentPassword: "pw")
        #expect(credentials.warnings.isEmpty)
        #expect(credentials.description == "user alice (from url), password from environment")
    }

    @Test(arguments: [
        ("pw", "pw"), ("pw\n", "pw"), ("pw\r\n", "pw"), ("pw\nrest\n", "pw"), ("", ""), ("\n", ""),
        ("  spaced  \n", "  spaced  "),
    ])
    func passwordFileFirstLine(_ contents: String, _ password: String) {
        #expect(LoginCredentials.password(fromPasswordFile: contents) == password)
    }
}
