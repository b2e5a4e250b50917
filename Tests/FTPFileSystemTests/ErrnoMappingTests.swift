import FTPClient
import FTPProtocol
import FuseBridge
import Testing

@testable import FTPFileSystem

#if canImport(Glibc)
import Glibc
#endif

@Suite("The one FTP error → errno mapping")
struct ErrnoMappingTests {
    static func reply(_ line: String) -> FTPError {
        let code = ReplyCode(Int(line.prefix(3))!)
        return .reply(command: "X", reply: Reply(code: code, lines: [line]))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var line: String
        var operation: FileOperation
        var expected: Int32
        var testDescription: String { "\(line) during \(operation) → \(expected)" }
    }

    @Test(arguments: [
        // Lines as real servers send them.
        Case(line: "550 Failed to open file.", operation: .read, expected: ENOENT),  // vsftpd
        Case(line: "550 /missing is not retrievable.", operation: .lookup, expected: ENOENT),  // pyftpdlib
        Case(line: "550 secret.txt: Permission denied", operation: .read, expected: EACCES),  // ProFTPD
        Case(line: "550 Access is denied. ", operation: .list, expected: EACCES),  // IIS
        Case(line: "550 Directory not empty", operation: .removeDirectory, expected: ENOTEMPTY),
        Case(line: "550 Create directory operation failed.", operation: .makeDirectory, expected: EEXIST),  // vsftpd
        Case(line: "550 a: File exists", operation: .makeDirectory, expected: EEXIST),
        Case(line: "552 Quota exceeded", operation: .write, expected: ENOSPC),
        Case(line: "452 Insufficient storage space in system", operation: .write, expected: ENOSPC),
        Case(line: "553 Could not create file.", operation: .create, expected: EACCES),  // vsftpd
        Case(line: "553 Prohibited file name: a\\b", operation: .rename, expected: EINVAL),
        Case(line: "530 Login incorrect.", operation: .list, expected: EACCES),
        Case(line: "502 Command not implemented.", operation: .list, expected: ENOSYS),
        Case(line: "500 Unknown SITE command.", operation: .setAttributes, expected: EPERM),
        Case(line: "451 Requested action aborted: local error in processing", operation: .read, expected: EIO),
        Case(line: "450 File busy", operation: .delete, expected: EBUSY),
    ])
    func replies(_ testCase: Case) {
        let errno = FTPFileSystem.errno(for: Self.reply(testCase.line), during: testCase.operation)
        #expect(errno.rawValue == testCase.expected)
    }

    @Test func connectionFailuresAreIOErrors() {
        let failures: [FTPError] = [
            .timedOut("waiting for a reply"), .connectionClosed("(test)"), .io(errno: ECONNRESET, context: "read"),
            .serviceUnavailable(Reply(code: .serviceNotAvailable, lines: ["421 Timeout."])),
            .protocolViolation("garbage"), .connectionRefused(address: "127.0.0.1:1"),
        ]
        for failure in failures {
            #expect(FTPFileSystem.errno(for: failure, during: .read) == .ioError)
        }
    }

    @Test func badArgumentsAndLogin() {
        #expect(FTPFileSystem.errno(for: .invalidArgument("CR in name"), during: .create) == .invalidArgument)
        let login = FTPError.loginFailed(Reply(code: .notLoggedIn, lines: ["530 Login incorrect."]))
        #expect(FTPFileSystem.errno(for: login, during: .list) == .accessDenied)
    }
}
