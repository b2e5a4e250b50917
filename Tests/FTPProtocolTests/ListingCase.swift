import Testing

@testable import FTPProtocol

/// One LIST or MLSD line and everything the parser must make of it.
struct ListingCase: CustomTestStringConvertible, Sendable {
    var line: String
    var name: String
    var kind: ListingEntry.Kind
    var size: UInt64?
    /// Expected modification time as an RFC 3659 time-val, nil when the line gives none.
    var modified: String?
    var target: String?
    /// Expected permission bits; nil means the line gives none.
    var mode: UInt32?
    /// The clock the parser runs with (it decides the year of `Mon DD HH:MM` dates).
    var now: FTPTimestamp

    init(_ line: String, _ name: String, _ kind: ListingEntry.Kind, _ size: UInt64?, _ modified: String?,
         target: String? = nil, mode: UInt32? = nil, now: FTPTimestamp = captureTime)
    {
        self.line = line
        self.name = name
        self.kind = kind
        self.size = size
        self.modified = modified
        self.target = target
        self.mode = mode
        self.now = now
    }

    var testDescription: String { line.debugDescription }

    func verify(_ entry: ListingEntry?, checkMode: Bool = true,
                sourceLocation: SourceLocation = #_sourceLocation) throws
    {
        let entry = try #require(entry, "no entry parsed from \(line.debugDescription)", sourceLocation: sourceLocation)
        #expect(entry.name == name, sourceLocation: sourceLocation)
        #expect(entry.kind == kind, sourceLocation: sourceLocation)
        #expect(entry.size == size, sourceLocation: sourceLocation)
        #expect(entry.modified?.timeVal == modified, sourceLocation: sourceLocation)
        #expect(entry.linkTarget == target, sourceLocation: sourceLocation)
        if checkMode {
            #expect(entry.mode == mode, sourceLocation: sourceLocation)
        }
    }
}

/// When the listings from the real servers were captured (2026-11-21 16:37 UTC); recent dates
/// in them have no year, so the tests parse them with this clock.
let captureTime = FTPTimestamp(year: 2026, month: 11, day: 21, hour: 16, minute: 37)!

func clock(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0) -> FTPTimestamp {
    FTPTimestamp(year: year, month: month, day: day, hour: hour, minute: minute)!
}
