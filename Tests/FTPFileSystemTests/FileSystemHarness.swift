import FTPClient
import FTPProtocol
import Foundation
import FuseBridge
import Logging
import TestSupport

@testable import FTPFileSystem

#if canImport(Glibc)
import Glibc
#endif

/// An `FTPFileSystem` over a `FakeRemoteStore`, driven the way the kernel drives it (lookup,
/// open or create, write, flush at each close, release), with a cache directory of its own.
final class FileSystemHarness: @unchecked Sendable {
    let store: FakeRemoteStore
    let fileSystem: FTPFileSystem
    let cacheDirectory: String
    let scope: String

    init(atomicUpload: Bool = true, verification: FileSystemConfiguration.Verification = .auto,
         cacheDirectory: String? = nil, scope: String = "tester@fake:21", store: FakeRemoteStore = FakeRemoteStore(),
         revalidateInterval: Double = 1)
    {
        self.store = store
        self.scope = scope
        self.cacheDirectory = cacheDirectory ?? (try! TestDirectory.make("fs-cache"))
        var configuration = FileSystemConfiguration(rootPath: "/", cacheDirectory: self.cacheDirectory,
                                                    atomicUpload: atomicUpload, verification: verification)
        configuration.serverScope = scope
        configuration.revalidateInterval = revalidateInterval
        fileSystem = FTPFileSystem(store: store, configuration: configuration, logger: Self.logger)
        try! fileSystem.prepareLocalStorage()
    }

    static let logger: Logger = {
        var logger = Logger(label: "ftpfs-test") { _ in SwiftLogNoOpLogHandler() }
        logger.logLevel = .critical
        return logger
    }()

    /// What a program saw: the first error of each call, by call.
    struct Outcome: CustomStringConvertible {
        var errors: [(call: String, errno: Errno)] = []
        var succeeded: Bool { errors.isEmpty }
        var description: String {
            errors.isEmpty ? "ok" : errors.map { "\($0.call): \($0.errno)" }.joined(separator: ", ")
        }

        mutating func run<T>(_ call: String, _ body: () throws(Errno) -> T) -> T? {
            do {
                return try body()
            } catch {
                errors.append((call, error))
                return nil
            }
        }
    }

    /// `open(path, flags)` as the kernel does it: a lookup, then open (or create when the
    /// lookup says missing and O_CREAT is given).
    func open(_ path: String, flags: Int32, outcome: inout Outcome) -> UInt64? {
        let exists = (try? fileSystem.getattr(path, handle: nil)) != nil
        if !exists && flags & O_CREAT != 0 {
            return outcome.run("create") { () throws(Errno) in try fileSystem.create(path, mode: 0o644, flags: flags).handle }
        }
        return outcome.run("open") { () throws(Errno) in try fileSystem.open(path, flags: flags).handle }
    }

    func write(_ handle: UInt64, _ bytes: [UInt8], at offset: UInt64, outcome: inout Outcome, chunk: Int = 1 << 20) {
        var position = 0
        while position < bytes.count {
            let end = min(bytes.count, position + chunk)
            let written = bytes[position..<end].withUnsafeBytes { raw in
                outcome.run("write") { () throws(Errno) in
                    try fileSystem.write("", handle: handle, bytes: raw, offset: Int64(offset) + Int64(position))
                }
            }
            guard written != nil else { return }
            position = end
        }
    }

    func read(_ handle: UInt64, count: Int, at offset: UInt64, outcome: inout Outcome) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { raw in
            outcome.run("read") { () throws(Errno) in try fileSystem.read("", handle: handle, into: raw, offset: Int64(offset)) }
        }
        return got.map { Array(buffer[0..<$0]) }
    }

    /// close(): flush, then release.
    func close(_ handle: UInt64, outcome: inout Outcome) {
        _ = outcome.run("close") { () throws(Errno) in try fileSystem.flush("", handle: handle) }
        fileSystem.release("", handle: handle)
    }

    /// Writes `content` to `path` from the start (O_TRUNC), as `cp` or `>` does.
    @discardableResult
    func writeFile(_ path: String, _ content: [UInt8], flags: Int32 = O_WRONLY | O_CREAT | O_TRUNC) -> Outcome {
        var outcome = Outcome()
        guard let handle = open(path, flags: flags, outcome: &outcome) else { return outcome }
        write(handle, content, at: 0, outcome: &outcome)
        close(handle, outcome: &outcome)
        return outcome
    }

    @discardableResult
    func writeFile(_ path: String, _ text: String) -> Outcome {
        writeFile(path, Array(text.utf8))
    }

    /// Reads `path` whole through the mount.
    func readFile(_ path: String) -> (bytes: [UInt8]?, outcome: Outcome) {
        var outcome = Outcome()
        guard let handle = open(path, flags: O_RDONLY, outcome: &outcome) else { return (nil, outcome) }
        defer { fileSystem.release("", handle: handle) }
        var result: [UInt8] = []
        while true {
            guard let piece = read(handle, count: 1 << 20, at: UInt64(result.count), outcome: &outcome) else {
                return (nil, outcome)
            }
            if piece.isEmpty { return (result, outcome) }
            result += piece
        }
    }

    /// A deterministic pseudo-random content of `size` bytes (eight at a time: tests ask for
    /// megabytes, in debug builds).
    static func content(_ size: Int, seed: UInt64 = 1) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var words = [UInt64](repeating: 0, count: (size + 7) / 8)
        for index in words.indices {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            words[index] = state
        }
        return words.withUnsafeBytes { Array($0.prefix(size)) }
    }
}
