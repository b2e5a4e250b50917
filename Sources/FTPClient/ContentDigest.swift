import CTLS

/// The hash algorithms FTP servers can compute over a file (HASH, XSHA256, XSHA1, XMD5, XCRC).
public enum HashAlgorithm: String, CaseIterable, Sendable {
    case sha256 = "SHA-256"
    case sha1 = "SHA-1"
    case md5 = "MD5"
    case crc32 = "CRC32"

    /// Hex digits in a digest of this algorithm.
    public var hexLength: Int {
        switch self {
        case .sha256: 64
        case .sha1: 40
        case .md5: 32
        case .crc32: 8
        }
    }

    /// The X-command that asks for it (`XSHA256`, `XSHA1`, `XMD5`, `XCRC`).
    public var extensionCommand: String {
        switch self {
        case .sha256: "XSHA256"
        case .sha1: "XSHA1"
        case .md5: "XMD5"
        case .crc32: "XCRC"
        }
    }

    var openSSLName: String? {
        switch self {
        case .sha256: "SHA256"
        case .sha1: "SHA1"
        case .md5: "MD5"
        case .crc32: nil
        }
    }
}

/// A running digest of bytes as they are uploaded, to compare with what the server computes.
public final class ContentDigest {
    public let algorithm: HashAlgorithm
    private var openSSL: OpaquePointer?
    private var crc: UInt32 = 0xFFFF_FFFF

    public init(_ algorithm: HashAlgorithm) {
        self.algorithm = algorithm
        if let name = algorithm.openSSLName {
            openSSL = ctls_digest_new(name)
        }
    }

    deinit {
        if let openSSL { ctls_digest_free(openSSL) }
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        if let openSSL {
            ctls_digest_update(openSSL, bytes.baseAddress, bytes.count)
        } else {
            crc = CRC32.update(crc, bytes)
        }
    }

    /// The digest as lower-case hex. The digest cannot be updated afterwards.
    public func finish() -> String {
        if let openSSL {
            var out = [UInt8](repeating: 0, count: 64)
            let length = ctls_digest_final(openSSL, &out)
            ctls_digest_free(openSSL)
            self.openSSL = nil
            return out[0..<length].map { hex($0) }.joined()
        }
        let value = ~crc
        return [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
            .map { hex($0) }.joined()
    }

    private func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}

/// CRC-32 (IEEE 802.3, as zlib and XCRC compute it), table-driven.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 {
            value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1
        }
        return value
    }

    static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var value = crc
        table.withUnsafeBufferPointer { table in
            for byte in bytes {
                value = table[Int((value ^ UInt32(byte)) & 0xFF)] ^ (value >> 8)
            }
        }
        return value
    }
}
