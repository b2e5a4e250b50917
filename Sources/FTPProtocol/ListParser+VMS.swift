/// OpenVMS directory lines (MultiNet, TCPware, HP TCP/IP Services).
///
/// ```
/// LOGIN.COM;3              2/3         12-JAN-2019 10:20:30  [STAFF,JONES]  (RWED,RWED,RE,)
/// ARCHIVE.DIR;1            1/3          3-MAR-2020 08:01:02  [STAFF,JONES]  (RWE,RWE,RE,E)
/// SECRET.DAT;1        %RMS-E-PRV, insufficient privilege or file protection violation
/// ```
/// Names carry a version (`;3`), which is stripped; `X.DIR` is the directory `X`. Sizes are
/// blocks of 512 bytes, `used/allocated` or just `used`. A long name makes the server wrap the
/// rest of the entry onto the next line; `parse(lines:)` joins the two.
extension ListParser {
    func parseVMS(_ line: LineBytes) -> ListingEntry? {
        let bytes = line.bytes
        guard line.fieldCount >= 2 else { return nil }
        let nameField = line[field: 0]
        var semicolon = nameField.end - 1
        while semicolon > nameField.start, bytes[semicolon] != .semicolon { semicolon -= 1 }
        guard semicolon > nameField.start, bytes[semicolon] == .semicolon,
            bytes.allDigits((semicolon + 1)..<nameField.end)
        else { return nil }
        var kind = ListingEntry.Kind.file
        var nameEnd = semicolon
        if nameEnd - nameField.start > 4, bytes.equalsIgnoringASCIICase((nameEnd - 4)..<nameEnd, ".dir") {
            kind = .directory
            nameEnd -= 4
        }
        var entry = ListingEntry(name: line.string(nameField.start..<nameEnd), kind: kind)

        let sizeField = line[field: 1]
        // The server could not read the file's attributes: the name is all there is.
        if bytes[sizeField.start] == UInt8(ascii: "%") { return entry }

        guard line.fieldCount >= 4, let blocks = Self.vmsBlocks(bytes, sizeField.range),
            let date = Self.vmsDate(bytes, line[field: 2].range),
            let time = ListingDateFields.clockTime(bytes, line[field: 3].range)
        else { return nil }
        if let blocks {
            let (size, overflow) = blocks.multipliedReportingOverflow(by: 512)
            entry.size = overflow ? nil : size
        }
        // VMS times have hundredths (`10:20:30.45`); keep them as the server gave them.
        entry.modified = Self.timestamp(year: date.year, month: date.month, day: date.day, time: time)
        for index in 4..<line.fieldCount {
            if let mode = Self.vmsProtection(bytes, line[field: index].range) {
                entry.mode = mode
                break
            }
        }
        return entry
    }

    /// Blocks used from `used/allocated` or `used`; `.some(nil)` for the `****` of an unknown size.
    private static func vmsBlocks(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt64??
    {
        if range.allSatisfy({ bytes[$0] == UInt8(ascii: "*") }) { return .some(nil) }
        guard let slash = bytes.firstIndex(of: .slash, in: range) else {
            return bytes.unsignedDecimal(range).map { .some($0) }
        }
        guard let used = bytes.unsignedDecimal(range.lowerBound..<slash),
            bytes.unsignedDecimal((slash + 1)..<range.upperBound) != nil
        else { return nil }
        return .some(used)
    }

    /// `12-JAN-2019` or `2-FEB-2020`.
    private static func vmsDate(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>)
        -> (year: Int, month: Int, day: Int)?
    {
        guard let firstHyphen = bytes.firstIndex(of: .hyphen, in: range),
            let secondHyphen = bytes.firstIndex(of: .hyphen, in: (firstHyphen + 1)..<range.upperBound),
            let day = ListingDateFields.day(bytes, range.lowerBound..<firstHyphen),
            let month = ListingDateFields.month(bytes, (firstHyphen + 1)..<secondHyphen),
            range.upperBound - secondHyphen - 1 == 4,
            let year = bytes.decimal((secondHyphen + 1)..<range.upperBound)
        else { return nil }
        return (year, month, day)
    }

    /// `(RWED,RWED,RE,)`: system, owner, group and world access. Owner, group and world become
    /// the Unix permission bits (Read → r, Write → w, Execute → x; Delete has no Unix bit).
    private static func vmsProtection(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt32? {
        guard range.count >= 5, bytes[range.lowerBound] == UInt8(ascii: "("),
            bytes[range.upperBound - 1] == UInt8(ascii: ")")
        else { return nil }
        var mode: UInt32 = 0
        var category = 0
        for index in (range.lowerBound + 1)..<(range.upperBound - 1) {
            let shift = UInt32(3 * (3 - category))
            switch bytes[index] {
            case .comma:
                category += 1
                guard category <= 3 else { return nil }
            case UInt8(ascii: "R") where category > 0: mode |= 4 << shift
            case UInt8(ascii: "W") where category > 0: mode |= 2 << shift
            case UInt8(ascii: "E") where category > 0: mode |= 1 << shift
            case UInt8(ascii: "R"), UInt8(ascii: "W"), UInt8(ascii: "E"), UInt8(ascii: "D"):
                break
            default:
                return nil
            }
        }
        return category == 3 ? mode : nil
    }
}
