import FTPClient
import FTPProtocol
import Testing

/// What a refusal means is decided once, in FTPClient, from the command, the code and the
/// server's words: lines as real servers send them.
@Suite("Error meanings")
struct ErrorMeaningTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var command: String
        var line: String
        var meaning: FTPError.Meaning
        var testDescription: String { "\(command) → \(line) = \(meaning)" }
    }

    static func error(_ command: String, _ line: String) -> FTPError {
        .reply(command: command, reply: Reply(code: ReplyCode(Int(line.prefix(3))!), lines: [line]))
    }

    @Test(arguments: [
        Case(command: "RETR /a", line: "550 Failed to open file.", meaning: .notFound),  // vsftpd
        Case(command: "MLST /missing", line: "550 /missing is not retrievable.", meaning: .notFound),  // pyftpdlib
        Case(command: "RETR /secret.txt", line: "550 secret.txt: Permission denied", meaning: .permissionDenied),  // ProFTPD
        Case(command: "LIST", line: "550 Access is denied. ", meaning: .permissionDenied),  // IIS
        Case(command: "RMD /d", line: "550 Directory not empty", meaning: .notEmpty),
        Case(command: "MKD /d", line: "550 Create directory operation failed.", meaning: .refused),  // vsftpd
        Case(command: "MKD /a", line: "550 a: File exists", meaning: .alreadyExists),  // ProFTPD
        Case(command: "STOR /a", line: "552 Quota exceeded", meaning: .quotaExceeded),
        Case(command: "STOR /a", line: "452 Insufficient storage space in system", meaning: .quotaExceeded),
        Case(command: "STOR /a", line: "553 Could not create file.", meaning: .permissionDenied),  // vsftpd
        Case(command: "STOR /a", line: "550 Permission denied.", meaning: .permissionDenied),
        Case(command: "STOR /a", line: "550 Cannot STOR.", meaning: .permissionDenied),
        Case(command: "RNTO /a\\b", line: "553 Prohibited file name: a\\b", meaning: .badArgument),  // Pure-FTPd
        Case(command: "RNTO /a", line: "550 Cannot create a file when that file already exists.", meaning: .alreadyExists),  // IIS
        Case(command: "RNFR /a", line: "550 RNFR command failed.", meaning: .notFound),  // vsftpd
        Case(command: "RNFR /a", line: "502 Command not implemented.", meaning: .notSupported),
        Case(command: "HASH /a", line: "501 Syntax error in parameters or arguments.", meaning: .badArgument),
        Case(command: "SITE CHMOD 644 /a", line: "500 Unknown SITE command.", meaning: .notSupported),
        Case(command: "MFMT 20240101000000 /a", line: "504 Command not implemented for that parameter.", meaning: .notSupported),
        Case(command: "DELE /a", line: "450 File busy", meaning: .busy),
        Case(command: "DELE /a", line: "450 Permission denied", meaning: .permissionDenied),
        Case(command: "RETR /a", line: "451 Requested action aborted: local error in processing", meaning: .transferInterrupted),
        Case(command: "RETR /a", line: "426 Connection closed; transfer aborted.", meaning: .transferInterrupted),
        Case(command: "LIST", line: "530 Please login with USER and PASS.", meaning: .permissionDenied),
        Case(command: "RNTO /b", line: "503 Bad sequence of commands.", meaning: .protocolViolation),
        Case(command: "SITE SYMLINK a /b", line: "550 Operation not permitted", meaning: .permissionDenied),
    ])
    func replies(_ testCase: Case) {
        #expect(Self.error(testCase.command, testCase.line).meaning == testCase.meaning)
    }

    @Test func failuresOfTheConnection() {
        #expect(FTPError.timedOut("x").meaning == .connectionLost)
        #expect(FTPError.connectionClosed("x").meaning == .connectionLost)
        #expect(FTPError.serviceUnavailable(Reply(code: .serviceNotAvailable, lines: ["421 Bye."])).meaning == .connectionLost)
        #expect(FTPError.hostNotFound(host: "x", reason: "y").meaning == .unreachable)
        #expect(FTPError.invalidArgument("CR in name").meaning == .badArgument)
        #expect(FTPError.protocolViolation("garbage").meaning == .protocolViolation)
        let refused = FTPError.listingRefused(directory: "/in", reply: Reply(code: .fileUnavailable, lines: ["550 Permission denied."]))
        #expect(refused.meaning == .permissionDenied)
        #expect(refused.isServerAnswer)
        #expect(!FTPError.timedOut("x").isServerAnswer)
    }
}
