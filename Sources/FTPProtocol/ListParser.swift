/// Parser for `LIST` output in the dialects real servers send.
///
/// Times in LIST output have no time zone; they are taken as UTC. A Unix `Mon DD HH:MM` date has no
/// year: it is the year of `now`, or the year before when that would put it in the future.
public struct ListParser: Sendable {
    public var now: FTPTimestamp

    public init(now: FTPTimestamp) {
        self.now = now
    }

    /// One line, in any supported dialect. Nil for noise (`total 12`), unknown lines, and unsafe names.
    public func parse(line: String) -> ListingEntry? {
        fatalError("not implemented yet")
    }

    /// A whole transfer, split into lines (entries that wrap onto a second line are joined).
    public func parse(lines: [String]) -> ListingParseResult {
        fatalError("not implemented yet")
    }
}
