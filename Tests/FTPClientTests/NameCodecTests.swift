import FTPClient
import FTPProtocol
import Foundation
import Testing
import TestSupport

/// `-o encoding=`: only ASCII-compatible encodings are taken, and whatever a codec makes of a
/// name is checked again before it goes on the wire.
@Suite struct NameCodecTests {
    @Test(arguments: ["UTF-16", "UTF-16LE", "UTF-16BE", "UTF-32", "UCS-2", "UCS-4", "UTF-7", "IBM037", "CP1047",
                      "EBCDIC-US", "ISO-2022-KR",
                      // 7-bit and stateful: its two-byte characters are made of ASCII bytes, '/' among them.
                      "ISO-2022-JP"])
    func encodingsThatAreNotASCIICompatibleAreRefused(_ name: String) {
        #expect(throws: NameCodecError.notASCIICompatible(name)) { try nameCodec(forEncoding: name) }
    }

    @Test(arguments: ["GBK", "GB18030", "BIG5", "SHIFT_JIS", "CP932", "EUC-JP", "EUC-KR", "LATIN1", "ISO-8859-15",
                      "CP1252", "KOI8-R"])
    func asciiCompatibleEncodingsAreTaken(_ name: String) throws {
        let codec = try nameCodec(forEncoding: name)
        #expect(!codec.isUTF8)
        // CR, LF, space and '/' cross in both directions as themselves.
        #expect(codec.encode("a b/c\r\n") == Array("a b/c\r\n".utf8))
        #expect(codec.decode(Array("a b/c\r\n".utf8)[...]) == "a b/c\r\n")
    }

    @Test func utf8NeedsNoIconv() throws {
        #expect(try nameCodec(forEncoding: "utf_8").isUTF8)
        #expect(try nameCodec(forEncoding: nil).isUTF8)
    }

    @Test func anUnknownEncodingIsRefused() {
        #expect(throws: NameCodecError.unknownEncoding("NO-SUCH-CHARSET")) {
            try nameCodec(forEncoding: "NO-SUCH-CHARSET")
        }
    }

    @Test func theRefusalSaysWhy() {
        let message = NameCodecError.notASCIICompatible("UTF-16").description
        #expect(message.contains("'UTF-16' is not ASCII-compatible"))
        #expect(message.contains("CR or LF"))
    }
}

/// A codec that writes one character as CR LF and a command, the way a careless encoding could.
private struct InjectingCodec: NameCodec {
    func decode(_ bytes: ArraySlice<UInt8>) -> String? { String(validating: bytes, as: UTF8.self) }
    func encode(_ string: String) -> [UInt8]? {
        Array(string.replacingOccurrences(of: "\u{E9}", with: "\r\nDELE victim.txt").utf8)
    }
    var isUTF8: Bool { false }
}

@Suite(.enabled(if: TestRequirements.canRun(.pyftpdlib)))
struct EncodedCommandTests {
    @Test func crLFThatACodecWritesNeverReachTheServer() throws {
        try TestRequirements.require(.pyftpdlib)
        let root = try TestDirectory.make("encoded-command")
        defer { TestDirectory.cleanUp(root) }
        try "keep me\n".write(toFile: root + "/victim.txt", atomically: true, encoding: .utf8)
        let server = try FTPTestServer.startPyftpdlib(root: root)
        defer { server.stop() }
        var configuration = clientConfiguration(server)
        configuration.nameCodec = InjectingCodec()
        let session = try FTPSession.connect(configuration: configuration, logger: testLogger)
        defer { session.quit() }

        #expect {
            try session.changeDirectory("caf\u{E9}")
        } throws: { error in
            guard case FTPError.invalidArgument(let message) = error else { return false }
            return message.contains("CR, LF or NUL")
        }
        try session.noop()  // the session is still in step
        #expect(FileManager.default.fileExists(atPath: root + "/victim.txt"))
        #expect(!server.receivedCommands().contains { $0.hasPrefix("DELE") || $0.hasPrefix("CWD") })
    }
}
