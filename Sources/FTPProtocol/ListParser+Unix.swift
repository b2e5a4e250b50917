/// Unix `ls -l` lines and NetWare lines, which share the way their dates are written.
///
/// ```
/// -rw-r--r--    1 1001     0            1234 Nov 21 16:36 plain.txt
/// lrwxrwxrwx    1 0        0              19 Nov 21 16:36 spaced link -> double  space  name
/// crw-rw-rw-    1 root     root       1,   5 Jan  1  2019 null
/// d [R----F--] supervisor            512       Jan 16 18:53    login
/// ```
///
/// Owner and group columns vary (missing group, names with spaces, a size glued to the name), so
/// the parser does not count columns: it looks for the date — month, day, and time or year — as
/// the first run of fields that reads as one right after a field ending in a digit (the size).
/// The name starts exactly one space after the date: names may begin with spaces.
extension ListParser {
    func parseUnix(_ line: LineBytes) -> ListingEntry? {
        let bytes = line.bytes
        let modeField = line[field: 0]
        guard modeField.count >= 10, let kind = Self.unixKind(bytes[modeField.start]),
            let mode = Self.permissionBits(bytes, at: modeField.start + 1)
        else { return nil }
        // After the ten mode characters: `+` (ACL), `.` (SELinux context), `@` (macOS xattrs).
        for index in (modeField.start + 10)..<modeField.end {
            let marker = bytes[index]
            guard marker == .plus || marker == .period || marker == UInt8(ascii: "@") else { return nil }
        }
        guard let date = findDate(line, from: 2) else { return nil }
        let nameStart = line[field: date.lastField].end + 1
        guard nameStart < bytes.count else { return nil }
        // Only a symlink line splits at ` -> `; in any other name the arrow is part of the name.
        var nameEnd = bytes.count
        var linkTarget: String?
        if kind == .symlink, let arrow = Self.symlinkArrow(bytes, from: nameStart) {
            nameEnd = arrow
            if arrow + 4 < bytes.count { linkTarget = line.string((arrow + 4)..<bytes.count) }
        }
        return ListingEntry(name: line.string(nameStart..<nameEnd), kind: kind,
                            size: Self.unixSize(line, before: date.firstField), modified: date.modified,
                            mode: mode, linkTarget: linkTarget)
    }

    func parseNetWare(_ line: LineBytes) -> ListingEntry? {
        let bytes = line.bytes
        guard line.fieldCount >= 6, line[field: 0].count == 1 else { return nil }
        let kind: ListingEntry.Kind
        switch bytes[line[field: 0].start] {
        case .hyphen: kind = .file
        case UInt8(ascii: "d"): kind = .directory
        default: return nil
        }
        let rights = line[field: 1]
        guard rights.count >= 2, bytes[rights.start] == UInt8(ascii: "["),
            bytes[rights.end - 1] == UInt8(ascii: "]"),
            let date = findDate(line, from: 3)
        else { return nil }
        // NetWare pads between the date and the name; names with leading spaces cannot be told apart.
        var nameStart = line[field: date.lastField].end
        while nameStart < bytes.count, bytes[nameStart] == .space { nameStart += 1 }
        guard let name = Self.name(line, from: nameStart) else { return nil }
        return ListingEntry(name: name, kind: kind, size: Self.unixSize(line, before: date.firstField),
                            modified: date.modified)
    }

    private static func unixKind(_ byte: UInt8) -> ListingEntry.Kind? {
        switch byte {
        case .hyphen: .file
        case UInt8(ascii: "d"): .directory
        case UInt8(ascii: "l"): .symlink
        // character and block devices, named pipes, sockets, Solaris doors
        case UInt8(ascii: "c"), UInt8(ascii: "b"), UInt8(ascii: "p"), UInt8(ascii: "s"), UInt8(ascii: "D"):
            .other
        default: nil
        }
    }

    /// The permission bits of `rwxr-sr-t`, including setuid, setgid and sticky (`s S t T`; `l`/`L`
    /// in the group position is System V's mandatory locking, which is setgid without execute).
    static func permissionBits(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> UInt32? {
        var mode: UInt32 = 0
        for triplet in 0..<3 {
            let special: UInt32 = triplet == 0 ? 0o4000 : triplet == 1 ? 0o2000 : 0o1000
            let offset = start + triplet * 3
            let shift = UInt32(6 - triplet * 3)
            switch bytes[offset] {
            case UInt8(ascii: "r"): mode |= 4 << shift
            case .hyphen: break
            default: return nil
            }
            switch bytes[offset + 1] {
            case UInt8(ascii: "w"): mode |= 2 << shift
            case .hyphen: break
            default: return nil
            }
            switch bytes[offset + 2] {
            case UInt8(ascii: "x"): mode |= 1 << shift
            case .hyphen: break
            case UInt8(ascii: "s"), UInt8(ascii: "t"): mode |= 1 << shift | special
            case UInt8(ascii: "S"), UInt8(ascii: "T"), UInt8(ascii: "l"), UInt8(ascii: "L"):
                mode |= special
            default: return nil
            }
        }
        return mode
    }

    /// The size in the field before the date. Device files show `major, minor` there instead,
    /// which is no size; a size glued to a long owner or group name (`staff12345678`) is the
    /// trailing digits.
    static func unixSize(_ line: LineBytes, before dateField: Int) -> UInt64? {
        let bytes = line.bytes
        let field = line[field: dateField - 1]
        var digitsStart = field.end
        while digitsStart > field.start, bytes[digitsStart - 1].isASCIIDigit { digitsStart -= 1 }
        if digitsStart > field.start, bytes[digitsStart - 1] == .comma { return nil }
        if dateField >= 3 {
            let previous = line[field: dateField - 2]
            if bytes[previous.end - 1] == .comma { return nil }
        }
        return bytes.unsignedDecimal(digitsStart..<field.end)
    }

    /// The offset of ` -> ` in a symlink line's name part.
    private static func symlinkArrow(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var index = start + 1  // a name is not empty
        while index + 4 <= bytes.count {
            if bytes[index] == .space, bytes[index + 1] == .hyphen, bytes[index + 2] == UInt8(ascii: ">"),
                bytes[index + 3] == .space
            {
                return index
            }
            index += 1
        }
        return nil
    }

    // MARK: - Dates

    struct DateMatch {
        var firstField: Int
        var lastField: Int
        var modified: FTPTimestamp?
    }

    /// The first date in `line` at or after field `firstCandidate`, right after a field that ends in
    /// a digit. Accepted forms: `Nov 21 16:36`, `Mar  5  2019`, `21. Nov 16:36` (day first),
    /// `Nov 21 16:36:23 2026` (BSD `ls -lT`), `11月 21 16:36`, `2026-11-21 16:36[:23[.frac] +0000]`,
    /// `11-21 16:36`.
    func findDate(_ line: LineBytes, from firstCandidate: Int) -> DateMatch? {
        let bytes = line.bytes
        var index = max(firstCandidate, 1)
        while index + 1 < line.fieldCount {
            if bytes[line[field: index - 1].end - 1].isASCIIDigit,
                let match = monthFirstDate(line, at: index) ?? dayFirstDate(line, at: index)
                    ?? numericDate(line, at: index)
            {
                return match
            }
            index += 1
        }
        return nil
    }

    private func monthFirstDate(_ line: LineBytes, at index: Int) -> DateMatch? {
        guard index + 2 < line.fieldCount,
            let month = ListingDateFields.month(line.bytes, line[field: index].range),
            let day = ListingDateFields.day(line.bytes, line[field: index + 1].range)
        else { return nil }
        let timeOrYear = line[field: index + 2]
        if let time = ListingDateFields.clockTime(line.bytes, timeOrYear.range) {
            // BSD `ls -lT` prints seconds and then the year.
            if timeOrYear.count >= 7, index + 3 < line.fieldCount, line[field: index + 3].count == 4,
                let year = ListingDateFields.year(line.bytes, line[field: index + 3].range)
            {
                return DateMatch(firstField: index, lastField: index + 3,
                                 modified: Self.timestamp(year: year, month: month, day: day, time: time))
            }
            return DateMatch(firstField: index, lastField: index + 2,
                             modified: inferYear(month: month, day: day, time: time))
        }
        guard let year = ListingDateFields.year(line.bytes, timeOrYear.range), Self.plausibleYears.contains(year)
        else { return nil }
        return DateMatch(firstField: index, lastField: index + 2,
                         modified: FTPTimestamp(year: year, month: month, day: day))
    }

    private func dayFirstDate(_ line: LineBytes, at index: Int) -> DateMatch? {
        guard index + 2 < line.fieldCount,
            let day = ListingDateFields.day(line.bytes, line[field: index].range),
            let month = ListingDateFields.month(line.bytes, line[field: index + 1].range)
        else { return nil }
        let timeOrYear = line[field: index + 2]
        if let time = ListingDateFields.clockTime(line.bytes, timeOrYear.range) {
            return DateMatch(firstField: index, lastField: index + 2,
                             modified: inferYear(month: month, day: day, time: time))
        }
        guard let year = ListingDateFields.year(line.bytes, timeOrYear.range), Self.plausibleYears.contains(year)
        else { return nil }
        return DateMatch(firstField: index, lastField: index + 2,
                         modified: FTPTimestamp(year: year, month: month, day: day))
    }

    /// `ls --time-style=long-iso` / `full-iso` (`2026-11-21 16:36`, `2026-11-21 16:36:23.5 +0100`)
    /// and `--time-style=iso` for recent files (`11-21 16:36`).
    private func numericDate(_ line: LineBytes, at index: Int) -> DateMatch? {
        let bytes = line.bytes
        let date = line[field: index]
        let clock = line[field: index + 1]
        guard let time = ListingDateFields.clockTime(bytes, clock.range) else { return nil }
        if date.count == 10, bytes[date.start + 4] == .hyphen, bytes[date.start + 7] == .hyphen,
            let year = bytes.decimal(date.start..<(date.start + 4)),
            let month = bytes.decimal((date.start + 5)..<(date.start + 7)),
            let day = bytes.decimal((date.start + 8)..<date.end)
        {
            guard var modified = Self.timestamp(year: year, month: month, day: day, time: time) else {
                return DateMatch(firstField: index, lastField: index + 1, modified: nil)
            }
            // full-iso adds the server's UTC offset after a time with seconds.
            if clock.count >= 8, index + 2 < line.fieldCount,
                let offset = Self.utcOffset(bytes, line[field: index + 2].range)
            {
                modified.seconds -= Int64(offset)
                return DateMatch(firstField: index, lastField: index + 2, modified: modified)
            }
            return DateMatch(firstField: index, lastField: index + 1, modified: modified)
        }
        if date.count == 5, bytes[date.start + 2] == .hyphen,
            let month = bytes.decimal(date.start..<(date.start + 2)),
            let day = bytes.decimal((date.start + 3)..<date.end),
            (1...12).contains(month), (1...31).contains(day)
        {
            return DateMatch(firstField: index, lastField: index + 1,
                             modified: inferYear(month: month, day: day, time: time))
        }
        return nil
    }

    /// `+0100` or `-0530` as seconds east of UTC.
    private static func utcOffset(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        guard range.count == 5, bytes[range.lowerBound] == .plus || bytes[range.lowerBound] == .hyphen,
            let hours = bytes.decimal((range.lowerBound + 1)..<(range.lowerBound + 3)),
            let minutes = bytes.decimal((range.lowerBound + 3)..<range.upperBound),
            hours <= 14, minutes < 60
        else { return nil }
        let seconds = hours * 3600 + minutes * 60
        return bytes[range.lowerBound] == .plus ? seconds : -seconds
    }

    /// Years a listing can mean; a four-digit "year" outside them is a size or a name.
    private static let plausibleYears = 1900...2199

    static func timestamp(year: Int, month: Int, day: Int, time: ListingDateFields.ClockTime) -> FTPTimestamp? {
        FTPTimestamp(year: year, month: month, day: day, hour: time.hour, minute: time.minute,
                     second: time.second, nanoseconds: time.nanoseconds)
    }

    /// The latest year that puts the date no more than a day after `now` (the day absorbs time
    /// zones). Starting from next year covers a server whose clock is already in the new year,
    /// and going back several years finds the last 29 February.
    func inferYear(month: Int, day: Int, time: ListingDateFields.ClockTime) -> FTPTimestamp? {
        let latest = now.seconds + 86_400
        let currentYear = now.components.year
        for year in stride(from: currentYear + 1, through: currentYear - 8, by: -1) {
            if let candidate = Self.timestamp(year: year, month: month, day: day, time: time),
                candidate.seconds <= latest
            {
                return candidate
            }
        }
        return nil
    }
}
