import FTPClient
import Foundation
import Testing
import TestSupport
import ThreadSupport

@testable import FTPFileSystem

#if canImport(Glibc)
import Glibc
#endif

/// A sink that records what it is given and can be held shut, or made to fail, on cue.
final class RecordingSink: UploadSink, @unchecked Sendable {
    private let lock = ConditionLock()
    private var received: [UInt8] = []
    private var isOpen = true
    private var calls = 0
    private var failAfter: Int?
    private var threads: Set<UInt> = []
    /// Called with each chunk before it is taken (with no lock held).
    var onWrite: (@Sendable (Int) -> Void)?

    init(open: Bool = true, failAfter: Int? = nil) {
        self.isOpen = open
        self.failAfter = failAfter
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(FTPError) {
        onWrite?(bytes.count)
        lock.lock()
        defer { lock.unlock() }
        calls += 1
        threads.insert(UInt(bitPattern: Int(pthread_self())))
        lock.broadcast()
        // A gate, not a timer: the test opens it. The bound only keeps a broken pipeline from
        // hanging the test run.
        let giveUp = MonotonicClock.now + 30
        while !isOpen && MonotonicClock.now < giveUp { lock.wait(seconds: 1) }
        if !isOpen { throw .timedOut("test sink never opened") }
        if let failAfter, received.count + bytes.count > failAfter {
            received += bytes.prefix(failAfter - received.count)
            throw .connectionClosed("(test sink dropped the connection)")
        }
        received += bytes
    }

    func open() { lock.withLock { isOpen = true; lock.broadcast() } }

    /// Waits until `write` was entered at least `count` times.
    func waitForCalls(_ count: Int) {
        lock.withLock {
            let giveUp = MonotonicClock.now + 30
            while calls < count && MonotonicClock.now < giveUp { lock.wait(seconds: 1) }
        }
    }

    var bytes: [UInt8] { lock.withLock { received } }
    var callCount: Int { lock.withLock { calls } }
    var threadIDs: Set<UInt> { lock.withLock { threads } }
}

func accept(_ pipeline: UploadPipeline, _ bytes: [UInt8]) -> Int {
    bytes.withUnsafeBytes { pipeline.accept($0) }
}

func pattern(_ count: Int, from start: Int = 0) -> [UInt8] {
    (start..<(start + count)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }
}

/// A thread the test can wait for.
final class Background: @unchecked Sendable {
    private let lock = ConditionLock()
    private var done = false
    private var result = 0

    init(_ body: @escaping @Sendable () -> Int) {
        let box = Unmanaged.passRetained(BackgroundBody(owner: self, body: body)).toOpaque()
        var thread = pthread_t()
        pthread_create(&thread, nil, { context in
            let job = Unmanaged<BackgroundBody>.fromOpaque(context!).takeRetainedValue()
            let value = job.body()
            job.owner.finish(value)
            return nil
        }, box)
        pthread_detach(thread)
    }

    fileprivate func finish(_ value: Int) {
        lock.withLock { done = true; result = value; lock.broadcast() }
    }

    var isDone: Bool { lock.withLock { done } }

    func wait() -> Int {
        lock.withLock {
            let giveUp = MonotonicClock.now + 30
            while !done && MonotonicClock.now < giveUp { lock.wait(seconds: 1) }
            return done ? result : -1
        }
    }
}

private final class BackgroundBody {
    let owner: Background
    let body: @Sendable () -> Int
    init(owner: Background, body: @escaping @Sendable () -> Int) {
        self.owner = owner
        self.body = body
    }
}

@Suite struct UploadPipelineTests {
    @Test func everythingAcceptedArrivesInOrderAcrossManyWrapsOfTheRing() throws {
        let sink = RecordingSink()
        let pipeline = UploadPipeline(startingAt: 0, sink: sink, capacity: 64, maxPending: 24, inlineLimit: 0, chunkSize: 10)
        var sent: [UInt8] = []
        for size in [1, 7, 24, 30, 13, 64, 100, 3, 0, 50] {  // some larger than the pipeline
            let bytes = pattern(size, from: sent.count)
            #expect(accept(pipeline, bytes) == size)
            sent += bytes
        }
        try pipeline.drain()
        #expect(sink.bytes == sent)
        #expect(pipeline.pendingCount == 0)
    }

    @Test func aWriteReturnsWhileTheNetworkIsStillBusyWithIt() throws {
        let sink = RecordingSink(open: false)
        let pipeline = UploadPipeline(startingAt: 0, sink: sink, capacity: 4096, maxPending: 1024, inlineLimit: 0)
        // The sink is shut: a writer that waited for the network would never get here.
        #expect(accept(pipeline, pattern(1000)) == 1000)
        sink.waitForCalls(1)
        #expect(pipeline.pendingCount == 1000)
        sink.open()
        try pipeline.drain()
        #expect(sink.bytes == pattern(1000))
    }

    @Test func unsentBytesNeverExceedTheBoundAWriterWaitsForRoom() throws {
        let sink = RecordingSink(open: false)
        let pipeline = UploadPipeline(startingAt: 0, sink: sink, capacity: 256, maxPending: 64, inlineLimit: 0, chunkSize: 16)
        let highest = Highest()
        sink.onWrite = { _ in highest.record(pipeline.pendingCount) }
        let data = pattern(2000)
        let writer = Background { data.withUnsafeBytes { pipeline.accept($0) } }
        sink.waitForCalls(1)
        // The writer filled the pipeline and waits; the sink has not taken a byte.
        #expect(pipeline.pendingCount <= 64)
        #expect(sink.bytes.isEmpty)
        sink.open()
        #expect(writer.wait() == 2000)
        try pipeline.drain()
        #expect(sink.bytes == data)
        #expect(highest.value <= 64)
    }

    @Test func aSmallFirstWriteIsSentOnTheWritersOwnThread() throws {
        let sink = RecordingSink()
        let pipeline = UploadPipeline(startingAt: 0, sink: sink, capacity: 1 << 20, maxPending: 256 << 10, inlineLimit: 64 << 10)
        #expect(accept(pipeline, pattern(8192)) == 8192)
        // Already sent when accept returns: a small file needs no other thread.
        #expect(sink.bytes == pattern(8192))
        #expect(sink.threadIDs == [UInt(bitPattern: Int(pthread_self()))])
        try pipeline.drain()
    }

    @Test func aFailedSendIsReportedByTheNextWriteAndByDrain() throws {
        let sink = RecordingSink(failAfter: 100)
        let pipeline = UploadPipeline(startingAt: 0, sink: sink, capacity: 1024, maxPending: 256, inlineLimit: 0, chunkSize: 64)
        #expect(accept(pipeline, pattern(200)) == 200)  // taken in; the send fails later
        #expect(throws: FTPError.self) { try pipeline.drain() }
        #expect(pipeline.failure != nil)
        // Nothing more is accepted (or sent) until the owner resumes or gives up.
        #expect(accept(pipeline, pattern(10, from: 200)) == 0)
        #expect(sink.bytes == pattern(100))  // the first chunk went out, the second failed partway
    }

    @Test func aRestartSendsAgainFromWhereTheServerStoppedIncludingUnsentBytes() throws {
        let first = RecordingSink(failAfter: 150)
        let pipeline = UploadPipeline(startingAt: 1000, sink: first, capacity: 1024, maxPending: 256, inlineLimit: 0, chunkSize: 50)
        let data = pattern(250, from: 1000)
        #expect(accept(pipeline, data) == 250)
        #expect(throws: FTPError.self) { try pipeline.drain() }
        // The first connection delivered 150 bytes, but say the server kept only 120 of them.
        #expect(first.bytes == Array(data.prefix(150)))
        #expect(pipeline.heldFrom(1120))
        let second = RecordingSink()
        #expect(pipeline.restart(from: 1120, on: second))
        #expect(pipeline.failure == nil)
        #expect(accept(pipeline, pattern(30, from: 1250)) == 30)
        try pipeline.drain()
        #expect(second.bytes == Array(data.suffix(130)) + pattern(30, from: 1250))
    }

    @Test func aRestartMayStartInsideTheChunkWhoseSendFailed() throws {
        // The connection broke partway through a chunk: the server has more than was counted
        // as sent, and the rest of that chunk goes out again from there.
        let first = RecordingSink(failAfter: 130)
        let pipeline = UploadPipeline(startingAt: 0, sink: first, capacity: 1024, maxPending: 512, inlineLimit: 0, chunkSize: 100)
        let data = pattern(300)
        #expect(accept(pipeline, data) == 300)
        #expect(throws: FTPError.self) { try pipeline.drain() }
        #expect(first.bytes == Array(data.prefix(130)))
        let second = RecordingSink()
        #expect(pipeline.restart(from: 130, on: second))
        try pipeline.drain()
        #expect(second.bytes == Array(data.suffix(170)))
    }

    @Test func aRestartFromBytesNoLongerHeldIsRefused() throws {
        let sink = RecordingSink()
        let pipeline = UploadPipeline(startingAt: 0, sink: sink, capacity: 100, maxPending: 40, inlineLimit: 0, chunkSize: 40)
        for start in stride(from: 0, to: 300, by: 30) {
            #expect(accept(pipeline, pattern(30, from: start)) == 30)
        }
        try pipeline.drain()
        // 300 bytes went through a 100-byte ring: the last 100 are held, nothing older.
        #expect(pipeline.heldBytes(from: 200) == pattern(100, from: 200))
        #expect(pipeline.heldBytes(from: 199) == nil)
        #expect(!pipeline.heldFrom(199))
        #expect(!pipeline.heldFrom(301))  // the server cannot have more than was written
        #expect(!pipeline.restart(from: 150, on: RecordingSink()))
        #expect(pipeline.restart(from: 250, on: RecordingSink()))
    }

    @Test func theSentTailIsAtLeastTheCapacityLessThePendingBound() throws {
        let sink = RecordingSink()
        let pipeline = UploadPipeline(startingAt: 0, sink: sink, capacity: 96, maxPending: 32, inlineLimit: 0, chunkSize: 8)
        for start in stride(from: 0, to: 1000, by: 25) {
            #expect(accept(pipeline, pattern(25, from: start)) == 25)
            // Whatever is still unsent, the 64 bytes sent before it are held for a resume.
            let sent = UInt64(start + 25 - pipeline.pendingCount)
            #expect(pipeline.heldFrom(sent >= 64 ? sent - 64 : 0))
        }
        try pipeline.drain()
        #expect(pipeline.heldBytes(from: 1000 - 96) == pattern(96, from: 1000 - 96))
    }

    @Test func cancelStopsSendingAfterTheChunkInFlight() throws {
        let sink = RecordingSink(open: false)
        let pipeline = UploadPipeline(startingAt: 0, sink: sink, capacity: 1024, maxPending: 512, inlineLimit: 0, chunkSize: 100)
        #expect(accept(pipeline, pattern(500)) == 500)
        sink.waitForCalls(1)
        let canceller = Background {
            pipeline.cancel()
            return 1
        }
        while !pipeline.isStopping { sched_yield() }
        sink.open()
        #expect(canceller.wait() == 1)
        #expect(sink.callCount == 1)
        #expect(sink.bytes == pattern(100))
    }

    @Test func aSmallFileTouchesOnlyAFewPagesOfTheRing() throws {
        // The ring is mapped, not filled: RSS grows by what is written, not by the capacity.
        let before = residentKiB()
        var pipelines: [UploadPipeline] = []
        for _ in 0..<48 {
            let pipeline = UploadPipeline(startingAt: 0, sink: RecordingSink())
            #expect(accept(pipeline, pattern(8192)) == 8192)
            try pipeline.drain()
            pipelines.append(pipeline)
        }
        let grown = residentKiB() - before
        #expect(grown < 128 * 1024, "48 pipelines of \(UploadPipeline.defaultCapacity >> 20) MiB holding 8 KiB each grew RSS by \(grown) KiB")
        withExtendedLifetime(pipelines) {}
    }
}

/// The largest value recorded, from any thread.
private final class Highest: @unchecked Sendable {
    private let lock = ConditionLock()
    private var highest = 0
    func record(_ value: Int) { lock.withLock { highest = max(highest, value) } }
    var value: Int { lock.withLock { highest } }
}

private func residentKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
}

/// Sent bytes beyond the memory ring go to a spool file, as much as the machine's TCP buffers
/// can hold in flight, and a resume sends them from there.
@Suite struct UploadSpoolTests {
    @Test func theLimitsAreTheThirdNumbersOfTheSysctlLines() {
        #expect(TCPBufferLimits.parse("4096\t131072\t33554432\n") == 33_554_432)
        #expect(TCPBufferLimits.parse("4096 16384 4194304") == 4_194_304)
        #expect(TCPBufferLimits.parse("4096 16384") == nil)
        #expect(TCPBufferLimits.parse("") == nil)
    }

    @Test func theSpoolHoldsWhatTheBuffersHoldBeyondMemory() {
        // Debian's defaults (4 MiB + 6 MiB) and unknown limits: memory is enough.
        #expect(UploadPipeline.spoolBytes(forBuffers: .init(largestSendBuffer: 4 << 20, largestReceiveBuffer: 6 << 20)) == 0)
        #expect(UploadPipeline.spoolBytes(forBuffers: nil) == 0)
        // Tuned for fast networks: both buffers and a margin, less the 16 MiB in memory.
        #expect(UploadPipeline.spoolBytes(forBuffers: .init(largestSendBuffer: 4 << 20, largestReceiveBuffer: 32 << 20)) == 21 << 20)
        // Never more than 64 MiB in all.
        #expect(UploadPipeline.spoolBytes(forBuffers: .init(largestSendBuffer: 64 << 20, largestReceiveBuffer: 256 << 20)) == 48 << 20)
    }

    @Test func aRestartSendsTheSpooledBytesThenTheRing() throws {
        let directory = try TestDirectory.make("spool")
        defer { TestDirectory.cleanUp(directory) }
        let first = RecordingSink()
        let pipeline = UploadPipeline(startingAt: 1000, sink: first, capacity: 64, maxPending: 24, inlineLimit: 0,
                                      chunkSize: 10, spool: UploadSpool(capacity: 100, directory: directory))
        for start in stride(from: 1000, to: 1300, by: 20) {
            #expect(accept(pipeline, pattern(20, from: start)) == 20)
        }
        try pipeline.drain()
        // The last 64 bytes are in memory, the 100 before them in the spool, nothing older.
        #expect(pipeline.heldFrom(1136) && !pipeline.heldFrom(1135))
        #expect(pipeline.heldBytes(from: 1150) == pattern(150, from: 1150))
        // The spool file is unlinked: nothing is left behind in the directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        let second = RecordingSink()
        #expect(pipeline.restart(from: 1140, on: second))
        #expect(accept(pipeline, pattern(10, from: 1300)) == 10)
        try pipeline.drain()
        #expect(second.bytes == pattern(170, from: 1140))
    }

    @Test func aSendFailingDuringTheReplayIsKeptForTheNextResume() throws {
        let directory = try TestDirectory.make("spool")
        defer { TestDirectory.cleanUp(directory) }
        let pipeline = UploadPipeline(startingAt: 0, sink: RecordingSink(), capacity: 64, maxPending: 24, inlineLimit: 0,
                                      chunkSize: 10, spool: UploadSpool(capacity: 100, directory: directory))
        #expect(accept(pipeline, pattern(150)) == 150)
        try pipeline.drain()
        #expect(pipeline.restart(from: 50, on: RecordingSink(failAfter: 15)))
        #expect(pipeline.failure != nil)
        #expect(throws: FTPError.self) { try pipeline.drain() }
        let third = RecordingSink()
        #expect(pipeline.restart(from: 60, on: third))
        try pipeline.drain()
        #expect(third.bytes == pattern(90, from: 60))
    }

    @Test func aSpoolThatCannotBeWrittenHoldsNothing() throws {
        let pipeline = UploadPipeline(startingAt: 0, sink: RecordingSink(), capacity: 64, maxPending: 24, inlineLimit: 0,
                                      chunkSize: 10, spool: UploadSpool(capacity: 100, directory: "/nonexistent/ftpfs-spool"))
        #expect(accept(pipeline, pattern(150)) == 150)
        try pipeline.drain()
        #expect(pipeline.heldFrom(86) && !pipeline.heldFrom(85))
        #expect(!pipeline.restart(from: 60, on: RecordingSink()))
    }
}
