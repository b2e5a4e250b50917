/// Percent-encoding as RFC 3986 §2.1 defines it, over UTF-8 bytes.
enum PercentEncoding {
    /// The bytes of `text` with every `%XX` decoded; nil when a `%` is not followed by two hex
    /// digits, because a half escape is a typo we must not guess at.
    static func decode(_ text: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue)
            else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    /// `text` with every byte outside `allowed` (and every non-ASCII byte) written as `%XX`.
    static func encode(_ text: String, allowing allowed: Set<UInt8>) -> String {
        var result = ""
        for byte in text.utf8 {
            if allowed.contains(byte) {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + String(hexDigits[Int(byte >> 4)]) + String(hexDigits[Int(byte & 0x0F)])
            }
        }
        return result
    }

    /// RFC 3986 `unreserved` plus the sub-delimiters: safe inside a user name or password.
    static let userInfoAllowed: Set<UInt8> = unreserved.union("!$&'()*+,;=".utf8)
    /// What may stay literal inside one path segment (`pchar` without the percent sign).
    static let pathSegmentAllowed: Set<UInt8> = userInfoAllowed.union(":@".utf8)

    private static let unreserved = Set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
    private static let hexDigits = Array("0123456789ABCDEF")

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
