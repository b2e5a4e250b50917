import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// Names in a legacy encoding (GBK, GB18030, Big5, Shift_JIS, Latin-1, …), converted with iconv
/// in both directions. A name that does not convert is refused (nil), never mangled: the caller
/// skips it with a log line rather than showing a name no command could reach.
public final class IconvNameCodec: NameCodec, @unchecked Sendable {
    public let encoding: String
    /// iconv descriptors keep conversion state, so each direction is used by one thread at a time.
    private let lock = ConditionLock()
    private let decoder: iconv_t
    private let encoder: iconv_t

    /// Nil when iconv does not know `encoding`.
    public init?(encoding: String) {
        let decoder = iconv_open("UTF-8", encoding)
        guard let decoder, Int(bitPattern: decoder) != -1 else { return nil }
        let encoder = iconv_open(encoding, "UTF-8")
        guard let encoder, Int(bitPattern: encoder) != -1 else {
            iconv_close(decoder)
            return nil
        }
        self.encoding = encoding
        self.decoder = decoder
        self.encoder = encoder
    }

    deinit {
        iconv_close(decoder)
        iconv_close(encoder)
    }

    public var isUTF8: Bool { false }

    public func decode(_ bytes: ArraySlice<UInt8>) -> String? {
        guard let utf8 = convert(Array(bytes), with: decoder) else { return nil }
        return String(validating: utf8, as: UTF8.self)
    }

    public func encode(_ string: String) -> [UInt8]? {
        convert(Array(string.utf8), with: encoder)
    }

    private func convert(_ input: [UInt8], with descriptor: iconv_t) -> [UInt8]? {
        if input.isEmpty { return [] }
        return lock.withLock { () -> [UInt8]? in
            iconv(descriptor, nil, nil, nil, nil)  // back to the initial shift state
            var output = [UInt8](repeating: 0, count: input.count * 4 + 16)
            var source = input
            let converted: Int? = source.withUnsafeMutableBufferPointer { sourceBuffer in
                output.withUnsafeMutableBufferPointer { outputBuffer in
                    var inPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(sourceBuffer.baseAddress!)
                        .assumingMemoryBound(to: CChar.self)
                    var inLeft = sourceBuffer.count
                    var outPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(outputBuffer.baseAddress!)
                        .assumingMemoryBound(to: CChar.self)
                    var outLeft = outputBuffer.count
                    if iconv(descriptor, &inPointer, &inLeft, &outPointer, &outLeft) == -1 { return nil }
                    // Flush any pending shift sequence (stateful encodings such as ISO-2022-JP).
                    if iconv(descriptor, nil, nil, &outPointer, &outLeft) == -1 { return nil }
                    return outputBuffer.count - outLeft
                }
            }
            guard let converted else { return nil }
            return Array(output[0..<converted])
        }
    }
}

extension IconvNameCodec {
    /// Whether ASCII stays ASCII in this encoding, both ways. FTP's commands, replies and
    /// listings are ASCII text with names in them: ftpfs splits listings at LF before decoding
    /// and checks names for CR, LF, NUL and `/`, so an encoding that writes ASCII characters as
    /// other bytes (UTF-16, UTF-32, UCS-2, UTF-7, EBCDIC) would put NUL, CR or LF bytes on the
    /// wire inside ordinary names, and read listings wrongly. Every ASCII character must encode
    /// to its own byte, and every ASCII byte decode to its own character, except `\` and `~`,
    /// which Shift_JIS decoders read as ¥ and ‾ (JIS X 0201 Roman): a difference of display
    /// only, CR, LF, space and `/` stay themselves.
    public var isASCIICompatible: Bool {
        let ascii = Array(UInt8(0x01)...UInt8(0x7F))
        guard encode(String(decoding: ascii, as: UTF8.self)) == ascii else { return false }
        for byte in ascii where byte != UInt8(ascii: "\\") && byte != UInt8(ascii: "~") {
            guard decode([byte][...]).map({ Array($0.utf8) }) == [byte] else { return false }
        }
        return true
    }
}

/// Why `-o encoding=` cannot be used.
public enum NameCodecError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownEncoding(String)
    case notASCIICompatible(String)

    public var description: String {
        switch self {
        case .unknownEncoding(let name):
            "encoding: iconv does not know '\(name)' (see iconv -l)"
        case .notASCIICompatible(let name):
            "encoding: '\(name)' is not ASCII-compatible: it writes ASCII characters as other bytes, "
                + "so names would carry NUL, CR or LF onto the FTP connection; give the server's 8-bit or "
                + "multibyte encoding (Latin1, CP1252, GBK, Big5, CP932, EUC-JP, ...)"
        }
    }
}

/// The codec for `-o encoding=NAME`: UTF-8 itself, or iconv for anything else. Refuses names
/// iconv does not know and encodings that are not ASCII-compatible (see
/// `IconvNameCodec.isASCIICompatible`).
public func nameCodec(forEncoding name: String?) throws(NameCodecError) -> any NameCodec {
    guard let name, !name.isEmpty else { return UTF8NameCodec() }
    let normalized = name.uppercased().replacingOccurrences(of: "_" as Character, with: "-" as Character)
    if normalized == "UTF-8" || normalized == "UTF8" { return UTF8NameCodec() }
    guard let codec = IconvNameCodec(encoding: name) else { throw .unknownEncoding(name) }
    guard codec.isASCIICompatible else { throw .notASCIICompatible(name) }
    return codec
}

extension String {
    fileprivate func replacingOccurrences(of target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
