import Testing

@testable import FTPProtocol

@Suite struct FTPTimestampTests {
    @Test(arguments: [
        ("20190305142210", "20190305142210", Int32(0)),  // MDTM from vsftpd, ProFTPD, Pure-FTPd
        ("20190410161111.468", "20190410161111", 468_000_000),  // IIS
        ("20190410161111.5", "20190410161111", 500_000_000),
        ("20190410161111.123456789", "20190410161111", 123_456_789),
        ("20190410161111.123456789999", "20190410161111", 123_456_789),  // extra digits dropped
        ("  20240229235959\r\n", "20240229235959", 0),  // leap day, whitespace around
        ("20000229000000", "20000229000000", 0),  // divisible by 400: leap
        ("19700101000000", "19700101000000", 0),
        ("19691231235959", "19691231235959", 0),  // before the epoch
        ("20161231235960", "20161231235959", 0),  // a leap second counts as :59
    ] as [(String, String, Int32)])
    func parsesTimeVal(_ text: String, timeVal: String, nanoseconds: Int32) throws {
        let time = try #require(FTPTimestamp.parseTimeVal(text))
        #expect(time.timeVal == timeVal)
        #expect(time.nanoseconds == nanoseconds)
    }

    @Test(arguments: [
        "", "2019030514221", "20190305142210.", "20190305142210Z", "2019-03-05 14:22",
        "20230229000000",  // not a leap year
        "19000229000000",  // divisible by 100, not 400
        "20191301000000", "20190001000000", "20190100000000", "20190431000000",
        "20190101240000", "20190101006000", "20190101000061",
        "2019010100000a", "20190101000000.12a", "+2019010100000",
    ])
    func rejectsTimeVal(_ text: String) {
        #expect(FTPTimestamp.parseTimeVal(text) == nil)
    }

    @Test func epochArithmetic() throws {
        #expect(FTPTimestamp(year: 1970, month: 1, day: 1)?.seconds == 0)
        #expect(FTPTimestamp(year: 2001, month: 9, day: 9, hour: 1, minute: 46, second: 40)?.seconds == 1_000_000_000)
        #expect(FTPTimestamp(year: 1969, month: 12, day: 31, hour: 23, minute: 59, second: 59)?.seconds == -1)
        let components = FTPTimestamp(seconds: -1).components
        #expect(components.year == 1969 && components.month == 12 && components.day == 31)
        #expect(components.hour == 23 && components.minute == 59 && components.second == 59)
        #expect(FTPTimestamp(seconds: 951_782_400).timeVal == "20000229000000")
    }

    @Test func calendarValidation() {
        #expect(FTPTimestamp(year: 2024, month: 2, day: 29) != nil)
        #expect(FTPTimestamp(year: 2025, month: 2, day: 29) == nil)
        #expect(FTPTimestamp(year: 2025, month: 4, day: 31) == nil)
        #expect(FTPTimestamp(year: 2025, month: 0, day: 1) == nil)
        #expect(FTPTimestamp(year: 2025, month: 1, day: 1, hour: 24) == nil)
        #expect(FTPTimestamp(year: 2025, month: 1, day: 1, nanoseconds: 1_000_000_000) == nil)
    }

    @Test func ordering() {
        let earlier = FTPTimestamp(seconds: 10, nanoseconds: 999_999_999)
        let later = FTPTimestamp(seconds: 11)
        #expect(earlier < later)
        #expect(FTPTimestamp(seconds: 11, nanoseconds: 1) > later)
        #expect(later.description == "19700101000011")
    }
}
