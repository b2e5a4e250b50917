import Testing

@testable import FTPProtocol

/// A listing with entries that cannot be shown — a path instead of a name, NUL, CR or LF in a
/// name, a name too long for Linux, a link target with NUL, a name listed twice, a line no
/// parser understands — still gives every other entry, in every dialect; each bad one is
/// refused with its reason.
@Suite struct HostileListingTests {
    static let longName = String(repeating: "n", count: 256)
    static let longestName = String(repeating: "n", count: 255)

    /// Names a listing may hold but the mount must not show, and why.
    static let hostileNames: [(name: String, reason: String)] = [
        ("sub/escape", "contains '/'"),
        ("nul\u{0}byte", "contains NUL"),
        ("carriage\rreturn", "contains CR or LF"),
        ("line\nfeed", "contains CR or LF"),
        (longName, "name longer than 255 bytes"),
        // 86 three-byte characters: 258 bytes in UTF-8, though only 86 characters.
        (String(repeating: "\u{6587}", count: 86), "name longer than 255 bytes"),
    ]

    // MARK: - Unix LIST (vsftpd, ProFTPD, Pure-FTPd, pyftpdlib)

    @Test func unixListingShowsEverythingButTheHostileEntries() {
        let lines = [
            "total 24",
            "drwxr-xr-x    6 1002     0            4096 Nov 21 16:36 .",
            "drwxr-xr-x    6 0        0            4096 Nov 21 16:36 ..",
            "-rw-r--r--    1 1001     0            1234 Nov 21 16:36 plain.txt",
        ] + Self.hostileNames.map { "-rw-r--r--    1 0        0               2 Nov 21 16:36 \($0.name)" } + [
            "lrwxrwxrwx    1 0        0               9 Nov 21 16:36 bad-link -> tar\u{0}get",
            "-rw-r--r--    1 0        0               2 Nov 21 16:36 \(Self.longestName)",
            "-rw-r--r--    1 0        0               5 Nov 21 16:36 plain.txt",
            "-rw-r--r--    1 0        0               2 Nov 21 16:36 ..",
            "this line is not a listing entry",
            "drwxr-xr-x    2 0        0            4096 Nov 21 16:36 sub",
        ]
        let result = ListParser(now: captureTime).parse(lines: lines)
        #expect(result.entries.map(\.name) == ["plain.txt", Self.longestName, "sub"])
        #expect(result.entries.first?.size == 1234, "the first of two entries with one name is kept")
        let expectedRefusals = Self.hostileNames.map { ListingParseResult.RefusedEntry(name: $0.name, reason: $0.reason) }
            + [.init(name: "bad-link", reason: "link target contains NUL"),
               .init(name: "plain.txt", reason: "listed a second time"),
               .init(name: "..", reason: "names the directory itself or its parent")]
        #expect(result.refused == expectedRefusals)
        #expect(result.unreadable == ["this line is not a listing entry"])
        #expect(result.skipped.count == result.refused.count + 1)
    }

    // MARK: - MLSD (ProFTPD, Pure-FTPd, pyftpdlib, FileZilla Server)

    @Test func machineListingShowsEverythingButTheHostileEntries() {
        let lines = [
            "type=cdir;sizd=4096;modify=20261121163708;UNIX.mode=0755; .",
            "type=pdir;sizd=4096;modify=20261121163708;UNIX.mode=0755; ..",
            "modify=20261121163623;perm=adfrw;size=1234;type=file;unique=FE00UF78047;UNIX.mode=0644; plain.txt",
        ] + Self.hostileNames.map { "type=file;size=2;modify=20261121163623; \($0.name)" } + [
            "type=OS.unix=slink:tar\u{0}get;modify=20261121163623; bad-link",
            "type=file;size=2;modify=20261121163623; ..",
            "type=file;size=5;modify=20261121163623; plain.txt",
            "not a fact line",
            "type=dir;modify=20261121163623; sub",
        ]
        let result = MLSDParser.parse(lines: lines)
        #expect(result.entries.map(\.name) == ["plain.txt", "sub"])
        #expect(result.entries.first?.size == 1234)
        #expect(result.refused.map(\.reason) == Self.hostileNames.map(\.reason) + [
            "link target contains NUL", "names the directory itself or its parent", "listed a second time",
        ])
        #expect(result.unreadable == ["not a fact line"])
    }

    // MARK: - The other LIST dialects

    /// A listing in one dialect, the names it must show, and the reasons of those it refuses.
    struct DialectCase: Sendable, CustomTestStringConvertible {
        var dialect: String
        var lines: [String]
        var shown: [String]
        var refusals: [String]
        var testDescription: String { dialect }
    }

    static let otherDialects = [
        DialectCase(dialect: "DOS/IIS", lines: [
            "02-23-19  09:15PM       <DIR>          aspnet_client",
            "11-03-25  10:02AM                  689 iis\rstart.htm",
            "11-03-25  10:02AM                98757 \(longName)",
            "11-03-25  10:02AM                98757 iisstart.png",
        ], shown: ["aspnet_client", "iisstart.png"], refusals: ["contains CR or LF", "name longer than 255 bytes"]),
        DialectCase(dialect: "EPLF", lines: [
            "+i8388621.29609,m824255902,/,\tdev",
            "+r,s1,\t..",
            "+r,s1,\ta/b",
            "+r,s1,\tline\nfeed",
            "+i8388621.44468,m839956783,r,s10376,\tRFCEPLF",
        ], shown: ["dev", "RFCEPLF"],
           refusals: ["names the directory itself or its parent", "contains '/'", "contains CR or LF"]),
        DialectCase(dialect: "NetWare", lines: [
            "d [R----F--] supervisor            512       Jan 16 18:53    login",
            "- [RWCEAFMS] user                 1234       Mar 11  2003    ../../etc/passwd",
            "- [RWCEAFMS] user                 1234       Mar 11  2003    file.txt",
        ], shown: ["login", "file.txt"], refusals: ["contains '/'"]),
        DialectCase(dialect: "VMS", lines: [
            "Directory DISK$USER:[JONES]",
            "LOGIN.COM;3              2/3         12-JAN-2019 10:20:30  [STAFF,JONES]  (RWED,RWED,RE,)",
            "\(longName).TXT;1   2/4   12-JAN-2019 10:20:30  [GROUP,OWNER]  (RWED,RWED,RE,)",
            "FILE.TXT;1   2/4   12-JAN-2019 10:20:30  [GROUP,OWNER]  (RWED,RWED,RE,)",
        ], shown: ["LOGIN.COM", "FILE.TXT"], refusals: ["name longer than 255 bytes"]),
    ]

    @Test(arguments: otherDialects)
    func otherDialectsSkipOnlyTheHostileEntries(_ testCase: DialectCase) {
        let result = ListParser(now: captureTime).parse(lines: testCase.lines)
        #expect(result.entries.map(\.name) == testCase.shown)
        #expect(result.refused.map(\.reason) == testCase.refusals)
    }

    // MARK: - Names

    @Test(arguments: hostileNames.map(\.name) + ["", ".", ".."])
    func unsafeNamesAreNotSafe(_ name: String) {
        #expect(!ListingEntry.isSafeName(name))
        #expect(ListingEntry(name: name, kind: .file).problem != nil)
    }

    @Test(arguments: [longestName, "...", ".hidden", "name -> arrow", " leading space", "tab\there",
                      "\u{6587}\u{4EF6}.txt", "back\\slash", "percent%2F"])
    func ordinaryNamesAreSafe(_ name: String) {
        #expect(ListingEntry.isSafeName(name))
        #expect(ListingEntry(name: name, kind: .file).problem == nil)
    }

    @Test func aLinkTargetWithNULIsRefusedButOtherTargetsAreNot() {
        #expect(ListingEntry(name: "l", kind: .symlink, linkTarget: "a\u{0}b").problem == "link target contains NUL")
        #expect(ListingEntry(name: "l", kind: .symlink, linkTarget: "../a b/c").problem == nil)
    }

    // MARK: - The log line

    @Test func theSummaryNamesWhatWasSkippedAndWhy() throws {
        let result = ListParser(now: captureTime).parse(lines: [
            "-rw-r--r--    1 0        0               2 Nov 21 16:36 a/b",
            "-rw-r--r--    1 0        0               2 Nov 21 16:36 evil\r\u{1B}[2J",
            "garbage",
            "-rw-r--r--    1 0        0               2 Nov 21 16:36 good",
        ])
        let summary = try #require(result.summary(undecodableLines: 2))
        #expect(summary == #"skipped 2 entries: "a/b" (contains '/'), "evil\r\u{1B}[2J" (contains CR or LF); "#
            + #"1 line not understood ("garbage"); 2 lines could not be decoded from the server's encoding "#
            + "(see -o encoding=)")
        #expect(!summary.contains("\r") && !summary.contains("\u{1B}"), "names are escaped in the log")
    }

    @Test func theSummaryNamesAFewAndCountsTheRest() throws {
        let lines = (0..<10).map { "-rw-r--r--    1 0        0               2 Nov 21 16:36 dir/\($0)" }
        let summary = try #require(ListParser(now: captureTime).parse(lines: lines).summary())
        #expect(summary.hasPrefix("skipped 10 entries: \"dir/0\" (contains '/'), \"dir/1\""))
        #expect(summary.hasSuffix(", and 7 more"))
    }

    @Test func aCleanListingHasNoSummary() {
        let result = ListParser(now: captureTime).parse(lines: [
            "total 1", "-rw-r--r--    1 0        0               2 Nov 21 16:36 good",
        ])
        #expect(result.summary() == nil)
    }
}
