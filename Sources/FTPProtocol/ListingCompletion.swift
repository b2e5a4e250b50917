/// What the final reply of a listing transfer says about the listing.
public enum ListingCompletion {
    /// Whether the server says it cut the listing short (Pure-FTPd:
    /// `226-Output truncated to 10000 matches`, and similar wording from others).
    public static func isTruncated(_ reply: Reply) -> Bool {
        reply.lines.contains { line in
            let lower = line.lowercased()
            return lower.contains("truncated") || lower.contains("too many files")
                || lower.contains("limit reached")
        }
    }
}
