/// Parser for RFC 3659 machine listings: MLSD data lines and the entry line of an MLST reply.
///
/// `type=file;size=123;modify=20240102030405; name with spaces;and semicolons`
///
/// Facts end at the first `"; "`: a fact value cannot hold `;`, while the name may hold anything,
/// including `"; "` and leading spaces. Splitting there (rather than at the first space) also
/// survives servers that put spaces in values, such as a symlink target in `OS.unix=slink:/a b`.
public enum MLSDParser {
    /// One MLSD line. Nil for `type=cdir`/`type=pdir`, for lines that are not fact lists, and for
    /// names that are not safe (see `ListingEntry.isSafeName`).
    public static func parse(line: String) -> ListingEntry? {
        guard let parsed = parseFactLine(line), !parsed.isListedDirectoryItself,
            ListingEntry.isSafeName(parsed.entry.name)
        else { return nil }
        return parsed.entry
    }

    /// Every entry of an MLSD transfer, split into lines; unusable lines are returned in `skipped`,
    /// and entries that cannot be shown also in `refused`. Empty lines, `cdir`/`pdir` entries and
    /// directories named `.` or `..` are neither.
    public static func parse(lines: [String]) -> ListingParseResult {
        var parser = ListingStreamParser(.machine, expectedLines: lines.count)
        for line in lines { parser.consume(line) }
        return parser.finish()
    }

    /// The facts of the entry in an MLST reply (`250-Listing /a\r\n type=file;size=1; /a\r\n250 End`).
    /// The returned entry's `name` is the path as the server wrote it (not checked by `isSafeName`);
    /// nil when the reply holds no entry line. `cdir` and `pdir` are reported as directories.
    public static func parseMLSTReply(_ reply: Reply) -> ListingEntry? {
        // RFC 3659 puts the entry on its own line, indented by one space, between the first and
        // the last line. Some servers leave the indent out or repeat the code (`250-type=...`).
        let prefix = String(reply.code.rawValue)
        for line in reply.lines.dropFirst() {
            var candidate = Substring(line)
            if candidate.hasPrefix(" ") {
                candidate = candidate.dropFirst()
            } else if candidate.hasPrefix(prefix + "-") {
                candidate = candidate.dropFirst(4)
            } else {
                continue
            }
            if let parsed = parseFactLine(String(candidate)) {
                return parsed.entry
            }
        }
        return nil
    }

    /// An entry and whether the server marked it as the listed directory or its parent.
    struct FactLine {
        var entry: ListingEntry
        var isListedDirectoryItself: Bool
    }

    static func parseFactLine(_ line: String) -> FactLine? {
        withLineBytes(line) { bytes in
            guard let (factsEnd, nameStart) = splitFactsFromName(bytes), nameStart < bytes.count else {
                return nil
            }
            var entry = ListingEntry(
                name: String(decoding: UnsafeBufferPointer(rebasing: bytes[nameStart...]), as: UTF8.self),
                kind: .file)
            var isListedDirectoryItself = false
            var directorySize: UInt64?
            var factStart = 0
            while factStart < factsEnd {
                let factEnd = bytes.firstIndex(of: .semicolon, in: factStart..<factsEnd) ?? factsEnd
                defer { factStart = factEnd + 1 }
                if factStart == factEnd { continue }
                // A fact without `=` means this is not a fact list at all (a LIST line, a banner).
                guard let equals = bytes.firstIndex(of: .equals, in: factStart..<factEnd),
                    equals > factStart
                else { return nil }
                let name = factStart..<equals
                let value = (equals + 1)..<factEnd
                switch bytes[factStart].asciiLowercased {
                case UInt8(ascii: "t") where bytes.equalsIgnoringASCIICase(name, "type"):
                    let type = entryType(bytes, value)
                    entry.kind = type.kind
                    entry.linkTarget = type.linkTarget
                    isListedDirectoryItself = type.isListedDirectoryItself
                case UInt8(ascii: "s") where bytes.equalsIgnoringASCIICase(name, "size"):
                    entry.size = bytes.unsignedDecimal(value)
                case UInt8(ascii: "s") where bytes.equalsIgnoringASCIICase(name, "sizd"):
                    directorySize = bytes.unsignedDecimal(value)
                case UInt8(ascii: "m") where bytes.equalsIgnoringASCIICase(name, "modify"):
                    entry.modified = FTPTimestamp.parseTimeVal(bytes, value)
                case UInt8(ascii: "u") where bytes.equalsIgnoringASCIICase(name, "unix.mode"):
                    // Some servers send the whole st_mode (`100644`); keep the permission bits.
                    entry.mode = bytes.octal(value).map { $0 & 0o7777 }
                case UInt8(ascii: "u") where bytes.equalsIgnoringASCIICase(name, "unique"):
                    entry.unique = value.isEmpty ? nil : lineString(bytes, value)
                case UInt8(ascii: "p") where bytes.equalsIgnoringASCIICase(name, "perm"):
                    entry.permissions = lineString(bytes, value)
                default:
                    break
                }
            }
            if entry.size == nil, let directorySize { entry.size = directorySize }
            return FactLine(entry: entry, isListedDirectoryItself: isListedDirectoryItself)
        }
    }

    /// Where the facts end (exclusive) and the name starts.
    private static func splitFactsFromName(_ bytes: UnsafeBufferPointer<UInt8>) -> (Int, Int)? {
        guard !bytes.isEmpty else { return nil }
        // No facts at all: the line is a space and the name (RFC 3659 allows an empty fact list).
        if bytes[0] == .space { return (0, 1) }
        var index = 0
        var firstSpace: Int?
        while index < bytes.count {
            if bytes[index] == .space {
                if bytes[index - 1] == .semicolon { return (index, index + 1) }
                if firstSpace == nil { firstSpace = index }
            }
            index += 1
        }
        // Servers that omit the `;` after the last fact: split at the first space.
        if let firstSpace { return (firstSpace, firstSpace + 1) }
        return nil
    }

    private struct EntryType {
        var kind: ListingEntry.Kind
        var linkTarget: String? = nil
        var isListedDirectoryItself = false
    }

    /// The `type` fact: `file`, `dir`, `cdir`, `pdir`, or an `OS.name=type` extension such as
    /// Pure-FTPd's `OS.unix=slink:/target` and ProFTPD's `OS.unix=symlink`.
    private static func entryType(_ bytes: UnsafeBufferPointer<UInt8>, _ value: Range<Int>) -> EntryType {
        if bytes.equalsIgnoringASCIICase(value, "file") { return EntryType(kind: .file) }
        if bytes.equalsIgnoringASCIICase(value, "dir") { return EntryType(kind: .directory) }
        if bytes.equalsIgnoringASCIICase(value, "cdir") || bytes.equalsIgnoringASCIICase(value, "pdir") {
            return EntryType(kind: .directory, isListedDirectoryItself: true)
        }
        var subtype = value
        if bytes.hasPrefixIgnoringASCIICase(value, "os.unix=") {
            subtype = (value.lowerBound + 8)..<value.upperBound
        }
        let targetSeparator = bytes.firstIndex(of: .colon, in: subtype)
        let subtypeName = subtype.lowerBound..<(targetSeparator ?? subtype.upperBound)
        if bytes.equalsIgnoringASCIICase(subtypeName, "slink")
            || bytes.equalsIgnoringASCIICase(subtypeName, "symlink")
            || bytes.equalsIgnoringASCIICase(subtypeName, "link")
        {
            var target: String?
            if let targetSeparator, targetSeparator + 1 < subtype.upperBound {
                target = lineString(bytes, (targetSeparator + 1)..<subtype.upperBound)
            }
            return EntryType(kind: .symlink, linkTarget: target)
        }
        // Devices, sockets, fifos (`OS.unix=chr-1/3`, Pure-FTPd's `unknown`), vendor types.
        return EntryType(kind: .other)
    }

    private static func lineString(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }
}
