/// Assembles reply lines into complete replies (RFC 959 §4.2).
///
/// A single-line reply is `NNN text`. A multi-line reply starts with `NNN-text` and ends at the
/// first line that starts with the same code followed by a space; lines between may look like
/// codes (`211-` inside a 211 reply, or `200 x` inside a 220 greeting) and belong to the text.
public struct ReplyParser: Sendable {
    private var pending: (code: ReplyCode, lines: [String])?

    public init() {}

    /// True while a multi-line reply has started but not ended.
    public var isInsideMultilineReply: Bool { pending != nil }

    /// Feeds one line (without CR LF). Returns the reply when `line` completes one.
    public mutating func consume(line: String) throws(ProtocolError) -> Reply? {
        if let open = pending {
            var lines = open.lines
            lines.append(line)
            if let code = Self.leadingCode(line), code == open.code,
                Self.separator(line) == 0x20 || Self.separator(line) == nil
            {
                pending = nil
                return Reply(code: open.code, lines: lines)
            }
            pending = (open.code, lines)
            return nil
        }
        guard let code = Self.leadingCode(line) else {
            throw .malformedReply(line)
        }
        switch Self.separator(line) {
        case 0x2D:  // '-' opens a multi-line reply
            pending = (code, [line])
            return nil
        case 0x20, nil:  // "NNN text" or a bare "NNN"
            return Reply(code: code, lines: [line])
        default:
            throw .malformedReply(line)
        }
    }

    /// The code when `line` starts with three digits in 100...599, else nil.
    static func leadingCode(_ line: String) -> ReplyCode? {
        var value = 0
        var count = 0
        for byte in line.utf8 {
            if count == 3 { break }
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
            count += 1
        }
        guard count == 3, (100...599).contains(value) else { return nil }
        return ReplyCode(value)
    }

    /// The byte after the code: space, '-', something else, or nil when the line is just the code.
    static func separator(_ line: String) -> UInt8? {
        var index = line.utf8.startIndex
        for _ in 0..<3 { index = line.utf8.index(after: index) }
        return index < line.utf8.endIndex ? line.utf8[index] : nil
    }
}

/// What a parser can say about bytes a server sent that do not follow the protocol.
public enum ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    case malformedReply(String)
    case lineTooLong(Int)

    public var description: String {
        switch self {
        case .malformedReply(let line): "malformed reply line: \(line.prefix(200))"
        case .lineTooLong(let length): "reply line longer than \(length) bytes"
        }
    }
}
