import FTPClient
import FTPProtocol
import FuseBridge
import Testing

@testable import FTPFileSystem

#if canImport(Glibc)
import Glibc
#endif

@Suite("The one meaning → errno mapping")
struct ErrnoMappingTests {
    static let meanings: [FTPError.Meaning] = [
        .notFound, .alreadyExists, .permissionDenied, .notSupported, .badArgument, .quotaExceeded, .busy,
        .transferInterrupted, .connectionLost, .notEmpty, .notDirectory, .isDirectory, .refused, .loginRefused,
        .unreachable, .tls, .protocolViolation, .interrupted,
    ]

    /// The kernel latches ENOSYS for the whole mount (flush, open, …): it must never leave.
    @Test func noMeaningDuringAnyOperationIsENOSYS() {
        for meaning in Self.meanings {
            for operation in FileOperation.allCases {
                let errno = FTPFileSystem.errno(for: meaning, during: operation)
                #expect(errno != .notImplemented, "\(meaning) during \(operation)")
            }
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var meaning: FTPError.Meaning
        var operation: FileOperation
        var expected: Int32
        var testDescription: String { "\(meaning) during \(operation) → \(expected)" }
    }

    @Test(arguments: [
        Case(meaning: .notFound, operation: .read, expected: ENOENT),
        Case(meaning: .permissionDenied, operation: .list, expected: EACCES),
        Case(meaning: .notEmpty, operation: .removeDirectory, expected: ENOTEMPTY),
        Case(meaning: .alreadyExists, operation: .makeDirectory, expected: EEXIST),
        Case(meaning: .quotaExceeded, operation: .write, expected: ENOSPC),
        Case(meaning: .badArgument, operation: .rename, expected: EINVAL),
        Case(meaning: .loginRefused, operation: .list, expected: EACCES),
        // A server without the command: a change is not permitted, a read fails.
        Case(meaning: .notSupported, operation: .write, expected: EPERM),
        Case(meaning: .notSupported, operation: .rename, expected: EPERM),
        Case(meaning: .notSupported, operation: .setAttributes, expected: EPERM),
        Case(meaning: .notSupported, operation: .list, expected: EIO),
        Case(meaning: .notSupported, operation: .read, expected: EIO),
        Case(meaning: .busy, operation: .delete, expected: EBUSY),
        Case(meaning: .refused, operation: .create, expected: EACCES),
        Case(meaning: .refused, operation: .lookup, expected: ENOENT),
        Case(meaning: .transferInterrupted, operation: .read, expected: EIO),
        Case(meaning: .connectionLost, operation: .write, expected: EIO),
    ])
    func meanings(_ testCase: Case) {
        #expect(FTPFileSystem.errno(for: testCase.meaning, during: testCase.operation).rawValue == testCase.expected)
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
}
