import FTPClient
import FTPProtocol
import Foundation
import FuseBridge
import Testing
import TestSupport
import ThreadSupport

@testable import FTPFileSystem

#if canImport(Glibc)
import Glibc
#endif

/// The file system's fault paths beyond the write matrix, on the fake store: unsupported
/// commands, files unlinked while open, sizes the server does not honour, upload-only
/// directories, cancels on a stalled server, resumes while the server still writes, and what
/// a killed ftpfs leaves behind.
@Suite("File system fault paths (fake store)", .serialized)
struct FileSystemFaultTests {
    // MARK: - No ENOSYS, ever

    /// Every operation, against a server that answers "502 Command not implemented" to every
    /// command it is sent, fails with something other than ENOSYS (which the kernel would take
    /// as "this file system has no such operation" and stop asking).
    @Test func noOperationReturnsENOSYSWhenTheServerImplementsNothing() throws {
        let harness = FileSystemHarness()
        let store = harness.store
        store.file("/a.txt", "content")
        store.directory("/d")
        let fs = harness.fileSystem
        // Open handles first, while the server still answers.
        let reader = try fs.open("/a.txt", flags: O_RDONLY).handle
        let writer = try fs.open("/a.txt", flags: O_RDWR).handle
        _ = try fs.readdir("/")
        for verb in ["LIST", "MLST", "SIZE", "MDTM", "HASH", "CWD", "DELE", "RNFR", "RNTO", "MKD", "RMD", "MFMT",
                     "SITE CHMOD", "RETR", "STOR", "APPE"] {
            store.fail(verb, .reply(502, "Command not implemented."))
        }
        fs.dropCaches()
        var errors: [(String, Errno)] = []
        func attempt(_ name: String, _ body: () throws(Errno) -> Void) {
            do { try body() } catch { errors.append((name, error)) }
        }
        var buffer = [UInt8](repeating: 0, count: 16)
        attempt("getattr") { () throws(Errno) in _ = try fs.getattr("/b.txt", handle: nil) }
        attempt("readdir") { () throws(Errno) in _ = try fs.readdir("/d") }
        attempt("readlink") { () throws(Errno) in _ = try fs.readlink("/a.txt") }
        attempt("open") { () throws(Errno) in _ = try fs.open("/a.txt", flags: O_RDONLY) }
        attempt("read") { () throws(Errno) in
            _ = try buffer.withUnsafeMutableBytesTyped { (raw) throws(Errno) in try fs.read("", handle: reader, into: raw, offset: 0) }
        }
        let one = Array("x".utf8)
        attempt("create") { () throws(Errno) in
            let handle = try fs.create("/new.txt", mode: 0o644, flags: O_WRONLY | O_CREAT | O_TRUNC).handle
            defer { fs.release("", handle: handle) }
            _ = try one.withUnsafeBytesTyped { (raw) throws(Errno) in try fs.write("", handle: handle, bytes: raw, offset: 0) }
            try fs.flush("", handle: handle)
        }
        attempt("write") { () throws(Errno) in
            _ = try one.withUnsafeBytesTyped { (raw) throws(Errno) in try fs.write("", handle: writer, bytes: raw, offset: 1) }
        }
        attempt("flush") { () throws(Errno) in try fs.flush("", handle: writer) }
        attempt("fsync") { () throws(Errno) in try fs.fsync("", handle: writer, dataOnly: false) }
        attempt("truncate") { () throws(Errno) in try fs.truncate("/a.txt", size: 2, handle: nil) }
        attempt("unlink") { () throws(Errno) in try fs.unlink("/a.txt") }
        attempt("mkdir") { () throws(Errno) in try fs.mkdir("/e", mode: 0o755) }
        attempt("rmdir") { () throws(Errno) in try fs.rmdir("/d") }
        attempt("rename") { () throws(Errno) in try fs.rename("/d", to: "/f", flags: 0) }
        attempt("utimens") { () throws(Errno) in
            try fs.utimens("/d", accessed: nil, modified: Timestamp(seconds: 1_000_000_000), handle: nil)
        }
        attempt("chmod") { () throws(Errno) in try fs.chmod("/d", mode: 0o700, handle: nil) }
        attempt("symlink") { () throws(Errno) in try fs.symlink(target: "a.txt", at: "/l") }
        fs.release("", handle: reader)
        fs.release("", handle: writer)
        #expect(!errors.isEmpty)
        for (operation, errno) in errors {
            #expect(errno != .notImplemented, "\(operation) returned ENOSYS")
        }
    }

    // MARK: - Creating a name another client took

    /// The kernel creates a file when its lookup said "missing", which may come from a listing
    /// made before another client created the file. `>>` then appends to that file instead of
    /// truncating it, and O_EXCL fails, because a create checks with the server when the
    /// cache's word is not fresh.
    @Test func aCreateOfANameAnotherClientTookMeanwhileKeepsTheirFile() throws {
        let harness = FileSystemHarness(revalidateInterval: 0)
        let store = harness.store
        let fs = harness.fileSystem
        #expect(try fs.readdir("/").all.isEmpty)  // listed: "theirs.log" is missing here
        store.file("/theirs.log", "their first line\n")
        #expect(throws: Errno.exists) {
            try fs.create("/theirs.log", mode: 0o644, flags: O_WRONLY | O_CREAT | O_EXCL)
        }
        var outcome = FileSystemHarness.Outcome()
        let handle = try #require(outcome.run("create") { () throws(Errno) in
            try fs.create("/theirs.log", mode: 0o644, flags: O_WRONLY | O_CREAT | O_APPEND).handle
        })
        let line = Array("our line\n".utf8)
        harness.write(handle, line, at: try fs.getattr("", handle: handle).size, outcome: &outcome)
        harness.close(handle, outcome: &outcome)
        #expect(outcome.succeeded, "\(outcome)")
        #expect(store.content("/theirs.log") == "their first line\nour line\n")
    }

    // MARK: - Other clients' changes

    /// Close-to-open consistency: once what the cache knows is older than `revalidate`, an
    /// open sees another client's rewrite, a lookup finds a file another client made, and an
    /// open of a file another client deleted fails.
    @Test func anotherClientsChangesAreSeenByTheNextOpen() throws {
        let harness = FileSystemHarness(revalidateInterval: 0.2)
        let store = harness.store
        store.file("/shared.txt", "version one\n")
        let fs = harness.fileSystem
        #expect(try fs.readdir("/").all.map { $0.name } == ["shared.txt"])
        #expect(harness.readFile("/shared.txt").bytes == Array("version one\n".utf8))
        store.file("/shared.txt", "version two, longer\n")
        store.file("/new.txt", "made elsewhere\n")
        #expect(throws: Errno.noSuchFile) { try fs.getattr("/new.txt", handle: nil) }  // the listing is young
        usleep(250_000)
        #expect(harness.readFile("/shared.txt").bytes == Array("version two, longer\n".utf8))
        #expect(try fs.getattr("/new.txt", handle: nil).size == 15)
        try store.delete("/shared.txt")
        usleep(250_000)
        #expect(throws: Errno.noSuchFile) { try fs.open("/shared.txt", flags: O_RDONLY) }
    }

    // MARK: - Unlinked while open

    /// tempfile.TemporaryFile, sort, build tools: create, unlink, then go on writing and
    /// reading. The data stays readable through the handle, the name is gone at once, and
    /// nothing reaches the server.
    @Test func aFileUnlinkedWhileOpenKeepsItsDataForItsHandle() throws {
        let harness = FileSystemHarness()
        let fs = harness.fileSystem
        var outcome = FileSystemHarness.Outcome()
        let handle = try #require(harness.open("/tmp.bin", flags: O_RDWR | O_CREAT | O_TRUNC, outcome: &outcome))
        let first = FileSystemHarness.content(100_000, seed: 3)
        harness.write(handle, first, at: 0, outcome: &outcome)
        try fs.unlink("/tmp.bin")
        #expect(throws: Errno.noSuchFile) { try fs.getattr("/tmp.bin", handle: nil) }
        #expect(try !fs.readdir("/").all.contains { $0.name == "tmp.bin" })
        let second = FileSystemHarness.content(50_000, seed: 4)
        harness.write(handle, second, at: UInt64(first.count), outcome: &outcome)
        let back = harness.read(handle, count: 200_000, at: 0, outcome: &outcome)
        #expect(back == first + second, "read back \(back?.count ?? -1) bytes")
        #expect(try fs.getattr("", handle: handle).size == UInt64(first.count + second.count))
        harness.close(handle, outcome: &outcome)
        #expect(outcome.succeeded, "\(outcome)")
        // What the abandoned upload left is removed in the background.
        let deadline = MonotonicClock.now + 10
        while !harness.store.names(in: "/").isEmpty && MonotonicClock.now < deadline { usleep(10_000) }
        #expect(harness.store.names(in: "/").isEmpty, "left on the server: \(harness.store.names(in: "/"))")
    }

    /// A file that exists on the server, unlinked while one handle writes it and another
    /// reads it: both go on with the old data (the writer's copy is local, the reader's is a
    /// hidden copy on the server, deleted at its last close).
    @Test func anExistingFileUnlinkedWhileOpenIsKeptForItsHandlesAndThenRemoved() throws {
        let harness = FileSystemHarness()
        let store = harness.store
        let data = FileSystemHarness.content(300_000, seed: 5)
        store.file("/keep.bin", data)
        let fs = harness.fileSystem
        var outcome = FileSystemHarness.Outcome()
        let reader = try #require(harness.open("/keep.bin", flags: O_RDONLY, outcome: &outcome))
        _ = harness.read(reader, count: 1000, at: 0, outcome: &outcome)
        try fs.unlink("/keep.bin")
        #expect(store.data("/keep.bin") == nil, "the name must go on the server")
        #expect(try !fs.readdir("/").all.contains { $0.name == "keep.bin" })
        #expect(store.temporaries.count == 1, "a hidden copy for the reader")
        let rest = harness.read(reader, count: 400_000, at: 1000, outcome: &outcome)
        #expect(rest.map { Array(data[0..<1000]) + $0 } == data)
        fs.release("", handle: reader)
        let deadline = MonotonicClock.now + 5
        while !store.temporaries.isEmpty && MonotonicClock.now < deadline { usleep(10_000) }
        #expect(store.temporaries.isEmpty, "the hidden copy must go at the last close")
        #expect(outcome.succeeded, "\(outcome)")
    }

    // MARK: - Sizes the server does not honour

    /// SIZE and the listing promise more than RETR delivers: reads never return bytes the
    /// server did not send. The read that meets the early end fails (the kernel would fill the
    /// gap with zeros), and the size is corrected for the next one.
    @Test func aFileShorterThanItsListedSizeIsNeverPaddedWithZeros() throws {
        let harness = FileSystemHarness()
        let store = harness.store
        let data = FileSystemHarness.content(100_000, seed: 6)
        store.file("/lies.bin", data)
        store.fail("RETR", .shortDownload(60_000))
        let (bytes, outcome) = harness.readFile("/lies.bin")
        #expect(bytes == nil, "a read past what the server sent must fail, not return zeros")
        #expect(outcome.errors.first?.errno == .ioError, "\(outcome)")
        // The size the mount shows now is what the server delivered.
        store.clearFaults()
        #expect(try harness.fileSystem.getattr("/lies.bin", handle: nil).size == 60_000)
    }

    // MARK: - Upload-only directories

    /// A drop box: the login may enter `incoming/` and store files, but not list it or ask
    /// about files there. `cp file incoming/` works; `ls incoming` is EACCES.
    @Test func filesCanBeCopiedIntoADirectoryThatCannotBeListed() throws {
        let harness = FileSystemHarness()
        let store = harness.store
        store.directory("/incoming")
        store.dropBoxes = ["/incoming"]
        let fs = harness.fileSystem
        #expect(try fs.getattr("/incoming", handle: nil).kind == .directory)
        #expect(throws: Errno.accessDenied) { try fs.readdir("/incoming") }
        #expect(throws: Errno.noSuchFile) { try fs.getattr("/incoming/report.pdf", handle: nil) }
        let content = FileSystemHarness.content(70_000, seed: 7)
        let outcome = harness.writeFile("/incoming/report.pdf", content)
        #expect(outcome.succeeded, "\(outcome)")
        #expect(store.data("/incoming/report.pdf") == content)
        #expect(store.temporaries.isEmpty, "nothing can be renamed or deleted in a drop box: no temporaries there")
    }

    // MARK: - Cancelling on a stalled server

    /// An upload to a server that stopped taking data: unlink and truncate return within a
    /// second, without waiting for the timeout, and the writing program hears of it.
    @Test(arguments: ["unlink", "truncate"])
    func unlinkOrTruncateOfAStalledUploadReturnsPromptly(_ operation: String) throws {
        let harness = FileSystemHarness()
        harness.store.timeoutValue = 30
        harness.store.fail("STOR", .stallUpload)
        let fs = harness.fileSystem
        var outcome = FileSystemHarness.Outcome()
        let handle = try #require(harness.open("/stuck.bin", flags: O_WRONLY | O_CREAT | O_TRUNC, outcome: &outcome))
        // A writer thread fills the pipeline and then waits on the stalled server.
        let writerDone = ConditionLock()
        nonisolated(unsafe) var finished = false
        WorkerThreads.shared.run {
            var writes = FileSystemHarness.Outcome()
            harness.write(handle, FileSystemHarness.content(8 << 20, seed: 8), at: 0, outcome: &writes)
            writerDone.withLock {
                finished = true
                writerDone.broadcast()
            }
        }
        harness.store.waitForStalledUpload()
        usleep(100_000)  // the writer fills the pipeline and waits for room
        let started = MonotonicClock.now
        if operation == "unlink" {
            try fs.unlink("/stuck.bin")
        } else {
            try fs.truncate("/stuck.bin", size: 0, handle: handle)
        }
        let took = MonotonicClock.now - started
        #expect(took < 1, "\(operation) took \(took) s")
        writerDone.withLock {
            let deadline = MonotonicClock.now + 5
            while !finished && MonotonicClock.now < deadline { writerDone.wait(seconds: 0.1) }
        }
        #expect(finished, "the writer stayed blocked")
        harness.store.clearFaults()  // the server recovers; what was written after the cancel lands
        fs.release("", handle: handle)
    }

    // MARK: - Reading what another handle is uploading

    /// A reader of a file another handle is streaming gets the bytes written so far (from the
    /// upload's temporary) without waiting for the upload to complete, and the upload then
    /// goes on and lands whole.
    @Test func aReaderOfAFileBeingUploadedGetsItsBytesAndTheUploadGoesOn() throws {
        let harness = FileSystemHarness()
        let fs = harness.fileSystem
        var outcome = FileSystemHarness.Outcome()
        let writer = try #require(harness.open("/growing.log", flags: O_WRONLY | O_CREAT | O_TRUNC, outcome: &outcome))
        let first = FileSystemHarness.content(3 << 20, seed: 9)
        harness.write(writer, first, at: 0, outcome: &outcome)
        let reader = try #require(harness.open("/growing.log", flags: O_RDONLY, outcome: &outcome))
        let seen = harness.read(reader, count: 1 << 20, at: 1 << 20, outcome: &outcome)
        #expect(seen == Array(first[(1 << 20)..<(2 << 20)]))
        let second = FileSystemHarness.content(1 << 20, seed: 10)
        harness.write(writer, second, at: UInt64(first.count), outcome: &outcome)
        harness.close(writer, outcome: &outcome)
        fs.release("", handle: reader)
        #expect(outcome.succeeded, "\(outcome)")
        #expect(harness.store.data("/growing.log") == first + second)
        #expect(harness.store.temporaries.isEmpty)
    }

    // MARK: - Resuming while the server still writes

    /// The connection drops while the server has not yet written everything the old
    /// connection delivered: the resume waits for the server's file to stop growing, so no
    /// byte is sent twice, and the file ends up exactly as written.
    @Test func aResumeWaitsForTheServerToFinishWritingWhatItGot() throws {
        let harness = FileSystemHarness()
        harness.store.timeoutValue = 10
        harness.store.fail("STOR", .lateBytes(count: 200_000, seconds: 0.3), times: 1)
        let content = FileSystemHarness.content(6 << 20, seed: 11)
        let outcome = harness.writeFile("/resumed.bin", content)
        #expect(outcome.succeeded, "\(outcome)")
        #expect(harness.store.data("/resumed.bin") == content)
    }

    // MARK: - What a killed ftpfs leaves behind

    /// An ftpfs killed in the middle of an upload leaves its temporary on the server, never a
    /// partial file under the final name; the next mount on the same machine removes the
    /// temporary (and puts back a file it had set aside), and leaves temporaries of live
    /// processes and of other logins alone.
    @Test func theNextMountRemovesWhatAKilledFtpfsLeft() throws {
        let store = FakeRemoteStore()
        store.file("/report.txt", "the old report\n")
        let cache = try TestDirectory.make("fs-cache-crash")
        // A process that no longer runs: pid 1's start time is not this.
        let dead = ProcessIdentity(machine: SystemIdentity.machine, boot: SystemIdentity.boot, pid: 1,
                                   start: 987_654_321)
        let deadNames = TemporaryNames(scope: "tester@fake:21", owner: dead)
        let deadJournal = TemporaryJournal(cacheDirectory: cache, scope: "tester@fake:21", owner: dead)
        let partial = deadNames.make(.upload, beside: "/new.bin")
        store.file(partial, "half of a new fi")
        deadJournal.recordTemporary(partial)
        let backup = deadNames.make(.backup, beside: "/report.txt")
        store.file(backup, "the old report\n")
        deadJournal.recordBackup(backup, of: "/gone.txt")
        let other = TemporaryNames(scope: "someone-else@fake:21", owner: dead).make(.upload, beside: "/x")
        store.file(other, "another login's")
        let live = TemporaryNames(scope: "tester@fake:21").make(.upload, beside: "/y")
        store.file(live, "this process's")

        let harness = FileSystemHarness(cacheDirectory: cache, store: store)
        harness.fileSystem.mounted()
        let deadline = MonotonicClock.now + 5
        while store.data(partial) != nil && MonotonicClock.now < deadline { usleep(10_000) }
        #expect(store.data(partial) == nil, "the dead process's upload must be removed")
        #expect(store.content("/gone.txt") == "the old report\n", "a file set aside is put back under its name")
        #expect(store.data(backup) == nil)
        #expect(store.data(other) != nil, "another login's temporary is not ours to remove")
        #expect(store.data(live) != nil, "a live process's temporary stays")
        #expect(store.content("/report.txt") == "the old report\n")
        // A listing shows none of this login's temporaries; another login's is just a file.
        #expect(try harness.fileSystem.readdir("/").all.map { $0.name }.filter { $0.hasPrefix(".ftpfs-") }
            == [FTPPath.lastComponent(other)])
    }

    /// A user's file that merely begins like a temporary is shown, and never removed.
    @Test func aUserFileNamedLikeATemporaryIsShownAndKept() throws {
        let harness = FileSystemHarness()
        harness.store.file("/.ftpfs-upload-notes.txt", "mine")
        harness.store.file("/.ftpfs-up.1.2.3.4.5.6", "mine too")
        let names = try harness.fileSystem.readdir("/").all.map(\.name)
        #expect(names.contains(".ftpfs-upload-notes.txt"))
        #expect(names.contains(".ftpfs-up.1.2.3.4.5.6"))
        harness.fileSystem.mounted()
        usleep(100_000)
        #expect(harness.store.content("/.ftpfs-up.1.2.3.4.5.6") == "mine too")
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` keeping a typed error.
    func withUnsafeBytesTyped<Result, Failure: Error>(_ body: (UnsafeRawBufferPointer) throws(Failure) -> Result) throws(Failure) -> Result {
        let outcome: Swift.Result<Result, Failure> = withUnsafeBytes { raw in Swift.Result { () throws(Failure) in try body(raw) } }
        return try outcome.get()
    }

    /// `withUnsafeMutableBytes` keeping a typed error.
    mutating func withUnsafeMutableBytesTyped<Result, Failure: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let outcome: Swift.Result<Result, Failure> = withUnsafeMutableBytes { raw in
            Swift.Result { () throws(Failure) in try body(raw) }
        }
        return try outcome.get()
    }
}
