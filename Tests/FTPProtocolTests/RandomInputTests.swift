import Testing

@testable import FTPProtocol

/// A seeded stream of random inputs: real lines from the other tests, mutated, spliced and
/// truncated, plus strings drawn from bytes the parsers care about. The same seed gives the same
/// inputs on every run, so a failure reproduces.
struct RandomInputs: IteratorProtocol {
    private var state: UInt64
    private let seeds: [[UInt8]]

    init(seed: UInt64, seeds: [String]) {
        state = seed
        self.seeds = seeds.map { Array($0.utf8) }
    }

    /// SplitMix64.
    mutating func nextRandom() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(nextRandom() % UInt64(bound)) }

    /// Bytes that steer the parsers into their branches: separators, digits, markers, a NUL,
    /// invalid UTF-8, the lead bytes of multi-byte characters.
    private static let interestingBytes: [UInt8] = Array(" \t;=/.,:-+<>[]()%*\"|!0123456789rwxdlsStT".utf8)
        + [0x00, 0x0D, 0xFF, 0xC3, 0xE6, 0x9C, 0x88]

    mutating func next() -> String? {
        var bytes: [UInt8]
        switch below(10) {
        case 0:
            bytes = (0..<below(120)).map { _ in
                below(2) == 0 ? Self.interestingBytes[below(Self.interestingBytes.count)] : UInt8(below(256))
            }
        case 1:
            // splice the head of one real line onto the tail of another
            let first = seeds[below(seeds.count)]
            let second = seeds[below(seeds.count)]
            bytes = Array(first.prefix(below(first.count + 1))) + Array(second.suffix(below(second.count + 1)))
        default:
            bytes = seeds[below(seeds.count)]
            for _ in 0...below(4) { mutate(&bytes) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private mutating func mutate(_ bytes: inout [UInt8]) {
        let position = below(bytes.count + 1)
        switch below(6) {
        case 0 where position < bytes.count:
            bytes[position] = Self.interestingBytes[below(Self.interestingBytes.count)]
        case 1:
            bytes.insert(Self.interestingBytes[below(Self.interestingBytes.count)], at: position)
        case 2 where position < bytes.count:
            bytes.removeSubrange(position..<min(bytes.count, position + 1 + below(8)))
        case 3:
            bytes.removeSubrange(position...)  // truncate
        case 4 where position < bytes.count:
            // repeat a run (multiplies spaces, digits, fields)
            let run = bytes[position..<min(bytes.count, position + 1 + below(6))]
            bytes.insert(contentsOf: run, at: position)
        default:
            if position < bytes.count { bytes[position] = UInt8(below(256)) }
        }
    }
}

@Suite struct RandomInputTests {
    static let seedLines: [String] = {
        let listingLines = (capturedUnixLines + otherUnixLines + yearInferenceLines + dosLines + eplfLines
            + netWareLines + vmsLines + mlsdLines).map(\.line)
        let replies = [
            "220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------", "220-You are user number 1",
            "220 ready", "211-Features:", " MLST type*;size*;modify*;", "211 End", "200 OK",
            "227 Entering Passive Mode (127,0,0,1,195,80).", "229 Entering Extended Passive Mode (|||50001|)",
            "257 \"/a \"\"b\"\"\" created", "213 20190305142210.123", "250-Listing /a",
            " type=file;size=1;modify=20200101000000; /a", "250 End",
        ]
        return listingLines + rejectedListingLines + rejectedMLSDLines + replies
    }()

    @Test func parsersSurviveRandomInput() throws {
        var inputs = RandomInputs(seed: 0x5EED_F7F5, seeds: Self.seedLines)
        let listParser = ListParser(now: captureTime)
        var replyParser = ReplyParser()
        var batch: [String] = []
        var entriesSeen = 0
        for _ in 0..<4000 {
            let input = inputs.next()!

            for entry in [listParser.parse(line: input), MLSDParser.parse(line: input)].compactMap({ $0 }) {
                try #require(ListingEntry.isSafeName(entry.name), "unsafe name from \(input.debugDescription)")
                #expect((entry.mode ?? 0) <= 0o7777)
                entriesSeen += 1
            }

            do {
                if let reply = try replyParser.consume(line: input) {
                    #expect((100...599).contains(reply.code.rawValue))
                    #expect(reply.lines.last?.hasPrefix(String(reply.code.rawValue)) == true)
                    _ = reply.text
                    _ = FeatureSet(featReply: reply)
                    _ = MLSDParser.parseMLSTReply(reply)
                }
            } catch {
                replyParser = ReplyParser()
            }

            _ = PassiveReply.parsePASV(input)
            _ = PassiveReply.parseEPSV(input)
            _ = FTPTimestamp.parseTimeVal(input)
            _ = FTPPath.parse257(input)
            _ = MLSDParser.parseMLSTReply(Reply(code: .fileActionOK, lines: ["250-x", input, "250 End"]))

            batch.append(input)
            if batch.count == 50 {
                for result in [listParser.parse(lines: batch), MLSDParser.parse(lines: batch)] {
                    try #require(result.entries.allSatisfy { ListingEntry.isSafeName($0.name) })
                    #expect(result.entries.count + result.skipped.count <= batch.count)
                }
                batch.removeAll(keepingCapacity: true)
            }
        }
        // The mutations must leave many inputs parseable, or the test exercises nothing but rejection.
        #expect(entriesSeen > 800)
    }
}
