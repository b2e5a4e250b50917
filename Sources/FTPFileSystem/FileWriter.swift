import FTPClient
import FTPProtocol
import FuseBridge
import Synchronization
import ThreadSupport

/// Everything pending for one path that is open for writing, shared by every handle that
/// writes it, from the first open to the last release.
///
/// The bytes live in one of three places:
/// - `streaming`: an open STOR (a new or truncated file written from 0 upward) or APPE (writes
///   at the end of an existing file) takes each write as it comes, through a bounded
///   `UploadPipeline` in memory (a few MiB, whatever the file's size); nothing goes to disk.
/// - `suspended`: such an upload was finished early (its connection was needed elsewhere, or
///   the data had to be read back) and continues with APPE from where it stopped.
/// - `staged`: a local copy (random writes, O_RDWR edits, truncate to N), uploaded on flush.
/// `idle` means the server holds the content, except when `needsUpload` says it must become
/// empty (a created or truncated file not yet written).
///
/// Lock order: a reading `OpenFile`'s lock may be held when taking `lock`; `lock` is held
/// across the FTP I/O of commits, and the pool's lock and the stream's `UploadPipeline` lock
/// may be taken under it (the pipeline's sender thread takes only the pipeline's lock).
final class FileWriter: @unchecked Sendable {
    enum State {
        case idle
        case streaming(UploadStream)
        case suspended(SuspendedUpload)
        case staged(StagedFile)
    }

    let lock = ConditionLock()
    /// The path under the mountpoint and on the server (both follow renames).
    var path: String
    var serverPath: String
    var state: State = .idle
    /// The file's size as the writers see it now.
    var size: UInt64
    var modified: Timestamp
    var permissions: UInt32
    /// The server has a file at `serverPath` (replacing it must then be atomic), possibly one
    /// this writer is creating right now.
    var existsOnServer: Bool
    /// The server had a file at `serverPath` before this writer (or has one it committed): a
    /// failed upload must not delete it.
    var hadServerFile: Bool
    /// The server's file must become this writer's content (empty, when nothing is staged or
    /// streaming) even if nothing is written: a created or truncated file.
    var needsUpload: Bool
    /// A mode set while the file existed only locally, applied after its first upload.
    var pendingMode: UInt32?
    /// A time set while the file existed only locally, applied after its first upload.
    var pendingModificationTime: Timestamp?
    /// The error of a failed upload: the data the program wrote is lost, so every later flush
    /// and fsync reports it too, until the file is truncated or rewritten.
    var failure: Errno?
    /// The path was unlinked while open: its writes go nowhere.
    var isDeleted = false
    /// Open handles that write through this writer.
    var handles = 0
    /// Bumped whenever the server's copy changes, so read streams opened before know to restart.
    var generation: UInt64 = 0

    init(path: String, serverPath: String, size: UInt64, modified: Timestamp, permissions: UInt32,
         existsOnServer: Bool, needsUpload: Bool)
    {
        self.path = path
        self.serverPath = serverPath
        self.size = size
        self.modified = modified
        self.permissions = permissions
        self.existsOnServer = existsOnServer
        self.hadServerFile = existsOnServer
        self.needsUpload = needsUpload
    }

    /// Whether anything the writers did is not on the server yet.
    var hasPendingChanges: Bool {
        switch state {
        case .streaming, .suspended: true
        case .staged(let file): file.isDirty || needsUpload
        case .idle: needsUpload
        }
    }

    /// The permissions the file had on the server before this writer replaced it, to restore
    /// after an atomic replacement (a temporary file gets the server's default mode).
    var originalPermissions: UInt32?

    /// A copy of size, mtime and mode that `getattr` reads without waiting for `lock`, which a
    /// commit holds for as long as an upload takes.
    private let published = Mutex<FileAttributes?>(nil)

    var attributes: FileAttributes {
        published.withLock { $0 } ?? FileAttributes(kind: .regular, permissions: permissions, size: size, modified: modified)
    }

    /// Makes the current size, mtime and mode visible to `attributes` (call with `lock` held).
    func publish() {
        let current = FileAttributes(kind: .regular, permissions: permissions, size: size, modified: modified)
        published.withLock { $0 = current }
    }
}

/// An upload in progress.
final class UploadStream {
    /// The transfer (replaced when the upload resumes on a new connection). While the
    /// pipeline's sender runs, only the sender writes to it; see `UploadPipeline`.
    var transfer: DataTransfer
    /// The bytes written and not yet sent, and the last ones sent (to send again when a dropped
    /// connection lost them).
    let pipeline: UploadPipeline
    /// Where the bytes go: the final path, or a temporary name beside it.
    let target: String
    let isTemporary: Bool
    /// The file offset of the next byte the writers give (bytes before it may still be in the
    /// pipeline: they are the server's only once the transfer finishes).
    var position: UInt64
    /// A digest of the whole file so far, when the upload started at offset 0 and the server
    /// can hash files for comparison.
    let digest: ContentDigest?

    /// `spoolDirectory`: where sent bytes beyond the pipeline's memory are kept, on machines
    /// whose TCP buffers hold more (`UploadPipeline.defaultSpoolCapacity`).
    init(transfer: DataTransfer, target: String, isTemporary: Bool, position: UInt64, digest: ContentDigest?,
         spoolDirectory: String) {
        self.transfer = transfer
        let spoolCapacity = UploadPipeline.defaultSpoolCapacity
        self.pipeline = UploadPipeline(
            startingAt: position, sink: transfer,
            spool: spoolCapacity > 0 ? UploadSpool(capacity: spoolCapacity, directory: spoolDirectory) : nil)
        self.target = target
        self.isTemporary = isTemporary
        self.position = position
        self.digest = digest
    }
}

/// An upload finished before its file was complete; APPE to `target` continues it.
struct SuspendedUpload {
    let target: String
    let isTemporary: Bool
    let position: UInt64
    let digest: ContentDigest?
}

/// The writers by path.
final class WriterTable: @unchecked Sendable {
    private let lock = ConditionLock()
    private var writers: [String: FileWriter] = [:]

    func writer(for path: String) -> FileWriter? {
        lock.withLock { writers[path] }
    }

    /// The writer for `path`, created by `make` when there is none, with one more handle.
    func attach(_ path: String, make: () -> FileWriter) -> FileWriter {
        lock.withLock {
            let writer = writers[path] ?? make()
            writers[path] = writer
            writer.handles += 1
            return writer
        }
    }

    /// Drops one handle; returns true when it was the last (the caller then finishes up).
    func detach(_ writer: FileWriter) -> Bool {
        lock.withLock {
            writer.handles -= 1
            guard writer.handles <= 0 else { return false }
            if writers[writer.path] === writer { writers.removeValue(forKey: writer.path) }
            return true
        }
    }

    /// Takes `path` away from `writer`: the name was unlinked or replaced, so a lookup of the
    /// path must not find the writer any more (a new file there gets a new one). Handles still
    /// open keep the writer until they close.
    func disown(_ path: String, from writer: FileWriter) {
        lock.withLock {
            if writers[path] === writer { writers.removeValue(forKey: path) }
        }
    }

    /// Moves writers at or below `source` to their new paths. The table is re-keyed under its
    /// own lock; each writer's paths change under the writer's lock, taken afterwards (never
    /// the table's lock inside a writer's).
    func rename(_ source: String, to destination: String, serverPath: (String) -> String) {
        let prefix = source + "/"
        let moved = lock.withLock { () -> [(FileWriter, String)] in
            var moved: [(FileWriter, String)] = []
            for (path, writer) in writers where path == source || path.hasPrefix(prefix) {
                writers.removeValue(forKey: path)
                let newPath = destination + path.dropFirst(source.count)
                writers[newPath] = writer
                moved.append((writer, newPath))
            }
            return moved
        }
        for (writer, newPath) in moved {
            writer.lock.withLock {
                writer.path = newPath
                writer.serverPath = serverPath(newPath)
            }
        }
    }

    func all() -> [FileWriter] {
        lock.withLock { Array(writers.values) }
    }
}
