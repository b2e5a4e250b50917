/// What a listing parser made of a whole transfer.
///
/// One bad line never costs the directory: it is skipped, and the rest is shown. `summary`
/// says in one log line what was skipped and why.
public struct ListingParseResult: Hashable, Sendable {
    public var entries: [ListingEntry]
    /// Lines that gave no entry and are not known noise (`total 12`): lines no parser understood,
    /// and the lines of the entries in `refused`.
    public var skipped: [String]
    /// Entries that parsed but cannot be shown, with why: unsafe names (see
    /// `ListingEntry.problem`) and a name listed a second time.
    public var refused: [RefusedEntry]
    /// The lines no parser understood (the rest of `skipped`).
    public var unreadable: [String]

    public init(entries: [ListingEntry] = [], skipped: [String] = [], refused: [RefusedEntry] = [],
                unreadable: [String] = [])
    {
        self.entries = entries
        self.skipped = skipped
        self.refused = refused
        self.unreadable = unreadable
    }

    /// One entry a listing gave that is not shown.
    public struct RefusedEntry: Hashable, Sendable {
        public var name: String
        public var reason: String

        public init(name: String, reason: String) {
            self.name = name
            self.reason = reason
        }
    }

    /// What was skipped, for one log line (nil when nothing was), with a few of the names:
    /// `skipped 2 entries: "a/b" (contains '/'), "x" (listed a second time); 1 line not
    /// understood ("garbage")`. `undecodableLines` counts lines the caller could not decode
    /// from the server's encoding before parsing. Names are escaped (`\r`, `\u{1B}`) so that
    /// a hostile name cannot forge log lines or drive a terminal.
    public func summary(undecodableLines: Int = 0, examples: Int = 3) -> String? {
        var parts: [String] = []
        if !refused.isEmpty {
            let named = refused.prefix(examples).map { "\(Self.quoted($0.name)) (\($0.reason))" }
            let more = refused.count > examples ? ", and \(refused.count - examples) more" : ""
            parts.append("skipped \(Self.count(refused.count, "entry", "entries")): "
                + named.joined(separator: ", ") + more)
        }
        if !unreadable.isEmpty {
            let named = unreadable.prefix(examples).map(Self.quoted).joined(separator: ", ")
            let more = unreadable.count > examples ? ", …" : ""
            parts.append("\(Self.count(unreadable.count, "line", "lines")) not understood (\(named)\(more))")
        }
        if undecodableLines > 0 {
            parts.append("\(Self.count(undecodableLines, "line", "lines")) could not be decoded from the "
                + "server's encoding (see -o encoding=)")
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    private static func count(_ number: Int, _ singular: String, _ plural: String) -> String {
        "\(number) \(number == 1 ? singular : plural)"
    }

    /// `text` in double quotes, control characters, quotes and backslashes escaped, cut to
    /// 80 characters.
    public static func quoted(_ text: String) -> String {
        var result = "\""
        var characters = 0
        for scalar in text.unicodeScalars {
            if characters == 80 {
                result += "…"
                break
            }
            characters += 1
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\r": result += "\\r"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || (0x7F..<0xA0).contains(scalar.value):
                result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

/// Builds a `ListingParseResult` line by line: entries that cannot be shown, and a name listed a
/// second time (the first is kept, as `ls` of the server's disk would show one), are refused.
struct ListingCollector: Sendable {
    private(set) var result = ListingParseResult()
    private var names: Set<String> = []
    /// Where entries go instead of `result.entries` (it says whether a name is new).
    private let sink: (@Sendable (ListingEntry) -> Bool)?

    init(capacity: Int, sink: (@Sendable (ListingEntry) -> Bool)? = nil) {
        self.sink = sink
        if sink == nil {
            result.entries.reserveCapacity(capacity)
            names.reserveCapacity(capacity)
        }
    }

    mutating func add(_ entry: ListingEntry, from line: String) {
        if let problem = entry.problem {
            refuse(entry, reason: problem, line: line)
        } else if let sink {
            if !sink(entry) { refuse(entry, reason: "listed a second time", line: line) }
        } else if !names.insert(entry.name).inserted {
            refuse(entry, reason: "listed a second time", line: line)
        } else {
            result.entries.append(entry)
        }
    }

    /// A line no parser understood.
    mutating func skip(_ line: String) {
        result.skipped.append(line)
        result.unreadable.append(line)
    }

    private mutating func refuse(_ entry: ListingEntry, reason: String, line: String) {
        result.skipped.append(line)
        result.refused.append(ListingParseResult.RefusedEntry(name: entry.name, reason: reason))
    }
}
