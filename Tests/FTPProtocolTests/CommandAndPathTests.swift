import Testing

@testable import FTPProtocol

@Suite struct CommandTests {
    @Test func linesWithAndWithoutArguments() throws {
        #expect(try Command.pwd.line() == "PWD")
        #expect(try Command.retr("/dir with space/file").line() == "RETR /dir with space/file")
        #expect(try Command.rest(5_368_709_120).line() == "REST 5368709120")
        #expect(try Command.mlsd().line() == "MLSD")
        #expect(try Command.cwd("Grüße").line() == "CWD Grüße")
    }

    @Test(arguments: ["a\r\nDELE b", "a\nb", "a\rb", "a\u{0}b", "\r\n"])
    func rejectsInjection(_ argument: String) {
        #expect(throws: CommandError.forbiddenCharacter(verb: "STOR")) { try Command.stor(argument).line() }
    }

    @Test func rejectsInjectionThroughTheVerb() {
        #expect(throws: CommandError.self) { try Command("NOOP\r\nDELE x").line() }
    }

    @Test func passwordsAreMasked() {
        #expect(Command.pass("secret").loggable == "PASS ****")
        #expect(!Command.pass("secret").description.contains("secret"))
        #expect(Command.user("anonymous").loggable == "USER anonymous")
    }
}

@Suite struct FTPPathTests {
    @Test(arguments: [
        ("/", "a", "/a"),
        ("/a/", "b/", "/a/b"),
        ("/a", "/b//c/", "/b/c"),
        ("/a", "./b/./c", "/a/b/c"),
        ("/a", "../b", "/a/../b"),
        ("/a", "", "/a"),
        ("", "x", "/x"),
    ])
    func join(_ base: String, _ relative: String, _ expected: String) {
        #expect(FTPPath.join(base, relative) == expected)
    }

    @Test func normalizeParentAndLastComponent() {
        #expect(FTPPath.normalize("//a///b/./") == "/a/b")
        #expect(FTPPath.normalize("") == "/")
        #expect(FTPPath.parent("/a/b") == "/a")
        #expect(FTPPath.parent("/a") == "/")
        #expect(FTPPath.parent("/") == "/")
        #expect(FTPPath.lastComponent("/a/b c") == "b c")
        #expect(FTPPath.lastComponent("/") == "")
    }

    @Test(arguments: [
        ("257 \"/tmp/ftpcap/tree\" is the current directory", "/tmp/ftpcap/tree"),  // vsftpd
        ("257 \"/\" is the current directory.", "/"),  // pyftpdlib
        ("257 \"/\" is your current location", "/"),  // Pure-FTPd
        ("257 \"/tmp/ftpcap/tree/quo\"\"te\" created", "/tmp/ftpcap/tree/quo\"te"),  // vsftpd MKD
        ("257 \"/quo\"\"te\" directory created.", "/quo\"te"),  // pyftpdlib MKD
        ("257 \"/tmp/ftpcap/tree/quo\"\"te\" - Directory successfully created", "/tmp/ftpcap/tree/quo\"te"),  // ProFTPD
        ("257 \"quo\"te\" : The directory was successfully created", "quo\"te"),  // Pure-FTPd: not doubled
        ("257 \"/a b/c\"", "/a b/c"),
        ("257 \"/x\".", "/x"),
        ("\"/only quotes\"", "/only quotes"),
    ])
    func parse257(_ text: String, _ path: String) {
        #expect(FTPPath.parse257(text) == path)
    }

    @Test(arguments: ["257 no quotes at all", "257 \"unterminated", ""])
    func parse257Rejects(_ text: String) {
        #expect(FTPPath.parse257(text) == nil)
    }
}
