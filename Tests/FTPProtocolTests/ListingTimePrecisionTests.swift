import Testing

@testable import FTPProtocol

/// A listing time given to the minute (or the day) is always a whole minute, and one given to
/// the second keeps its seconds. The block cache relies on it: blocks keyed to a whole-minute
/// time serve only the mount that read them (`ContentVersion.persistsAcrossMounts`), since a
/// file rewritten within that minute at the same size would keep its key.
@Suite struct ListingTimePrecisionTests {
    static let toTheMinute = [
        "-rw-r--r--    1 1001     0            1234 Nov 21 16:36 recent.txt",
        "-rw-r--r--    1 1001     0            1234 Jan  1  2019 old.txt",
        "-rw-r--r--    1 1001     0            1234 2026-11-21 16:36 long-iso.txt",
        "-rw-r--r--    1 1001     0            1234 21 Nov 16:36 day-first.txt",
        "02-23-19  09:15PM             12345678 setup.exe",
        "- [RWCEAFMS] user                 1234       Mar 11  2003    file.txt",
        "README.;1                  5  1-FEB-2021 00:00  [SYSTEM]  (RWED,RWED,RWED,RE)",
    ]

    @Test(arguments: toTheMinute)
    func timesToTheMinuteAreWholeMinutes(_ line: String) throws {
        let entry = try #require(ListParser(now: captureTime).parse(line: line))
        let modified = try #require(entry.modified)
        #expect(modified.seconds % 60 == 0 && modified.nanoseconds == 0, "\(modified)")
    }

    @Test(arguments: [
        ("-rw-r--r--    1 1001     0            1234 2026-11-21 16:36:23.500000000 +0100 full-iso.txt", 23),
        ("FILE.TXT;1   2/4   12-JAN-2019 10:20:30  [GROUP,OWNER]  (RWED,RWED,RE,)", 30),
        ("+r,s1234,m1700000000,\tname.txt", 20),
    ])
    func timesToTheSecondKeepTheirSeconds(_ line: String, _ second: Int64) throws {
        let entry = try #require(ListParser(now: captureTime).parse(line: line))
        #expect(entry.modified.map { $0.seconds % 60 } == second)
    }

    @Test func machineListingTimesKeepTheirSeconds() throws {
        let entry = try #require(MLSDParser.parse(line: "type=file;size=1;modify=20261121163623; a"))
        #expect(entry.modified.map { $0.seconds % 60 } == 23)
    }
}
