/// Parser for `LIST` output in the dialects real servers send.
///
/// Times in LIST output have no time zone; they are taken as UTC. A Unix `Mon DD HH:MM` date has no
/// year: it is the year of `now`, or the year before when that would put it in the future.
///
/// The dialect is detected per line, from the line's shape:
/// - Unix `ls -l` (vsftpd, ProFTPD, Pure-FTPd, pyftpdlib, most others): a mode field `drwxr-xr-x`;
/// - NetWare: `d [RWCEAFMS] owner size date name`;
/// - DOS/IIS: `MM-DD-YY  HH:MMAM  <DIR>|size  name`;
/// - EPLF: `+facts,\tname`;
/// - VMS: `NAME.EXT;version  blocks  DD-MMM-YYYY HH:MM:SS  [owner]  (protection)`.
public struct ListParser: Sendable {
    public var now: FTPTimestamp

    public init(now: FTPTimestamp) {
        self.now = now
    }

    /// One line, in any supported dialect. Nil for noise (`total 12`), unknown lines, and entries
    /// that cannot be shown (see `ListingEntry.problem`).
    public func parse(line: String) -> ListingEntry? {
        if case .entry(let entry, _) = classify(line), entry.problem == nil { return entry }
        return nil
    }

    /// A whole transfer, split into lines (entries that wrap onto a second line are joined).
    ///
    /// Lines that are neither entries nor known noise (`total 12`, blank lines, `.` and `..`,
    /// VMS headers) are returned in `skipped`, and entries that cannot be shown also in
    /// `refused`. VMS lists every version of a file, newest first; only the newest is kept, as
    /// the name without its version denotes it.
    public func parse(lines: [String]) -> ListingParseResult {
        var parser = ListingStreamParser(.list(self), expectedLines: lines.count)
        for line in lines { parser.consume(line) }
        return parser.finish()
    }

    enum Dialect: Hashable {
        case unix, netWare, dos, eplf, vms
    }

    enum LineOutcome {
        /// An entry as the line gave it, safe or not (see `ListingEntry.problem`).
        case entry(ListingEntry, Dialect)
        /// Blank lines, totals, headers, and the `.`/`..` directories of `ls -a`.
        case noise
        /// Lines no dialect understood.
        case rejected
    }

    func classify(_ text: String) -> LineOutcome {
        withLineBytes(text) { bytes in
            withUnsafeTemporaryAllocation(of: FieldRange.self, capacity: LineBytes.fieldCapacity) {
                let line = LineBytes(bytes: bytes, fieldStorage: $0)
                guard line.fieldCount > 0 else { return .noise }
                guard let (entry, dialect) = parseEntry(line) else {
                    return Self.isNoise(line) ? .noise : .rejected
                }
                if entry.kind == .directory, entry.name == "." || entry.name == ".." { return .noise }
                return .entry(entry, dialect)
            }
        }
    }

    private func parseEntry(_ line: LineBytes) -> (ListingEntry, Dialect)? {
        let first = line.bytes[line[field: 0].start]
        if first == .plus {
            return parseEPLF(line).map { ($0, .eplf) }
        }
        if let entry = parseUnix(line) {
            return (entry, .unix)
        }
        if let entry = parseNetWare(line) {
            return (entry, .netWare)
        }
        if first.isASCIIDigit, let entry = parseDOS(line) {
            return (entry, .dos)
        }
        return parseVMS(line).map { ($0, .vms) }
    }

    /// Lines that carry no entry but are expected in a listing: `total 12` and its translations
    /// (`insgesamt 12`, `合計 12`), and VMS's `Directory DISK$USER:[NAME]` and `Total of 3 files`.
    private static func isNoise(_ line: LineBytes) -> Bool {
        let bytes = line.bytes
        let first = line[field: 0]
        if line.fieldCount == 2, bytes.allDigits(line[field: 1].range),
            !first.range.contains(where: { bytes[$0].isASCIIDigit })
        {
            return true
        }
        if line.fieldCount == 2, line.field(0, equalsIgnoringCase: "directory") {
            return true
        }
        if line.fieldCount >= 3, line.field(0, equalsIgnoringCase: "total"),
            line.field(1, equalsIgnoringCase: "of")
        {
            return true
        }
        return line.fieldCount >= 4 && line.field(0, equalsIgnoringCase: "grand")
            && line.field(1, equalsIgnoringCase: "total")
    }

    /// The name that starts at `start` and runs to the end of the line.
    static func name(_ line: LineBytes, from start: Int) -> String? {
        guard start < line.bytes.count else { return nil }
        return line.string(start..<line.bytes.count)
    }
}
