/// The SHA-256 fingerprint of a server certificate, for `-o tls_fingerprint=`.
public struct CertificateFingerprint: Sendable, Hashable, CustomStringConvertible {
    /// The 32 bytes of the digest.
    public let bytes: [UInt8]

    /// Accepts 64 hex digits, either bare or as colon-separated pairs (the form
    /// `openssl x509 -fingerprint -sha256` prints), optionally after `SHA256:`.
    public init?(parsing text: String) {
        var hex = Substring(text)
        if hex.lowercased().hasPrefix("sha256:") { hex = hex.dropFirst("sha256:".count) }
        if hex.contains(":") {
            let pairs = hex.split(separator: ":", omittingEmptySubsequences: false)
            guard pairs.allSatisfy({ $0.utf8.count == 2 }) else { return nil }
            hex = Substring(pairs.joined())
        }
        let digits = hex.utf8.compactMap(PercentEncoding.hexValue)
        guard digits.count == 64, hex.utf8.count == 64 else { return nil }
        bytes = stride(from: 0, to: 64, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    /// `SHA256:AB:CD:…`, as OpenSSL prints it.
    public var description: String {
        "SHA256:" + bytes.map { byte in
            let text = String(byte, radix: 16, uppercase: true)
            return byte < 16 ? "0" + text : text
        }.joined(separator: ":")
    }
}

/// The shape of value an option takes; it drives parsing, the error text and the help.
public enum OptionValueKind: Sendable, Hashable {
    /// No value: `allow_other`.
    case flag
    /// A decimal integer within the range.
    case integer(ClosedRange<Int>)
    /// An octal number within the range (`umask=022`).
    case octal(ClosedRange<Int>)
    /// Bytes, optionally with K, M or G (1024-based): `64M`.
    case size
    /// Seconds, decimals allowed: `2.5`. Zero is allowed only where it means something.
    case duration(allowsZero: Bool)
    /// Any non-empty text without CR or LF.
    case string
    /// One of the listed words.
    case choice([String])
    /// A SHA-256 certificate fingerprint.
    case fingerprint
    /// Anything or nothing: fstab bookkeeping such as `comment=…` and `x-systemd.…`.
    case ignored

    /// What a valid value looks like, for error messages: "an integer between 1 and 64".
    public var expectation: String {
        switch self {
        case .flag: "no value"
        case .integer(let range): "an integer between \(range.lowerBound) and \(range.upperBound)"
        case .octal(let range):
            "an octal number between \(String(range.lowerBound, radix: 8)) and \(String(range.upperBound, radix: 8))"
        case .size: "a size in bytes, optionally with K, M or G (like 64M)"
        case .duration(let allowsZero):
            allowsZero ? "a number of seconds (like 2.5)" : "a number of seconds greater than 0 (like 2.5)"
        case .string: "a non-empty value"
        case .choice(let words): "one of " + words.joined(separator: ", ")
        case .fingerprint: "a SHA-256 fingerprint: 64 hex digits, colons optional"
        case .ignored: "anything"
        }
    }
}

/// Parsers for the value kinds. Each returns nil for a value it rejects; the caller turns that
/// into a ``MountOptionError`` naming the option.
enum OptionValueParser {
    static func integer(_ text: String, in range: ClosedRange<Int>) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy(isDigit), let value = Int(text), range.contains(value)
        else { return nil }
        return value
    }

    static func octal(_ text: String, in range: ClosedRange<Int>) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }),
            let value = Int(text, radix: 8), range.contains(value)
        else { return nil }
        return value
    }

    /// `4096`, `512K`, `64M`, `1G` (also lower case), 1024-based.
    static func size(_ text: String) -> Int? {
        var digits = Substring(text)
        var multiplier = 1
        switch digits.last {
        case "K", "k": multiplier = 1 << 10
        case "M", "m": multiplier = 1 << 20
        case "G", "g": multiplier = 1 << 30
        default: break
        }
        if multiplier != 1 { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.utf8.allSatisfy(isDigit), let count = Int(digits) else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    /// The longest duration accepted, so that arithmetic on timeouts cannot overflow.
    static let maximumSeconds: Int64 = 1_000_000_000

    /// `30`, `2.5`, `.5`, `0`: decimal seconds, read exactly (no binary floating point), so
    /// `0.1` is exactly 100 ms.
    static func duration(_ text: String, allowsZero: Bool) -> Duration? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0]
        let fraction = parts.count > 1 ? parts[1] : ""
        guard !(whole.isEmpty && fraction.isEmpty),
            whole.utf8.allSatisfy(isDigit), fraction.utf8.allSatisfy(isDigit)
        else { return nil }
        // Beyond 18 fractional digits (attoseconds) nothing is representable; ignore them.
        let significantFraction = fraction.prefix(18)
        guard whole.count <= 10, let seconds = whole.isEmpty ? 0 : Int64(whole), seconds <= maximumSeconds,
            let fractionValue = significantFraction.isEmpty ? 0 : Int64(significantFraction)
        else { return nil }
        var attoseconds = fractionValue
        for _ in significantFraction.count..<18 { attoseconds *= 10 }
        let duration = Duration(secondsComponent: seconds, attosecondsComponent: attoseconds)
        if !allowsZero && duration == .zero { return nil }
        return duration
    }

    static func string(_ text: String) -> String? {
        guard !text.isEmpty, !text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) else {
            return nil
        }
        return text
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}
