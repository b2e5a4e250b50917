/// Byte-level helpers shared by the listing parsers.
///
/// Listings can hold tens of thousands of lines, so the parsers read a line's UTF-8 bytes in place
/// (`String.withUTF8`) and cut it into fields by offsets, rather than slicing `Character`s.

/// A run of bytes that are not spaces, as offsets into one line's UTF-8.
struct FieldRange {
    var start: Int
    var end: Int

    var count: Int { end - start }
    var range: Range<Int> { start..<end }
}

/// One line's UTF-8 bytes and the space-separated fields found at its start.
///
/// Only the first `fieldCapacity` fields are recorded: every dialect finds what it needs (the
/// date, at the latest) well before that, and the rest of the line is a name taken by offset.
struct LineBytes {
    let bytes: UnsafeBufferPointer<UInt8>
    let fields: UnsafeMutableBufferPointer<FieldRange>
    let fieldCount: Int

    /// The maximum number of leading fields recorded per line.
    static let fieldCapacity = 24

    init(bytes: UnsafeBufferPointer<UInt8>, fieldStorage: UnsafeMutableBufferPointer<FieldRange>) {
        self.bytes = bytes
        self.fields = fieldStorage
        var count = 0
        var index = 0
        let end = bytes.count
        while index < end, count < fieldStorage.count {
            while index < end, bytes[index] == .space { index += 1 }
            if index == end { break }
            let start = index
            while index < end, bytes[index] != .space { index += 1 }
            fieldStorage[count] = FieldRange(start: start, end: index)
            count += 1
        }
        self.fieldCount = count
    }

    subscript(field index: Int) -> FieldRange { fields[index] }

    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    func field(_ index: Int, equalsIgnoringCase lowercaseASCII: StaticString) -> Bool {
        bytes.equalsIgnoringASCIICase(fields[index].range, lowercaseASCII)
    }
}

extension UInt8 {
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let carriageReturn: UInt8 = 0x0D
    static let comma: UInt8 = 0x2C
    static let hyphen: UInt8 = 0x2D
    static let period: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let equals: UInt8 = 0x3D
    static let plus: UInt8 = 0x2B

    var isASCIIDigit: Bool { self &- 0x30 < 10 }
    /// The byte with ASCII upper-case letters folded to lower case; other bytes unchanged.
    var asciiLowercased: UInt8 { self &- 0x41 < 26 ? self | 0x20 : self }
}

extension UnsafeBufferPointer<UInt8> {
    /// The decimal value of `range` when it is 1...18 digits and nothing else.
    func decimal(_ range: Range<Int>) -> Int? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var value = 0
        for index in range {
            let digit = self[index] &- 0x30
            guard digit < 10 else { return nil }
            value = value * 10 + Int(digit)
        }
        return value
    }

    /// The decimal value of `range` as a byte count; nil on anything but digits or on overflow.
    func unsignedDecimal(_ range: Range<Int>) -> UInt64? {
        guard !range.isEmpty else { return nil }
        var value: UInt64 = 0
        for index in range {
            let digit = self[index] &- 0x30
            guard digit < 10 else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    /// The octal value of `range` (permission bits); nil on anything but 1...10 octal digits.
    func octal(_ range: Range<Int>) -> UInt32? {
        guard !range.isEmpty, range.count <= 10 else { return nil }
        var value: UInt32 = 0
        for index in range {
            let digit = self[index] &- 0x30
            guard digit < 8 else { return nil }
            value = value << 3 | UInt32(digit)
        }
        return value
    }

    func allDigits(_ range: Range<Int>) -> Bool {
        !range.isEmpty && range.allSatisfy { self[$0].isASCIIDigit }
    }

    /// Whether `range` spells `lowercaseASCII`, ignoring ASCII case.
    func equalsIgnoringASCIICase(_ range: Range<Int>, _ lowercaseASCII: StaticString) -> Bool {
        guard range.count == lowercaseASCII.utf8CodeUnitCount else { return false }
        let expected = lowercaseASCII.utf8Start
        for (offset, index) in range.enumerated() where self[index].asciiLowercased != expected[offset] {
            return false
        }
        return true
    }

    /// Whether the bytes at `range` start with `lowercaseASCII`, ignoring ASCII case.
    func hasPrefixIgnoringASCIICase(_ range: Range<Int>, _ lowercaseASCII: StaticString) -> Bool {
        let length = lowercaseASCII.utf8CodeUnitCount
        guard range.count >= length else { return false }
        return equalsIgnoringASCIICase(range.lowerBound..<(range.lowerBound + length), lowercaseASCII)
    }

    func firstIndex(of byte: UInt8, in range: Range<Int>) -> Int? {
        var index = range.lowerBound
        while index < range.upperBound {
            if self[index] == byte { return index }
            index += 1
        }
        return nil
    }
}

/// Runs `body` over the UTF-8 bytes of `line`, without a trailing CR that a caller left in.
@inline(__always)
func withLineBytes<Result>(_ line: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
    var line = line
    return line.withUTF8 { raw in
        var count = raw.count
        if count > 0, raw[count - 1] == .carriageReturn { count -= 1 }
        return body(UnsafeBufferPointer(rebasing: raw[0..<count]))
    }
}
