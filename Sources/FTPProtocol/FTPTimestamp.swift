/// A point in time as FTP servers express it, in UTC: seconds since the Unix epoch plus nanoseconds.
///
/// FTPProtocol uses no Foundation, so calendar arithmetic is done here with the proleptic
/// Gregorian algorithms (days from civil and back) that need no time zone database.
public struct FTPTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var seconds: Int64
    public var nanoseconds: Int32

    public init(seconds: Int64, nanoseconds: Int32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// A UTC calendar time; nil when a field is out of range (month 13, 31 February, hour 24...).
    public init?(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0,
                 nanoseconds: Int32 = 0)
    {
        guard (1...12).contains(month), day >= 1, day <= Self.daysInMonth(year: year, month: month),
            (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second),
            (0..<1_000_000_000).contains(nanoseconds)
        else { return nil }
        let days = Self.daysFromCivil(year: year, month: month, day: day)
        self.seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59))
        self.nanoseconds = nanoseconds
    }

    public static func < (lhs: FTPTimestamp, rhs: FTPTimestamp) -> Bool {
        (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
    }

    /// The UTC calendar fields of this time.
    public var components: (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = Self.civilFromDays(days)
        return (year, month, day, secondOfDay / 3600, secondOfDay % 3600 / 60, secondOfDay % 60)
    }

    /// Parses an RFC 3659 time-val, `YYYYMMDDHHMMSS[.sss...]`, as sent by MDTM, MLSD `modify=`
    /// and expected by MFMT. Surrounding whitespace is ignored; anything else makes it nil.
    /// Fraction digits beyond nanoseconds are accepted and dropped.
    public static func parseTimeVal<S: StringProtocol>(_ text: S) -> FTPTimestamp? {
        var text = String(text)
        return text.withUTF8 { bytes in
            var start = 0
            var end = bytes.count
            while start < end, isASCIIWhitespace(bytes[start]) { start += 1 }
            while end > start, isASCIIWhitespace(bytes[end - 1]) { end -= 1 }
            return parseTimeVal(bytes, start..<end)
        }
    }

    /// The time-val in `range` of `bytes`, with nothing around it.
    static func parseTimeVal(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> FTPTimestamp? {
        guard range.count >= 14 else { return nil }
        let base = range.lowerBound
        func number(_ offset: Int, _ length: Int) -> Int? {
            bytes.decimal((base + offset)..<(base + offset + length))
        }
        guard let year = number(0, 4), let month = number(4, 2), let day = number(6, 2),
            let hour = number(8, 2), let minute = number(10, 2), let second = number(12, 2)
        else { return nil }
        var nanoseconds: Int32 = 0
        if range.count > 14 {
            let fraction = (base + 15)..<range.upperBound
            guard bytes[base + 14] == .period, bytes.allDigits(fraction) else { return nil }
            var scale: Int32 = 100_000_000
            for index in fraction.prefix(9) {
                nanoseconds += Int32(bytes[index] &- 0x30) * scale
                scale /= 10
            }
        }
        return FTPTimestamp(year: year, month: month, day: day, hour: hour, minute: minute,
                            second: second, nanoseconds: nanoseconds)
    }

    /// This time as an RFC 3659 time-val without fraction, `YYYYMMDDHHMMSS`, for MFMT and MDTM.
    public var timeVal: String {
        let c = components
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(c.year, 4) + pad(c.month, 2) + pad(c.day, 2) + pad(c.hour, 2) + pad(c.minute, 2)
            + pad(c.second, 2)
    }

    public var description: String { timeVal }

    static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilFromDays(_ days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }
}

@inline(__always) func isASCIIWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
}
