/// The one error type of the test harness: a readable message, meant to be
/// printed as the reason of a failing test.
public struct TestSupportError: Error, CustomStringConvertible, Sendable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// The last `limit` characters of a process's output, for error messages.
func tail(_ text: String, limit: Int = 4000) -> String {
    let trimmed = text.trimmingTrailingWhitespace()
    if trimmed.isEmpty { return "(empty)" }
    guard trimmed.count > limit else { return trimmed }
    return "…" + trimmed.suffix(limit)
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var result = self
        while let last = result.last, last.isWhitespace { result.removeLast() }
        return result
    }
}
