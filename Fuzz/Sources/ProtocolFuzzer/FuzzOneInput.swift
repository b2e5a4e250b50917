import FTPProtocol

/// One fuzz input is a chunk of server output: its lines go through every parser, one by one and
/// as a whole listing. A crash, a hang, or an entry whose name could escape its directory is a
/// finding.
func fuzzOneInput(_ bytes: UnsafeBufferPointer<UInt8>) {
    let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
    }
    let listParser = ListParser(now: FTPTimestamp(seconds: 1_795_000_000))
    var replyParser = ReplyParser()

    for line in lines {
        checkSafe(listParser.parse(line: line))
        checkSafe(MLSDParser.parse(line: line))
        do {
            if let reply = try replyParser.consume(line: line) {
                precondition((100...599).contains(reply.code.rawValue))
                _ = reply.text
                _ = FeatureSet(featReply: reply)
                _ = MLSDParser.parseMLSTReply(reply)
                _ = ListingCompletion.isTruncated(reply)
            }
        } catch {
            replyParser = ReplyParser()
        }
        _ = PassiveReply.parsePASV(line)
        _ = PassiveReply.parseEPSV(line)
        _ = FTPTimestamp.parseTimeVal(line)
        _ = FTPPath.parse257(line)
        _ = try? Command.retr(line).line()
    }
    for result in [listParser.parse(lines: lines), MLSDParser.parse(lines: lines)] {
        result.entries.forEach { checkSafe($0) }
        precondition(result.entries.count + result.skipped.count <= lines.count)
    }
}

private func checkSafe(_ entry: ListingEntry?) {
    guard let entry else { return }
    precondition(ListingEntry.isSafeName(entry.name), "unsafe name \(entry.name.debugDescription)")
    precondition((entry.mode ?? 0) <= 0o7777, "mode out of range")
}

/// The callback libFuzzer looks for when its own main() is linked in (debug builds, where
/// SwiftPM does not redirect the entry point to main.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOneInput(UnsafeBufferPointer(start: data, count: size))
    return 0
}
