/// Parsers for the replies that open a passive data connection.
public enum PassiveReply {
    /// The address in a `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` reply (RFC 959).
    ///
    /// Servers vary the wrapping (`(…)`, `=…`, nothing) and the text before it, so this takes the
    /// first run of six comma-separated numbers anywhere in the text.
    public static func parsePASV(_ text: String) -> (host: String, port: UInt16)? {
        let bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            guard bytes[start] >= 0x30 && bytes[start] <= 0x39 else {
                start += 1
                continue
            }
            var numbers: [Int] = []
            var index = start
            var current = 0
            var digits = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte >= 0x30 && byte <= 0x39 {
                    current = current * 10 + Int(byte - 0x30)
                    digits += 1
                    if digits > 3 { break }
                } else if byte == 0x2C, digits > 0 {
                    numbers.append(current)
                    current = 0
                    digits = 0
                    if numbers.count == 6 { break }
                } else if byte == 0x20, digits == 0, !numbers.isEmpty {
                    // a space after a comma: "(127, 0, 0, 1, 4, 1)"
                } else {
                    break
                }
                index += 1
            }
            if digits > 0 && digits <= 3 && numbers.count == 5 {
                numbers.append(current)
            }
            if numbers.count == 6, numbers.allSatisfy({ $0 <= 255 }), numbers[4] + numbers[5] > 0 {
                let host = numbers[0..<4].map(String.init).joined(separator: ".")
                return (host, UInt16(numbers[4] * 256 + numbers[5]))
            }
            // skip past this run of digits and try the next one
            start = index + 1
        }
        return nil
    }

    /// The port in a `229 Entering Extended Passive Mode (|||port|)` reply (RFC 2428).
    /// The delimiter is whatever character follows `(`; the network and address fields are empty.
    /// Text before the argument may hold parentheses of its own, so every `(` is tried.
    public static func parseEPSV(_ text: String) -> UInt16? {
        var rest = text[...]
        while let open = rest.firstIndex(of: "(") {
            rest = rest[rest.index(after: open)...]
            if let port = epsvPort(rest) { return port }
        }
        return nil
    }

    private static func epsvPort(_ inner: Substring) -> UInt16? {
        guard let delimiter = inner.first, delimiter.isASCII, !delimiter.isNumber, !delimiter.isWhitespace,
            delimiter != ")", let close = inner.firstIndex(of: ")")
        else { return nil }
        let fields = inner[..<close].split(separator: delimiter, omittingEmptySubsequences: false)
        // "|||6446|" splits into ["", "", "", "6446", ""]
        guard fields.count == 5, fields[0].isEmpty, fields[4].isEmpty,
            fields[1].isEmpty || fields[1] == "1" || fields[1] == "2",
            (1...5).contains(fields[3].utf8.count), fields[3].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let port = UInt16(fields[3]), port > 0
        else { return nil }
        return port
    }

    /// The argument of `EPRT |proto|address|port|` (RFC 2428) for an active-mode listener.
    public static func eprtArgument(host: String, port: UInt16) -> String {
        let family = host.contains(":") ? "2" : "1"
        return "|\(family)|\(host)|\(port)|"
    }

    /// The argument of `PORT h1,h2,h3,h4,p1,p2` for an IPv4 active-mode listener.
    public static func portArgument(ipv4 host: String, port: UInt16) -> String? {
        let parts = host.split(separator: ".")
        guard parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) else { return nil }
        return parts.joined(separator: ",") + ",\(port >> 8),\(port & 0xFF)"
    }
}
