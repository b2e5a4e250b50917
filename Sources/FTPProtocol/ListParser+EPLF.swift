/// EPLF, the Easily Parsed LIST Format (D. J. Bernstein's publicfile and a few others).
///
/// ```
/// +i8388621.29609,m824255902,/,\tdev
/// +i8388621.44468,m839956783,r,s10376,up644,\tRFCEPLF
/// ```
/// A `+`, comma-separated facts, a tab, the name. `/` marks a directory, `r` a retrievable file,
/// `s` the size, `m` the modification time in seconds since the epoch (UTC), `up` octal permissions.
extension ListParser {
    func parseEPLF(_ line: LineBytes) -> ListingEntry? {
        let bytes = line.bytes
        guard bytes.count > 1, bytes[0] == .plus, let tab = bytes.firstIndex(of: .tab, in: 1..<bytes.count),
            let name = Self.name(line, from: tab + 1)
        else { return nil }
        var entry = ListingEntry(name: name, kind: .file)
        var factStart = 1
        while factStart < tab {
            let factEnd = bytes.firstIndex(of: .comma, in: factStart..<tab) ?? tab
            defer { factStart = factEnd + 1 }
            guard factStart < factEnd else { continue }
            let value = (factStart + 1)..<factEnd
            switch bytes[factStart] {
            case .slash:
                entry.kind = .directory
            case UInt8(ascii: "s"):
                entry.size = bytes.unsignedDecimal(value)
            case UInt8(ascii: "m"):
                if let seconds = bytes.decimal(value) { entry.modified = FTPTimestamp(seconds: Int64(seconds)) }
            case UInt8(ascii: "u") where value.count > 1 && bytes[value.lowerBound] == UInt8(ascii: "p"):
                entry.mode = bytes.octal((value.lowerBound + 1)..<value.upperBound).map { $0 & 0o7777 }
            default:
                // `r` (retrievable: a file, the default), `i` (identifier) and unknown facts.
                break
            }
        }
        return entry
    }
}
