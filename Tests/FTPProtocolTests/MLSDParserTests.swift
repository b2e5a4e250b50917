import Testing

@testable import FTPProtocol

/// MLSD lines captured from pyftpdlib 1.5.7, ProFTPD 1.3.8 and Pure-FTPd 1.0.50 listing one
/// directory of awkward names, then forms other servers send.
let mlsdLines: [ListingCase] = [
    // pyftpdlib: lists a symlink's target facts, no UNIX.mode by default
    ListingCase("modify=20261121163623;perm=radfwMT;size=1234;type=file;unique=fe00gf78047; link-to-plain",
                "link-to-plain", .file, 1234, "20261121163623"),
    ListingCase("modify=20261121163623;perm=radfwMT;size=3;type=file;unique=fe00gf7804a; trailing spaces  ",
                "trailing spaces  ", .file, 3, "20261121163623"),
    ListingCase("modify=20261121163623;perm=radfwMT;size=3;type=file;unique=fe00gf78049;   leading spaces",
                "  leading spaces", .file, 3, "20261121163623"),
    ListingCase("modify=20261121163623;perm=eldfmMTcp;size=4096;type=dir;unique=fe00gf7859d; dir with space",
                "dir with space", .directory, 4096, "20261121163623"),
    ListingCase("modify=20261121163623;perm=radfwMT;size=2;type=file;unique=fe00gf7804d; semi;colon=equals.txt",
                "semi;colon=equals.txt", .file, 2, "20261121163623"),
    ListingCase("modify=20261121163623;perm=radfwMT;size=2;type=file;unique=fe00gf785aa; tab\tname",
                "tab\tname", .file, 2, "20261121163623"),
    ListingCase("modify=19991231235959;perm=radfwMT;size=2;type=file;unique=fe00gf785a8; y2k",
                "y2k", .file, 2, "19991231235959"),
    ListingCase("modify=20261121163623;perm=radfwMT;size=5368709120;type=file;unique=fe00gf785a6; huge.img",
                "huge.img", .file, 5_368_709_120, "20261121163623"),
    // ProFTPD: `OS.unix=symlink` without a target; directories have no size
    ListingCase("modify=20261121163623;perm=adfr;size=9;type=OS.unix=symlink;unique=FE00UF78047;UNIX.group=0;UNIX.groupname=ftpcapuser;UNIX.mode=0777;UNIX.owner=0;UNIX.ownername=ftpcapuser; link-to-plain",
                "link-to-plain", .symlink, 9, "20261121163623", mode: 0o777),
    ListingCase("modify=20261121163623;perm=adfr;size=2;type=file;unique=FE00UF785A4;UNIX.group=0;UNIX.groupname=ftpcapuser;UNIX.mode=04644;UNIX.owner=0;UNIX.ownername=ftpcapuser; bigS",
                "bigS", .file, 2, "20261121163623", mode: 0o4644),
    ListingCase("modify=20261121163623;perm=flcdmp;type=dir;unique=FE00UF785A5;UNIX.group=0;UNIX.groupname=ftpcapuser;UNIX.mode=01776;UNIX.owner=0;UNIX.ownername=ftpcapuser; bigT",
                "bigT", .directory, nil, "20261121163623", mode: 0o1776),
    ListingCase("modify=20261121163623;perm=adfr;size=2;type=file;unique=FE00UF7804C;UNIX.group=0;UNIX.groupname=ftpcapuser;UNIX.mode=0644;UNIX.owner=0;UNIX.ownername=ftpcapuser; arrow -> not a link",
                "arrow -> not a link", .file, 2, "20261121163623", mode: 0o644),
    ListingCase("modify=20240229120000;perm=adfr;size=2;type=file;unique=FE00UF785AB;UNIX.group=0;UNIX.groupname=ftpcapuser;UNIX.mode=0644;UNIX.owner=0;UNIX.ownername=ftpcapuser; leap",
                "leap", .file, 2, "20240229120000", mode: 0o644),
    ListingCase("modify=20261121163623;perm=adfr;size=2;type=file;unique=FE00UF7804E;UNIX.group=0;UNIX.groupname=ftpcapuser;UNIX.mode=0644;UNIX.owner=0;UNIX.ownername=ftpcapuser; ünïcödé.txt",
                "ünïcödé.txt", .file, 2, "20261121163623", mode: 0o644),
    // Pure-FTPd: `OS.unix=slink:` with an empty target, `sizd` for directories, `unknown` for
    // fifos, sockets and devices
    ListingCase("type=OS.unix=slink:;size=19;modify=20261121163623;UNIX.mode=0777;UNIX.uid=0;UNIX.gid=0;unique=fe00gf78050; dangling",
                "dangling", .symlink, 19, "20261121163623", mode: 0o777),
    ListingCase("type=dir;sizd=4096;modify=20261121163623;UNIX.mode=01777;UNIX.uid=0;UNIX.gid=0;unique=fe00gf785a3; sticky",
                "sticky", .directory, 4096, "20261121163623", mode: 0o1777),
    ListingCase("type=unknown;size=0;modify=20261121163623;UNIX.mode=0644;UNIX.uid=0;UNIX.gid=0;unique=fe00gf7859e; fifo",
                "fifo", .other, 0, "20261121163623", mode: 0o644),
    ListingCase("type=file;size=2;modify=20261121163623;UNIX.mode=02755;UNIX.uid=0;UNIX.gid=0;unique=fe00gf785a2; setgid",
                "setgid", .file, 2, "20261121163623", mode: 0o2755),
    ListingCase("type=file;size=3;modify=20261121163623;UNIX.mode=0644;UNIX.uid=0;UNIX.gid=0;unique=fe00gf7804b; double  space  name",
                "double  space  name", .file, 3, "20261121163623", mode: 0o644),
    // Symlink targets in the type fact, fact names and values in any case
    ListingCase("type=OS.unix=slink:/etc/hosts;size=10;modify=20200101000000; hosts-link",
                "hosts-link", .symlink, 10, "20200101000000", target: "/etc/hosts"),
    ListingCase("type=OS.unix=slink:../a b/c;modify=20200101000000; spaced-target",
                "spaced-target", .symlink, nil, "20200101000000", target: "../a b/c"),
    ListingCase("Type=OS.UNIX=SymLink:target;Size=3; upper-symlink", "upper-symlink", .symlink, 3, nil, target: "target"),
    ListingCase("TYPE=DIR;MODIFY=20190410161111; SHOUTING", "SHOUTING", .directory, nil, "20190410161111"),
    ListingCase("type=OS.unix=chr-1/3;modify=20200101000000; null", "null", .other, nil, "20200101000000"),
    // IIS: fractional seconds; facts in another order
    ListingCase("Type=dir;Modify=20190410161111.468; aspnet_client", "aspnet_client", .directory, nil, "20190410161111"),
    ListingCase("size=689;type=file;modify=20251103100245.123456789123; iisstart.htm", "iisstart.htm", .file, 689, "20251103100245"),
    // UNIX.mode without a leading zero, or as a whole st_mode
    ListingCase("type=file;size=1;UNIX.mode=755; script.sh", "script.sh", .file, 1, nil, mode: 0o755),
    ListingCase("type=file;size=1;UNIX.mode=100600; full-st-mode", "full-st-mode", .file, 1, nil, mode: 0o600),
    // Names with `; ` inside: only the first `; ` ends the facts
    ListingCase("type=file;size=5; name; with; semicolons; ", "name; with; semicolons; ", .file, 5, nil),
    // Servers that drop the `;` after the last fact
    ListingCase("type=file;size=7 no-final-semicolon", "no-final-semicolon", .file, 7, nil),
    // An empty fact list (RFC 3659 allows it): nothing is known but the name
    ListingCase(" bare-name", "bare-name", .file, nil, nil),
    // Unparseable fact values leave the field empty but keep the entry
    ListingCase("type=file;size=lots;modify=yesterday;UNIX.mode=rwx; odd-values", "odd-values", .file, nil, nil),
]

let rejectedMLSDLines: [String] = [
    "",
    "type=cdir;sizd=4096;modify=20261121163708;UNIX.mode=0755;UNIX.uid=1002;UNIX.gid=0;unique=fe00gf78046; .",
    "type=pdir;sizd=4096;modify=20261121163708;UNIX.mode=0755;UNIX.uid=1002;UNIX.gid=0;unique=fe00gf78046; ..",
    "modify=20261121163655;perm=flcdmpe;type=cdir;unique=FE00UF78046; /tmp/ftpcap/tree",
    "type=dir;modify=20261121163655; ..",
    "type=dir;modify=20261121163655; .",
    "type=file;size=1; a/b",
    "type=file;size=1; /etc/passwd",
    "type=file;size=1; nul\u{0}byte",
    "type=file;size=1;",
    "type=file;size=1; ",
    "-rw-r--r--    1 0        0               2 Nov 21 16:36 a LIST line",
    "garbage without facts",
    "=novalue; name",
    "type=file;size; name",
]

@Suite struct MLSDParserTests {
    @Test(arguments: mlsdLines)
    func parsesLine(_ testCase: ListingCase) throws {
        try testCase.verify(MLSDParser.parse(line: testCase.line))
    }

    @Test(arguments: rejectedMLSDLines)
    func rejected(_ line: String) {
        #expect(MLSDParser.parse(line: line) == nil)
    }

    @Test func permAndUniqueAreKeptVerbatim() throws {
        let entry = try #require(MLSDParser.parse(
            line: "modify=20261121163623;perm=eldfmMTcp;size=4096;type=dir;unique=fe00gf7859d; dir with space"))
        #expect(entry.permissions == "eldfmMTcp")
        #expect(entry.unique == "fe00gf7859d")
    }

    @Test func fractionalModifyKeepsNanoseconds() throws {
        let entry = try #require(MLSDParser.parse(line: "type=file;modify=20190410161111.468; a"))
        #expect(entry.modified?.nanoseconds == 468_000_000)
    }

    @Test func wholeTransferSkipsOnlyUnusableLines() {
        let lines = [
            "type=cdir;sizd=4096;modify=20261121163708;UNIX.mode=0755; .",
            "type=pdir;sizd=4096;modify=20261121163708;UNIX.mode=0755; ..",
            "type=file;size=1;modify=20261121163623; a",
            "",
            "type=dir;modify=20261121163623; b",
            "type=file;size=1; escape/attempt",
            "not a fact line",
        ]
        let result = MLSDParser.parse(lines: lines)
        #expect(result.entries.map(\.name) == ["a", "b"])
        #expect(result.skipped == ["type=file;size=1; escape/attempt", "not a fact line"])
    }

    @Test(arguments: [
        // pyftpdlib: absolute path
        (["250-Listing \"/plain.txt\":",
          " modify=20261121163623;perm=radfwMT;size=1234;type=file;unique=fe00gf78047; /plain.txt",
          "250 End MLST."], "/plain.txt", ListingEntry.Kind.file, UInt64?.some(1234)),
        // ProFTPD: the server's own absolute path, spaces in it
        (["250-Start of list for spaced link",
          " modify=20261121163623;perm=adfr;size=19;type=file;unique=FE00UF7804B;UNIX.mode=0777; /tmp/ftpcap/tree/spaced link",
          "250 End of list"], "/tmp/ftpcap/tree/spaced link", .file, 19),
        // Pure-FTPd: relative name, `sizd` for a directory
        (["250-Begin",
          " type=dir;sizd=4096;modify=20261121163623;UNIX.mode=0755;UNIX.uid=0;UNIX.gid=0;unique=fe00gf7808c; subdir",
          "250 End."], "subdir", .directory, 4096),
        // MLST of the current directory reports it as cdir
        (["250-Listing /", " type=cdir;modify=20261121163623; /", "250 End"], "/", .directory, nil),
        // a server that repeats the code instead of indenting
        (["250-Listing a", "250-type=file;size=3; a", "250 End"], "a", .file, 3),
    ] as [([String], String, ListingEntry.Kind, UInt64?)])
    func mlstReply(lines: [String], name: String, kind: ListingEntry.Kind, size: UInt64?) throws {
        let entry = try #require(MLSDParser.parseMLSTReply(Reply(code: .fileActionOK, lines: lines)))
        #expect(entry.name == name)
        #expect(entry.kind == kind)
        #expect(entry.size == size)
    }

    @Test func mlstReplyWithoutAnEntry() {
        #expect(MLSDParser.parseMLSTReply(Reply(code: .fileActionOK, lines: ["250 OK"])) == nil)
        #expect(MLSDParser.parseMLSTReply(Reply(code: .fileActionOK,
                                                lines: ["250-Listing", "250 End"])) == nil)
        #expect(MLSDParser.parseMLSTReply(Reply(code: .fileActionOK,
                                                lines: ["250-Listing", " not facts", "250 End"])) == nil)
        // An empty fact list: the indent, then a second space, then the path.
        #expect(MLSDParser.parseMLSTReply(Reply(code: .fileActionOK,
                                                lines: ["250-Listing", "  /bare", "250 End"]))?.name == "/bare")
    }
}
