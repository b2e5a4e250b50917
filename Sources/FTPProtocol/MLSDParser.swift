/// Parser for RFC 3659 machine listings: MLSD data lines and the entry line of an MLST reply.
///
/// `type=file;size=123;modify=20240102030405; name with spaces;and semicolons`
public enum MLSDParser {
    /// One MLSD line. Nil for `type=cdir`/`type=pdir`, for lines that are not fact lists, and for
    /// names that are not safe (see `ListingEntry.isSafeName`).
    public static func parse(line: String) -> ListingEntry? {
        fatalError("not implemented yet")
    }

    /// Every entry of an MLSD transfer, split into lines; unusable lines are returned in `skipped`.
    public static func parse(lines: [String]) -> ListingParseResult {
        fatalError("not implemented yet")
    }

    /// The facts of the entry in an MLST reply (`250-Listing /a\r\n type=file;size=1; /a\r\n250 End`).
    /// The returned entry's `name` is the path as the server wrote it (not checked by `isSafeName`);
    /// nil when the reply holds no entry line.
    public static func parseMLSTReply(_ reply: Reply) -> ListingEntry? {
        fatalError("not implemented yet")
    }
}

/// What a listing parser made of a whole transfer.
public struct ListingParseResult: Hashable, Sendable {
    public var entries: [ListingEntry]
    /// Lines that were neither entries nor known noise (`total 12`), for a debug log line.
    public var skipped: [String]

    public init(entries: [ListingEntry] = [], skipped: [String] = []) {
        self.entries = entries
        self.skipped = skipped
    }
}
