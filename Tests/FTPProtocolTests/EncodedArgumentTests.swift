import Testing

@testable import FTPProtocol

/// The bytes a name codec makes of an argument are checked again before they are sent: an
/// encoding may write CR, LF or NUL, or a `/`, where the name has none.
@Suite struct EncodedArgumentTests {
    @Test func theUTF8BytesOfAnOrdinaryPathPass() throws {
        let command = Command.retr("/dir/file name.txt")
        try command.checkEncodedArgument(Array("/dir/file name.txt".utf8))
    }

    @Test func crLFAndNULInTheEncodedBytesAreRefused() {
        // "a" in UTF-16BE is 00 61; "\u{0D0A}" (MALAYALAM LETTER UU) in UTF-16BE is 0D 0A.
        for bytes: [UInt8] in [[0x00, 0x61], [0x0D, 0x0A, 0x44, 0x45, 0x4C, 0x45], [0x61, 0x0A], [0x61, 0x0D]] {
            #expect(throws: CommandError.forbiddenCharacter(verb: "CWD")) {
                try Command.cwd("\u{0D0A}").checkEncodedArgument(bytes)
            }
        }
    }

    @Test func aSlashTheNameDoesNotHaveIsRefused() {
        // ISO-2022-JP writes some kanji with a 0x2F byte: the server would split the name there.
        #expect(throws: CommandError.encodingAddsSeparator(verb: "DELE")) {
            try Command.dele("dir/\u{5C3E}").checkEncodedArgument(Array("dir/".utf8) + [0x1B, 0x24, 0x42, 0x48, 0x2F, 0x1B, 0x28, 0x42])
        }
        #expect(throws: CommandError.encodingAddsSeparator(verb: "DELE")) {
            try Command.dele("a/b").checkEncodedArgument(Array("ab".utf8))
        }
    }
}
