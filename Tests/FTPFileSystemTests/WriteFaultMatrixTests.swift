import FTPClient
import FuseBridge
import Testing

@testable import FTPFileSystem

#if canImport(Glibc)
import Glibc
#endif

/// Every way of writing a file, crossed with every way a server fails it: either the data is
/// on the server, exactly, or the program got an error from write, close or fsync and the
/// server's previous content is intact. Nothing of ftpfs is left on the server (unless the
/// server refuses to delete it), no errno is ENOSYS, and the next write to the file works.
@Suite("Write patterns × server failures (fake store)", .serialized)
struct WriteFaultMatrixTests {
    static let old = Array("old content, several words long\n".utf8)
    static let path = "/dir/file.txt"

    /// How a program writes. `expected` is the file's content after a success.
    enum Pattern: String, CaseIterable, Sendable {
        case newFile, replaceAtomic, replaceInPlace, append, readWriteEdit, ddNotrunc, truncateToZero,
             truncateToN, renameOver, largeCopy

        var existing: Bool { self != .newFile && self != .largeCopy }
        var atomic: Bool { self != .replaceInPlace }

        var newBytes: [UInt8] {
            self == .largeCopy ? Pattern.large : Array("new bytes from the program\n".utf8)
        }

        /// More than an upload keeps in memory to resume from (16 MiB).
        static let large = FileSystemHarness.content(24 << 20)

        var expected: [UInt8] {
            let old = WriteFaultMatrixTests.old
            switch self {
            case .newFile, .replaceAtomic, .replaceInPlace, .renameOver, .largeCopy: return newBytes
            case .append: return old + newBytes
            case .readWriteEdit: return Array(old[0..<2]) + Array("RW".utf8) + Array(old[4...])
            case .ddNotrunc: return Array(old[0..<5]) + Array("DD".utf8) + Array(old[7...])
            case .truncateToZero: return []
            case .truncateToN: return Array(old[0..<5])
            }
        }

        /// Runs the pattern on `harness`; returns what the program saw.
        func run(on harness: FileSystemHarness) -> FileSystemHarness.Outcome {
            let path = WriteFaultMatrixTests.path
            var outcome = FileSystemHarness.Outcome()
            switch self {
            case .newFile, .replaceAtomic, .replaceInPlace, .largeCopy:
                return harness.writeFile(path, newBytes)
            case .append:
                guard let handle = harness.open(path, flags: O_WRONLY | O_APPEND, outcome: &outcome) else { return outcome }
                harness.write(handle, newBytes, at: UInt64(WriteFaultMatrixTests.old.count), outcome: &outcome)
                harness.close(handle, outcome: &outcome)
            case .readWriteEdit:
                guard let handle = harness.open(path, flags: O_RDWR, outcome: &outcome) else { return outcome }
                _ = harness.read(handle, count: 10, at: 0, outcome: &outcome)
                harness.write(handle, Array("RW".utf8), at: 2, outcome: &outcome)
                harness.close(handle, outcome: &outcome)
            case .ddNotrunc:
                guard let handle = harness.open(path, flags: O_WRONLY, outcome: &outcome) else { return outcome }
                harness.write(handle, Array("DD".utf8), at: 5, outcome: &outcome)
                harness.close(handle, outcome: &outcome)
            case .truncateToZero:
                _ = outcome.run("truncate") { () throws(Errno) in try harness.fileSystem.truncate(path, size: 0, handle: nil) }
            case .truncateToN:
                _ = outcome.run("truncate") { () throws(Errno) in try harness.fileSystem.truncate(path, size: 5, handle: nil) }
            case .renameOver:
                _ = outcome.run("rename") { () throws(Errno) in
                    try harness.fileSystem.rename("/dir/source.txt", to: path, flags: 0)
                }
            }
            return outcome
        }
    }

    /// How a server fails. `verbs` are the commands the fault applies to.
    struct Fault: Sendable, CustomTestStringConvertible {
        var name: String
        var apply: @Sendable (FakeRemoteStore) -> Void
        /// Whether the write must succeed despite it (the fault is one ftpfs gets past).
        var mustSucceed: Bool = false
        /// Whether ftpfs may leave a temporary behind (the server refuses to delete it).
        var mayLeaveTemporary: Bool = false

        var testDescription: String { name }
    }

    static let uploads: @Sendable (String) -> Bool = { _ in true }

    static let faults: [Fault] = {
        var faults: [Fault] = [Fault(name: "no failure", apply: { _ in }, mustSucceed: true)]
        for code in [450, 452, 550, 552, 553, 501, 502] {
            faults.append(Fault(name: "STOR/APPE refused with \(code)", apply: { store in
                store.fail("STOR", .reply(code, "refused by the test"))
                store.fail("APPE", .reply(code, "refused by the test"))
            }))
        }
        faults += [
            Fault(name: "data connection dropped half way", apply: { store in
                store.fail("STOR", .dropUploadAfter(10), times: 1)
                store.fail("APPE", .dropUploadAfter(10), times: 1)
            }, mustSucceed: true),
            Fault(name: "final 226 missing", apply: { store in
                store.fail("STOR", .withholdVerdict, times: 1)
                store.fail("APPE", .withholdVerdict, times: 1)
            }, mustSucceed: true),
            Fault(name: "control connection dropped before the final reply", apply: { store in
                store.fail("STOR", .dropControlBeforeVerdict, times: 1)
                store.fail("APPE", .dropControlBeforeVerdict, times: 1)
            }, mustSucceed: true),
            Fault(name: "upload refused after its last byte (552)", apply: { store in
                store.fail("STOR", .refuseAtEnd(552, "Quota exceeded; upload discarded."))
                store.fail("APPE", .refuseAtEnd(552, "Quota exceeded; upload discarded."))
            }),
            Fault(name: "verification mismatch (always)", apply: { store in store.fail("HASH", .wrongDigest) }),
            Fault(name: "verification mismatch (once)", apply: { store in store.fail("HASH", .wrongDigest, times: 1) },
                  mustSucceed: true),
            Fault(name: "HASH answers 501", apply: { store in store.fail("HASH", .reply(501, "Syntax error.")) },
                  mustSucceed: true),
            Fault(name: "DELE refused", apply: { store in store.fail("DELE", .reply(550, "Permission denied.")) },
                  mustSucceed: true, mayLeaveTemporary: true),
            Fault(name: "DELE refused and STOR refused at the end", apply: { store in
                store.fail("DELE", .reply(550, "Permission denied."))
                store.fail("STOR", .refuseAtEnd(552, "Quota exceeded."))
            }, mayLeaveTemporary: true),
        ]
        for code in [550, 553, 502] {
            faults.append(Fault(name: "RNFR refused with \(code)", apply: { store in
                store.fail("RNFR", .reply(code, "refused by the test"))
            }))
            faults.append(Fault(name: "RNTO refused with \(code)", apply: { store in
                store.fail("RNTO", .reply(code, "refused by the test"))
            }))
        }
        faults.append(Fault(name: "RNTO onto an existing file refused (IIS)", apply: { store in
            store.renameOverwrites = false
        }, mustSucceed: true))
        return faults
    }()

    @Test(arguments: Pattern.allCases, faults)
    func eitherTheDataArrivesOrTheProgramHearsAndTheOldContentStays(_ pattern: Pattern, _ fault: Fault) throws {
        let harness = FileSystemHarness(atomicUpload: pattern.atomic)
        let store = harness.store
        store.directory("/dir")
        if pattern.existing { store.file(Self.path, Self.old) }
        if pattern == .renameOver { store.file("/dir/source.txt", pattern.newBytes) }
        let before = store.data(Self.path)
        fault.apply(store)

        let outcome = pattern.run(on: harness)

        #expect(!outcome.errors.contains { $0.errno == .notImplemented }, "ENOSYS reached the program: \(outcome)")
        if outcome.succeeded {
            #expect(store.data(Self.path) == pattern.expected,
                    "\(pattern) reported success, but the server holds \(store.data(Self.path)?.count ?? -1) bytes, not \(pattern.expected.count)")
        } else {
            #expect(!fault.mustSucceed, "\(pattern) failed: \(outcome)")
            if pattern == .replaceInPlace, store.data(Self.path) != before {
                // Written in place by the user's choice: only a failure before the first byte
                // landed keeps the old content, and ftpfs must have sent the whole file again
                // when it could. What must never happen is a success over a wrong file.
            } else {
                #expect(store.data(Self.path) == before,
                        "\(pattern) failed (\(outcome)) and the server's file changed: \(store.data(Self.path)?.count ?? -1) bytes")
            }
        }
        if !fault.mayLeaveTemporary {
            #expect(store.temporaries.isEmpty, "left behind: \(store.temporaries)")
        }

        // The next write works: no latched error, no lock left held.
        store.clearFaults()
        store.renameOverwrites = true
        let again = harness.writeFile(Self.path, Array("afterwards\n".utf8))
        #expect(again.succeeded, "the write after \(fault.name) failed: \(again)")
        #expect(store.content(Self.path) == "afterwards\n")
    }
}
