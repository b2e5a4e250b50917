import MountOptions
import Testing

@Suite struct NetrcTests {
    typealias Entry = Netrc.Entry

    @Test(arguments: [
        ("machine h login u password p", Netrc(machines: [Entry(machine: "h", login: "u", password: "p")])),
        // Any whitespace separates words, newlines included.
        ("machine h\n\tlogin u\n\n   password p\r\n", Netrc(machines: [Entry(machine: "h", login: "u", password: "p")])),
        ("machine a login x\nmachine b login y account acct",
         Netrc(machines: [Entry(machine: "a", login: "x"), Entry(machine: "b", login: "y", account: "acct")])),
        ("machine h login u password p\ndefault login anonymous password me@example.com",
         Netrc(machines: [Entry(machine: "h", login: "u", password: "p")],
               defaultEntry: Entry(machine: nil, login: "anonymous", password: "me@example.com"))),
        // Comments where a keyword belongs, whole-line or trailing.
        ("# my servers\nmachine h # the work one\n  login u # me\n#password nope\n  password p",
         Netrc(machines: [Entry(machine: "h", login: "u", password: "p")])),
        // In a value position '#' is an ordinary character.
        ("machine h login u password #hash#", Netrc(machines: [Entry(machine: "h", login: "u", password: "#hash#")])),
        // Quoted words hold spaces and escapes.
        (#"machine h login "John Smith" password "a \"quoted\" pass\\word\tx""#,
         Netrc(machines: [Entry(machine: "h", login: "John Smith", password: "a \"quoted\" pass\\word\tx")])),
        (#"machine h login u password """#, Netrc(machines: [Entry(machine: "h", login: "u", password: "")])),
        // Unquoted words keep backslashes, as curl reads them.
        (#"machine h login dom\user password p\q"#,
         Netrc(machines: [Entry(machine: "h", login: #"dom\user"#, password: #"p\q"#)])),
        // macdef bodies run to a blank line and may contain anything, keywords included.
        ("machine h login u\nmacdef init\ncd /pub\nmachine evil login x\nbinary\n\nmachine g login v",
         Netrc(machines: [Entry(machine: "h", login: "u"), Entry(machine: "g", login: "v")])),
        ("macdef init\nls\n   \nmachine g login v", Netrc(machines: [Entry(machine: "g", login: "v")])),
        ("machine h login u macdef m\nbody", Netrc(machines: [Entry(machine: "h", login: "u")])),
        ("", Netrc()),
        ("\n# only a comment\n", Netrc()),
        ("machine h password \"ünïcødé\"", Netrc(machines: [Entry(machine: "h", password: "ünïcødé")])),
    ])
    func parses(_ text: String, _ expected: Netrc) throws {
        #expect(try Netrc(parsing: text) == expected)
    }

    @Test(arguments: [
        ("machine h login u password my secret", NetrcError.unexpectedWord(line: 1)),
        ("machine h\nlogin u\nport 21", .unexpectedWord(line: 3)),
        ("login u password p", .valueOutsideEntry(keyword: "login", line: 1)),
        ("machine h login", .missingValue(keyword: "login", line: 1)),
        ("machine", .missingValue(keyword: "machine", line: 1)),
        ("machine h\npassword \"abc", .unterminatedQuote(line: 2)),
        ("\"machine\" h", .unexpectedWord(line: 1)),
    ])
    func rejects(_ text: String, _ expected: NetrcError) {
        #expect(throws: expected) { try Netrc(parsing: text) }
    }

    /// A password with an unquoted space leaves its second half where a keyword belongs; the
    /// error must give the line, not the word.
    @Test func errorsDoNotQuoteWords() throws {
        let error = try #require(throws: NetrcError.self) {
            try Netrc(parsing: "machine h login u password correct horse")
        }
        #expect(!error.description.contains("horse"))
        #expect(error.description.contains("line 1"))
    }

    static let sample = try! Netrc(parsing: """
        machine ftp.example.com login alice password a1
        machine FTP.example.com login bob password b2
        machine files.example.org password nologin
        machine mirror.example.net login carol
        default login anonymous password guest@
        """)

    @Test(arguments: [
        ("ftp.example.com", nil as String?, "alice", "a1"),
        ("Ftp.Example.Com", nil, "alice", "a1"),
        ("ftp.example.com", "bob", "bob", "b2"),
        ("ftp.example.com", "alice", "alice", "a1"),
        ("files.example.org", "anyone", nil, "nologin"),
        ("mirror.example.net", nil, "carol", nil),
        ("elsewhere.example", nil, "anonymous", "guest@"),
        ("elsewhere.example", "anonymous", "anonymous", "guest@"),
        // No machine matches this login, so the default answers, whose login differs: nothing.
        ("ftp.example.com", "mallory", nil, nil),
    ] as [(String, String?, String?, String?)])
    func looksUpByHostAndLogin(_ host: String, _ login: String?, _ expectedLogin: String?, _ expectedPassword: String?) {
        let entry = Self.sample.entry(forHost: host, login: login)
        if expectedLogin == nil && expectedPassword == nil {
            #expect(entry == nil)
        } else {
            #expect(entry?.login == expectedLogin)
            #expect(entry?.password == expectedPassword)
        }
    }

    @Test func withoutDefaultAnUnknownHostHasNoEntry() throws {
        let netrc = try Netrc(parsing: "machine a login x")
        #expect(netrc.entry(forHost: "b") == nil)
    }

    @Test func descriptionMasksPasswords() {
        #expect(!Self.sample.description.contains("a1"))
        #expect(Self.sample.description.contains("machine ftp.example.com login alice password ***"))
        var dumped = ""
        dump(Self.sample, to: &dumped)
        #expect(!dumped.contains("a1") && !dumped.contains("guest@"))
    }

    @Test func containsPassword() throws {
        #expect(Self.sample.containsPassword)
        #expect(try !Netrc(parsing: "machine h login u\ndefault login anonymous").containsPassword)
        #expect(try Netrc(parsing: "default password x").containsPassword)
    }
}
