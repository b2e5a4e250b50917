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

/// The codec for `-o encoding=NAME`: UTF-8 itself, or iconv for anything else; nil when iconv
/// does not know the name.
public func nameCodec(forEncoding name: String?) -> (any NameCodec)? {
    guard let name, !name.isEmpty else { return UTF8NameCodec() }
    let normalized = name.uppercased().replacingOccurrences(of: "_" as Character, with: "-" as Character)
    if normalized == "UTF-8" || normalized == "UTF8" { return UTF8NameCodec() }
    return IconvNameCodec(encoding: name)
}

extension String {
    fileprivate func replacingOccurrences(of target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
