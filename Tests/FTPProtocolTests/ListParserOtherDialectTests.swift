import Testing

@testable import FTPProtocol

/// IIS and other Windows servers (`MM-DD-YY  HH:MMAM  <DIR>|size  name`).
let dosLines: [ListingCase] = [
    ListingCase("02-23-19  09:15PM       <DIR>          Program Files", "Program Files", .directory, nil, "20190223211500"),
    ListingCase("02-23-19  09:15PM             12345678 setup.exe", "setup.exe", .file, 12_345_678, "20190223211500"),
    ListingCase("11-21-26  12:05AM                  512 midnight.log", "midnight.log", .file, 512, "20261121000500"),
    ListingCase("11-21-26  12:05PM                  512 noon.log", "noon.log", .file, 512, "20261121120500"),
    ListingCase("07-04-98  03:30AM                 1024 old98.txt", "old98.txt", .file, 1024, "19980704033000"),
    ListingCase("01-01-70  12:00AM                    0 epoch.txt", "epoch.txt", .file, 0, "19700101000000"),
    ListingCase("01-01-69  01:00PM                    1 sixty-nine.txt", "sixty-nine.txt", .file, 1, "20690101130000"),
    ListingCase("03-15-21  10:00am                  100 lower-case-am.txt", "lower-case-am.txt", .file, 100, "20210315100000"),
    ListingCase("03-15-21  10:00 PM                 100 spaced-pm.txt", "spaced-pm.txt", .file, 100, "20210315220000"),
    // 24-hour clock and four-digit years (IIS with FtpDirBrowseShowLongDate, other servers).
    ListingCase("11-21-2026  16:36       <DIR>          Neuer Ordner", "Neuer Ordner", .directory, nil, "20261121163600"),
    ListingCase("06-30-2024  11:59PM       <DIR>          .git", ".git", .directory, nil, "20240630235900"),
    ListingCase("11-21-2026  16:36                1,234 comma separated.txt", "comma separated.txt", .file, 1234, "20261121163600"),
    ListingCase("11-21-2026  16:36            1.234.567 dot separated.txt", "dot separated.txt", .file, 1_234_567, "20261121163600"),
    ListingCase("2026-11-21  16:36                   42 iso-date.txt", "iso-date.txt", .file, 42, "20261121163600"),
    ListingCase("21.11.2026  16:36                    7 punkt-datum.txt", "punkt-datum.txt", .file, 7, "20261121163600"),
    ListingCase("06-30-24  11:59PM           5368709120 disk.vhdx", "disk.vhdx", .file, 5_368_709_120, "20240630235900"),
    // Names with inner and leading spaces: the name starts one space after the size.
    ListingCase("03-15-21  10:00AM                  100 name  with   spaces.doc", "name  with   spaces.doc", .file, 100, "20210315100000"),
    ListingCase("03-15-21  10:00AM                  100  leading.doc", " leading.doc", .file, 100, "20210315100000"),
]

/// EPLF (publicfile and friends).
let eplfLines: [ListingCase] = [
    ListingCase("+i8388621.29609,m824255902,/,\tdev", "dev", .directory, nil, "19960213235822"),
    ListingCase("+i8388621.44468,m839956783,r,s10376,\tRFCEPLF", "RFCEPLF", .file, 10376, "19960813171943"),
    ListingCase("+r,s1234,m1700000000,\tname with spaces.txt", "name with spaces.txt", .file, 1234, "20231114221320"),
    ListingCase("+/,m1000000000,\tno id dir", "no id dir", .directory, nil, "20010909014640"),
    ListingCase("+i1.2,r,s0,up644,\tempty", "empty", .file, 0, nil, mode: 0o644),
]

/// Novell NetWare.
let netWareLines: [ListingCase] = [
    ListingCase("d [R----F--] supervisor            512       Jan 16 18:53    login", "login", .directory, 512, "20260116185300"),
    ListingCase("- [RWCEAFMS] user                 1234       Mar 11  2003    file.txt", "file.txt", .file, 1234, "20030311000000"),
    ListingCase("- [R----F--] rhea               214059       Oct 20 15:27    cx.exe", "cx.exe", .file, 214_059, "20261020152700"),
    ListingCase("d [RWCEAFMS] admin                 512       Dec 24  2019    PUBLIC FILES", "PUBLIC FILES", .directory, 512, "20191224000000"),
    ListingCase("- [RWCEAFMS] jdoe                    0       Nov 21 10:00    empty.dat", "empty.dat", .file, 0, "20261121100000"),
]

/// OpenVMS (MultiNet, TCPware, TCP/IP Services): blocks of 512 bytes, versions stripped.
let vmsLines: [ListingCase] = [
    ListingCase("LOGIN.COM;3              2/3         12-JAN-2019 10:20:30  [STAFF,JONES]  (RWED,RWED,RE,)",
                "LOGIN.COM", .file, 1024, "20190112102030", mode: 0o750),
    ListingCase("ARCHIVE.DIR;1            1/3          3-MAR-2020 08:01:02  [STAFF,JONES]  (RWE,RWE,RE,E)",
                "ARCHIVE", .directory, 512, "20200303080102", mode: 0o751),
    ListingCase("FILE.TXT;1   2/4   12-JAN-2019 10:20:30  [GROUP,OWNER]  (RWED,RWED,RE,)",
                "FILE.TXT", .file, 1024, "20190112102030", mode: 0o750),
    ListingCase("README.;1                  5  1-FEB-2021 00:00  [SYSTEM]  (RWED,RWED,RWED,RE)",
                "README.", .file, 2560, "20210201000000", mode: 0o775),
    ListingCase("DATA.CSV;12            117/120      28-FEB-2024 23:59:59.99  [PROJ,ANALYST]  (RWED,RWED,R,R)",
                "DATA.CSV", .file, 59904, "20240228235959", mode: 0o744),
    ListingCase("SECRET.DAT;1        %RMS-E-PRV, insufficient privilege or file protection violation",
                "SECRET.DAT", .file, nil, nil),
    ListingCase("UNKNOWN.BIN;1            ****        1-JAN-2000 12:00:00", "UNKNOWN.BIN", .file, nil, "20000101120000"),
    ListingCase("notes.txt;1  1/1  9-SEP-2023 09:09:09  [USER]  (RWED,RWED,,)", "notes.txt", .file, 512, "20230909090909", mode: 0o700),
    ListingCase("2019REPORT.PS;2   40/42   7-JUL-2019 07:07:07", "2019REPORT.PS", .file, 20480, "20190707070707"),
]

/// Lines no dialect may turn into an entry.
let rejectedListingLines: [String] = [
    "",
    "   ",
    "total 188",
    "this is not a listing",
    "550 No files found",
    // truncated Unix lines
    "-rw-r--r--    1 0        0               2 Nov 21 16:36",
    "-rw-r--r--    1 0        0               2 Nov 21 16:36 ",
    "-rw-r--r--    1 0        0               2 Nov 21",
    "-rw-r--r--    1 0        0               2",
    "-rw-r--r--",
    "drwxr-xr-x",
    // unsafe names
    "drwxr-xr-x    6 1002     0            4096 Nov 21 16:36 .",
    "drwxr-xr-x    6 0        0            4096 Nov 21 16:36 ..",
    "-rw-r--r--    1 0        0               2 Nov 21 16:36 sub/file",
    "lrwxrwxrwx    1 0        0               2 Nov 21 16:36 ../escape -> /etc/passwd",
    "-rw-r--r--    1 0        0               2 Nov 21 16:36 /etc/passwd",
    "-rw-r--r--    1 0        0               2 Nov 21 16:36 nul\u{0}byte",
    // impossible fields
    "xrw-r--r--    1 0        0               2 Nov 21 16:36 bad-type",
    "-rw-r--r-Q    1 0        0               2 Nov 21 16:36 bad-mode",
    "-rw-r--r--    1 0        0               2 Foo 21 16:36 bad-month",
    "-rw-r--r--    1 0        0               2 Nov 32 16:36 bad-day",
    "-rw-r--r--    1 0        0               2 Nov 21 25:61 bad-time",
    // DOS
    "02-23-19  09:15PM       <DIR>",
    "02-23-19  09:15PM       <DIR>          ..",
    "13-45-19  09:15PM                  12 bad-date.txt",
    "02-23-19  13:15PM                  12 bad-hour.txt",
    "02-23-19  09:15PM                 12x bad-size.txt",
    // EPLF
    "+i8388621.29609,m824255902,/,dev-without-tab",
    "+r,s1,\t",
    "+r,s1,\t..",
    "+r,s1,\ta/b",
    // NetWare
    "d [R----F--] supervisor            512       Jan 16 18:53    ..",
    "d R----F-- supervisor            512       Jan 16 18:53    no-brackets",
    // VMS
    "LONGNAME_THAT_WRAPPED.TXT;1",
    "FILE.TXT;X   2/4   12-JAN-2019 10:20:30",
    "FILE.TXT;1   2/4   12-XYZ-2019 10:20:30",
    "FILE.TXT;1   2/x   12-JAN-2019 10:20:30",
    "Directory DISK$USER:[JONES]",
    "Total of 3 files, 20/24 blocks.",
]

@Suite struct OtherDialectListingTests {
    @Test(arguments: dosLines)
    func dos(_ testCase: ListingCase) throws {
        try testCase.verify(ListParser(now: testCase.now).parse(line: testCase.line))
    }

    @Test(arguments: eplfLines)
    func eplf(_ testCase: ListingCase) throws {
        try testCase.verify(ListParser(now: testCase.now).parse(line: testCase.line))
    }

    @Test(arguments: netWareLines)
    func netWare(_ testCase: ListingCase) throws {
        try testCase.verify(ListParser(now: testCase.now).parse(line: testCase.line))
    }

    @Test(arguments: vmsLines)
    func vms(_ testCase: ListingCase) throws {
        try testCase.verify(ListParser(now: testCase.now).parse(line: testCase.line))
    }

    @Test(arguments: rejectedListingLines)
    func rejected(_ line: String) {
        #expect(ListParser(now: captureTime).parse(line: line) == nil)
    }

    @Test func vmsHundredthsAreKept() throws {
        let entry = try #require(ListParser(now: captureTime).parse(
            line: "DATA.CSV;12  117/120  28-FEB-2024 23:59:59.99  [PROJ,ANALYST]  (RWED,RWED,R,R)"))
        #expect(entry.modified?.nanoseconds == 990_000_000)
    }

    @Test func vmsListingJoinsWrappedEntriesAndKeepsTheNewestVersion() {
        let lines = [
            "",
            "Directory USER1:[JONES]",
            "",
            "A_VERY_LONG_FILE_NAME_THAT_DOES_NOT_FIT_THE_COLUMN.TXT;2",
            "                        10/12       5-MAY-2022 14:30:00  [STAFF,JONES]  (RWED,RWED,RE,)",
            "LOGIN.COM;3              2/3         12-JAN-2019 10:20:30  [STAFF,JONES]  (RWED,RWED,RE,)",
            "LOGIN.COM;2              1/3         11-JAN-2019 09:00:00  [STAFF,JONES]  (RWED,RWED,RE,)",
            "MAIL.DIR;1               1/3          3-MAR-2020 08:01:02  [STAFF,JONES]  (RWE,RWE,RE,E)",
            "TRAILING_WRAP_WITHOUT_REST.DAT;1",
            "",
            "Total of 4 files, 14/21 blocks.",
        ]
        let result = ListParser(now: captureTime).parse(lines: lines)
        #expect(result.entries.map(\.name)
            == ["A_VERY_LONG_FILE_NAME_THAT_DOES_NOT_FIT_THE_COLUMN.TXT", "LOGIN.COM", "MAIL"])
        #expect(result.entries.first?.size == 5120)
        #expect(result.entries.first?.modified?.timeVal == "20220505143000")
        #expect(result.entries[1].modified?.timeVal == "20190112102030")
        #expect(result.skipped == ["TRAILING_WRAP_WITHOUT_REST.DAT;1"])
    }

    @Test func wrappedLinesAreJoinedOnlyForVMS() {
        // An unknown line followed by an indented one must not be glued into something else.
        let lines = ["garbage", "  -rw-r--r-- 1 u g 1 Nov 21 16:36 indented"]
        let result = ListParser(now: captureTime).parse(lines: lines)
        #expect(result.skipped == ["garbage"])
        #expect(result.entries.map(\.name) == ["indented"])
    }

    @Test func iisListingAsAWhole() {
        let lines = [
            "02-23-19  09:15PM       <DIR>          aspnet_client",
            "11-03-25  10:02AM                  689 iisstart.htm",
            "11-03-25  10:02AM                98757 iisstart.png",
        ]
        let result = ListParser(now: captureTime).parse(lines: lines)
        #expect(result.entries.map(\.name) == ["aspnet_client", "iisstart.htm", "iisstart.png"])
        #expect(result.entries.map(\.kind) == [.directory, .file, .file])
        #expect(result.skipped.isEmpty)
    }
}
