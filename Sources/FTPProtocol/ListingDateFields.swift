/// Readers for the date and time fields of LIST output: month names (English and the abbreviations
/// `ls` prints in other locales), days, years, clock times.
enum ListingDateFields {
    /// The month (1...12) named by the field at `range`, case-insensitive: `Jan`, `jan.`, `Mär`,
    /// `févr.`, `Okt`, `dic`, `янв`, or the numbered CJK forms `11月` and `11월`. Nil otherwise.
    static func month(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        var end = range.upperBound
        if end > range.lowerBound, bytes[end - 1] == .period { end -= 1 }
        let length = end - range.lowerBound
        guard length >= 2 else { return nil }
        let first = bytes[range.lowerBound]
        if first.isASCIIDigit {
            return numberedMonth(bytes, range.lowerBound..<end)
        }
        guard length <= 8 else { return nil }
        var key: UInt64 = 0
        for index in stride(from: end - 1, through: range.lowerBound, by: -1) {
            key = key << 8 | UInt64(bytes[index].asciiLowercased)
        }
        return monthsByName[key]
    }

    /// `11月` (Chinese, Japanese) or `11월` (Korean), as `ls` prints months in those locales.
    private static func numberedMonth(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        var digitsEnd = range.lowerBound
        while digitsEnd < range.upperBound, bytes[digitsEnd].isASCIIDigit { digitsEnd += 1 }
        guard hasSuffix(bytes, digitsEnd..<range.upperBound, oneOf: monthSuffixes),
            let month = bytes.decimal(range.lowerBound..<digitsEnd), (1...12).contains(month)
        else { return nil }
        return month
    }

    /// A day of the month, 1...31, possibly followed by `.` (German `21. Nov`) or `日`/`일`.
    static func day(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        var digitsEnd = range.lowerBound
        while digitsEnd < range.upperBound, bytes[digitsEnd].isASCIIDigit { digitsEnd += 1 }
        let digits = range.lowerBound..<digitsEnd
        guard (1...2).contains(digits.count), let day = bytes.decimal(digits), (1...31).contains(day)
        else { return nil }
        let suffix = digitsEnd..<range.upperBound
        if suffix.isEmpty { return day }
        if suffix.count == 1, bytes[digitsEnd] == .period { return day }
        return hasSuffix(bytes, suffix, oneOf: daySuffixes) ? day : nil
    }

    /// A four-digit year, possibly followed by `年`/`년`.
    static func year(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        guard range.count >= 4 else { return nil }
        let digits = range.lowerBound..<(range.lowerBound + 4)
        guard let year = bytes.decimal(digits) else { return nil }
        let suffix = digits.upperBound..<range.upperBound
        if suffix.isEmpty || hasSuffix(bytes, suffix, oneOf: yearSuffixes) { return year }
        return nil
    }

    struct ClockTime {
        var hour: Int
        var minute: Int
        var second = 0
        var nanoseconds: Int32 = 0
    }

    /// `H:MM`, `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fraction`, in 24-hour form.
    static func clockTime(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> ClockTime? {
        guard let firstColon = bytes.firstIndex(of: .colon, in: range) else { return nil }
        let hourDigits = range.lowerBound..<firstColon
        let minuteDigits = (firstColon + 1)..<min(firstColon + 3, range.upperBound)
        guard (1...2).contains(hourDigits.count), minuteDigits.count == 2,
            let hour = bytes.decimal(hourDigits), hour < 24,
            let minute = bytes.decimal(minuteDigits), minute < 60
        else { return nil }
        var time = ClockTime(hour: hour, minute: minute)
        var index = minuteDigits.upperBound
        if index == range.upperBound { return time }
        guard bytes[index] == .colon, index + 3 <= range.upperBound,
            let second = bytes.decimal((index + 1)..<(index + 3)), second <= 60
        else { return nil }
        time.second = second
        index += 3
        if index == range.upperBound { return time }
        let fraction = (index + 1)..<range.upperBound
        guard bytes[index] == .period, bytes.allDigits(fraction) else { return nil }
        var scale: Int32 = 100_000_000
        for digit in fraction.prefix(9) {
            time.nanoseconds += Int32(bytes[digit] &- 0x30) * scale
            scale /= 10
        }
        return time
    }

    /// Whether `range` is exactly one of `suffixes`.
    private static func hasSuffix(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                                  oneOf suffixes: [[UInt8]]) -> Bool
    {
        suffixes.contains { suffix in
            suffix.count == range.count && zip(suffix, range).allSatisfy { bytes[$1] == $0 }
        }
    }

    private static let monthSuffixes: [[UInt8]] = [Array("月".utf8), Array("월".utf8)]
    private static let daySuffixes: [[UInt8]] = [Array("日".utf8), Array("일".utf8)]
    private static let yearSuffixes: [[UInt8]] = [Array("年".utf8), Array("년".utf8)]

    /// Month abbreviations keyed by their lower-cased UTF-8 bytes packed little-endian into a
    /// UInt64 (every entry is at most 8 bytes), so a lookup costs one hash and no allocation.
    /// English first; then the forms `ls` prints in German, French, Spanish, Italian,
    /// Portuguese, Dutch, Swedish, Polish and Russian locales (a trailing `.` is removed first).
    private static let monthsByName: [UInt64: Int] = {
        let names: [(Int, [String])] = [
            (1, ["jan", "january", "jän", "janv", "ene", "gen", "sty", "янв"]),
            (2, ["feb", "february", "févr", "fevr", "fév", "fev", "lut", "фев"]),
            (3, ["mar", "march", "mär", "mrz", "märz", "mars", "mrt", "мар"]),
            (4, ["apr", "april", "avr", "avril", "abr", "kwi", "апр"]),
            (5, ["may", "mai", "mag", "mei", "maj", "мая", "май"]),
            (6, ["jun", "june", "juin", "juni", "giu", "cze", "июн"]),
            (7, ["jul", "july", "juil", "juli", "lug", "lip", "июл"]),
            (8, ["aug", "august", "août", "aout", "ago", "sie", "авг"]),
            (9, ["sep", "sept", "set", "wrz", "сен"]),
            (10, ["oct", "october", "okt", "ott", "out", "paź", "окт"]),
            (11, ["nov", "november", "lis", "ноя"]),
            (12, ["dec", "december", "dez", "déc", "dic", "gru", "дек"]),
        ]
        var table: [UInt64: Int] = [:]
        for (month, spellings) in names {
            for spelling in spellings {
                let utf8 = Array(spelling.utf8)
                precondition(utf8.count <= 8, "month key longer than 8 bytes: \(spelling)")
                var key: UInt64 = 0
                for byte in utf8.reversed() { key = key << 8 | UInt64(byte) }
                table[key] = month
            }
        }
        return table
    }()
}
