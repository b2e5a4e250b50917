/// Parses a listing line by line as the transfer delivers it, so that a directory of 100,000
/// entries never sits in memory twice (as bytes and as lines) beside its entries.
///
/// MLSD lines stand alone. LIST lines too, but for VMS, which puts a long name alone on its
/// line and the rest of the entry on the next one (starting with spaces): a line no dialect
/// understood waits for the next to see whether the two make one entry.
public struct ListingStreamParser: Sendable {
    public enum Format: Sendable {
        case machine
        case list(ListParser)
    }

    private let format: Format
    private var collector: ListingCollector
    /// A LIST line no dialect understood, held back in case the next line continues it.
    private var pending: String?
    /// VMS lists every version of a file, newest first: only the newest is kept.
    private var vmsNames: Set<String> = []

    /// With a `sink`, entries go there as they are parsed instead of into the result (which
    /// then holds only what was skipped): the sink returns false for a name it has already,
    /// which is refused as listed a second time.
    public init(_ format: Format, expectedLines: Int = 0, sink: (@Sendable (ListingEntry) -> Bool)? = nil) {
        self.format = format
        self.collector = ListingCollector(capacity: expectedLines, sink: sink)
    }

    /// One line, without its line end.
    public mutating func consume(_ line: String) {
        switch format {
        case .machine:
            consumeMachine(line)
        case .list(let parser):
            consumeList(line, parser: parser)
        }
    }

    /// Everything consumed, as one result.
    public mutating func finish() -> ListingParseResult {
        if let held = pending {
            pending = nil
            collector.skip(held)
        }
        return collector.result
    }

    private mutating func consumeMachine(_ line: String) {
        guard let parsed = MLSDParser.parseFactLine(line) else {
            if !line.utf8.allSatisfy(isASCIIWhitespace) { collector.skip(line) }
            return
        }
        let entry = parsed.entry
        if parsed.isListedDirectoryItself { return }
        if entry.kind == .directory, entry.name == "." || entry.name == ".." { return }
        collector.add(entry, from: line)
    }

    private mutating func consumeList(_ line: String, parser: ListParser) {
        if let held = pending {
            pending = nil
            if let first = line.utf8.first, first == .space || first == .tab {
                let joined = held + " " + line
                let outcome = parser.classify(joined)
                if case .entry(_, .vms) = outcome {
                    take(outcome, line: joined)
                    return
                }
            }
            collector.skip(held)
        }
        let outcome = parser.classify(line)
        if case .rejected = outcome {
            pending = line
            return
        }
        take(outcome, line: line)
    }

    private mutating func take(_ outcome: ListParser.LineOutcome, line: String) {
        switch outcome {
        case .entry(let entry, let dialect):
            if dialect == .vms, !vmsNames.insert(entry.name).inserted { return }
            collector.add(entry, from: line)
        case .noise:
            return
        case .rejected:
            collector.skip(line)
        }
    }
}
