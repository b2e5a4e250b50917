/// DOS-style lines as IIS and other Windows servers send them.
///
/// ```
/// 02-23-19  09:15PM       <DIR>          Program Files
/// 02-23-19  09:15PM             12345678 setup.exe
/// 11-21-2026  16:36                 1,234 report 2026.xlsx
/// ```
extension ListParser {
    func parseDOS(_ line: LineBytes) -> ListingEntry? {
        let bytes = line.bytes
        guard line.fieldCount >= 4, let date = Self.dosDate(bytes, line[field: 0].range),
            var time = Self.dosTime(bytes, line[field: 1].range)
        else { return nil }
        var sizeIndex = 2
        // Some servers put a space before AM/PM.
        if time.meridiem == nil, let meridiem = Self.meridiem(bytes, line[field: 2].range) {
            guard let hour = Self.twentyFourHour(time.hour, meridiem) else { return nil }
            time.hour = hour
            sizeIndex = 3
        }
        guard sizeIndex + 1 < line.fieldCount else { return nil }
        let sizeField = line[field: sizeIndex]
        let modified = FTPTimestamp(year: date.year, month: date.month, day: date.day, hour: time.hour,
                                    minute: time.minute, second: time.second)
        if bytes.equalsIgnoringASCIICase(sizeField.range, "<dir>") {
            // The name is padded away from `<DIR>` by a run of spaces.
            var nameStart = sizeField.end
            while nameStart < bytes.count, bytes[nameStart] == .space { nameStart += 1 }
            guard let name = Self.name(line, from: nameStart) else { return nil }
            return ListingEntry(name: name, kind: .directory, modified: modified)
        }
        guard let size = Self.sizeWithSeparators(bytes, sizeField.range),
            let name = Self.name(line, from: sizeField.end + 1)
        else { return nil }
        return ListingEntry(name: name, kind: .file, size: size, modified: modified)
    }

    /// `MM-DD-YY`, `MM-DD-YYYY`, `YYYY-MM-DD`, with `-` or `/`; `DD.MM.YYYY` with dots.
    /// Two-digit years 70...99 are 19xx, the others 20xx.
    private static func dosDate(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>)
        -> (year: Int, month: Int, day: Int)?
    {
        guard (8...10).contains(range.count) else { return nil }
        var parts: (Int, Int, Int) = (0, 0, 0)
        var lengths: (Int, Int, Int) = (0, 0, 0)
        var separator: UInt8 = 0
        var partStart = range.lowerBound
        for part in 0..<3 {
            var partEnd = partStart
            while partEnd < range.upperBound, bytes[partEnd].isASCIIDigit { partEnd += 1 }
            guard let value = bytes.decimal(partStart..<partEnd) else { return nil }
            let length = partEnd - partStart
            switch part {
            case 0: parts.0 = value; lengths.0 = length
            case 1: parts.1 = value; lengths.1 = length
            default: parts.2 = value; lengths.2 = length
            }
            if part < 2 {
                guard partEnd < range.upperBound else { return nil }
                let found = bytes[partEnd]
                guard found == .hyphen || found == .slash || found == .period,
                    separator == 0 || separator == found
                else { return nil }
                separator = found
                partStart = partEnd + 1
            } else if partEnd != range.upperBound {
                return nil
            }
        }
        var year: Int
        var month: Int
        var day: Int
        if lengths.0 == 4 {
            guard lengths.1 <= 2, lengths.2 <= 2 else { return nil }
            (year, month, day) = (parts.0, parts.1, parts.2)
        } else {
            guard lengths.0 <= 2, lengths.1 <= 2, lengths.2 == 2 || lengths.2 == 4 else { return nil }
            (month, day, year) = separator == .period ? (parts.1, parts.0, parts.2) : (parts.0, parts.1, parts.2)
            if lengths.2 == 2 { year += year >= 70 ? 1900 : 2000 }
        }
        // A server in a day-first locale: 23-02-19 cannot be month 23.
        if month > 12, day <= 12 { swap(&month, &day) }
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        return (year, month, day)
    }

    private struct DOSTime {
        var hour: Int
        var minute: Int
        var second: Int
        var meridiem: Meridiem?
    }

    private enum Meridiem { case am, pm }

    /// `09:15PM`, `9:15pm`, `21:15`, `21:15:30`.
    private static func dosTime(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> DOSTime? {
        var clockEnd = range.upperBound
        var meridiem: Meridiem?
        if range.count > 2, let found = Self.meridiem(bytes, (range.upperBound - 2)..<range.upperBound) {
            meridiem = found
            clockEnd -= 2
        }
        guard let clock = ListingDateFields.clockTime(bytes, range.lowerBound..<clockEnd),
            clock.nanoseconds == 0
        else { return nil }
        var time = DOSTime(hour: clock.hour, minute: clock.minute, second: clock.second, meridiem: meridiem)
        if let meridiem {
            guard let hour = twentyFourHour(clock.hour, meridiem) else { return nil }
            time.hour = hour
        }
        return time
    }

    private static func meridiem(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Meridiem? {
        if bytes.equalsIgnoringASCIICase(range, "am") { return .am }
        if bytes.equalsIgnoringASCIICase(range, "pm") { return .pm }
        return nil
    }

    /// 12:05AM is 00:05 and 12:05PM is 12:05.
    private static func twentyFourHour(_ hour: Int, _ meridiem: Meridiem) -> Int? {
        guard (1...12).contains(hour) else { return nil }
        switch meridiem {
        case .am: return hour == 12 ? 0 : hour
        case .pm: return hour == 12 ? 12 : hour + 12
        }
    }

    /// `12345678`, `12,345,678` or `12.345.678`.
    private static func sizeWithSeparators(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt64? {
        guard !range.isEmpty, bytes[range.lowerBound].isASCIIDigit, bytes[range.upperBound - 1].isASCIIDigit
        else { return nil }
        var value: UInt64 = 0
        for index in range {
            let byte = bytes[index]
            if byte == .comma || byte == .period { continue }
            guard byte.isASCIIDigit else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte &- 0x30))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }
}
