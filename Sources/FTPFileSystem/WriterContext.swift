import FTPClient
import FTPProtocol
import FuseBridge
import Logging
import ThreadSupport

/// What every `FileWriter` of a mount shares: the server, the local staging area, the names
/// and journal of temporaries, the user's choices, and what the file system wants to hear
/// when a commit lands.
struct WriterContext: Sendable {
    let store: any RemoteStore
    let staging: StagingArea
    let names: TemporaryNames
    let journal: TemporaryJournal?
    let changes: ServerChanges
    let transfers: WholeTransfers
    let verifier: UploadVerifier
    /// `-o atomic_upload`: replacements go to a temporary name first.
    let atomicUpload: Bool
    /// Directories where renames were refused: new files there are written in place.
    let renameRefusals: DirectorySet
    /// Whether a server directory can be entered but not listed (a drop box).
    let isDropBox: @Sendable (String) -> Bool
    /// Work that may block on a stalled server and must hold up nobody.
    let background: WorkerThreads
    let logger: Logger
    /// Called (with the writer's lock held) after a commit put the writer's content on the server.
    let onCommitted: @Sendable (FileWriter) -> Void
}

/// A set of server directories, shared between threads.
final class DirectorySet: @unchecked Sendable {
    private let lock = ConditionLock()
    private var directories: Set<String> = []

    func contains(_ directory: String) -> Bool { lock.withLock { directories.contains(directory) } }
    func insert(_ directory: String) { lock.withLock { _ = directories.insert(directory) } }
    func remove(_ directory: String) { lock.withLock { _ = directories.remove(directory) } }
}

/// A failure of a transfer between a local file and the server: on either side.
enum TransferFailure: Error {
    case local(Errno)
    case remote(FTPError)
}

/// Whole-file transfers between the server and a local copy.
struct WholeTransfers: Sendable {
    let store: any RemoteStore

    /// Copies a server file into `local` from its start.
    func download(_ serverPath: String, into local: StagedFile) throws(TransferFailure) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        let download: any RemoteDownload
        do {
            download = try store.download(serverPath, from: 0, deadline: store.deadline())
        } catch {
            throw .remote(error)
        }
        defer { download.abort() }
        var offset: UInt64 = 0
        while true {
            let count: Int
            do {
                count = try download.read(into: buffer)
            } catch {
                throw .remote(error)
            }
            if count == 0 { return }
            do {
                try local.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), at: offset)
            } catch {
                throw .local(error)
            }
            offset += UInt64(count)
        }
    }

    /// Uploads `local` (or nothing: an empty file) to `target` in one STOR. Returns the bytes
    /// sent and, when the server can hash files, their digest.
    func upload(from local: StagedFile?, to target: String) throws(TransferFailure) -> (size: UInt64, digest: FileDigest?) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        let upload: any RemoteUpload
        do {
            upload = try store.upload(target, appending: false, deadline: store.deadline())
        } catch {
            throw .remote(error)
        }
        let digest = store.abilities.hashAlgorithm.map(ContentDigest.init)
        var sent: UInt64 = 0
        do throws(TransferFailure) {
            if let local {
                while true {
                    let count: Int
                    do {
                        count = try local.read(into: buffer, at: sent)
                    } catch {
                        throw .local(error)
                    }
                    if count == 0 { break }
                    let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                    do {
                        try upload.write(chunk)
                    } catch {
                        throw .remote(error)
                    }
                    digest?.update(chunk)
                    sent += UInt64(count)
                }
            }
            do {
                try upload.finish()
            } catch {
                throw .remote(error)
            }
        } catch {
            upload.abort()
            throw error
        }
        return (sent, digest.map { FileDigest(algorithm: $0.algorithm, hex: $0.finish()) })
    }

    /// Sends what an upload pipeline still holds of a file, from offset 0, to `target` again.
    func resend(_ pipeline: UploadPipeline, to target: String) throws(FTPError) {
        let upload = try store.upload(target, appending: false, deadline: store.deadline())
        var failure: FTPError?
        let complete = pipeline.withHeldBytes(from: 0) { piece, _ in
            do throws(FTPError) {
                try upload.write(piece)
                return true
            } catch {
                failure = error
                return false
            }
        }
        if let failure {
            upload.abort()
            throw failure
        }
        guard complete else {
            upload.abort()
            throw .protocolViolation("the upload's bytes are no longer all held")
        }
        try upload.finish()
    }
}

/// A digest of a file, and how it was made.
struct FileDigest: Equatable, Sendable {
    var algorithm: HashAlgorithm
    var hex: String
}

/// Checks an upload against what was sent.
struct UploadVerifier: Sendable {
    let store: any RemoteStore
    let mode: FileSystemConfiguration.Verification
    let isDropBox: @Sendable (String) -> Bool
    let logger: Logger

    /// By digest when one was computed and the server can hash the file, else by SIZE. A
    /// server that answers HASH with "not supported" or "bad argument" (501) is checked by
    /// SIZE instead; one that will not say anything about the file (an upload-only directory)
    /// leaves its transfer's confirmation as the only check. A mismatch is a
    /// `.protocolViolation`. Returns the file's modification time when the check learned it
    /// on the way (SIZE and MDTM go together: the time the server gave the upload is wanted
    /// next, and a rename keeps it).
    @discardableResult
    func check(_ target: String, size: UInt64, digest: FileDigest?) throws(FTPError) -> FTPTimestamp? {
        let directory = FTPPath.parent(target)
        if mode == .off { return nil }
        if mode == .auto, let digest {
            do throws(FTPError) {
                let actual = try store.digest(of: target, algorithm: digest.algorithm)
                guard actual == digest.hex else {
                    logger.error("upload to \(target) failed verification: the server's \(digest.algorithm.rawValue) is \(actual), sent \(digest.hex)")
                    throw FTPError.protocolViolation("\(digest.algorithm.rawValue) mismatch after upload")
                }
                return nil
            } catch where [.notSupported, .badArgument].contains(error.meaning) {
                logger.info("the server would not hash \(target) (\(error)); checking its size instead")
            } catch where [.notFound, .permissionDenied].contains(error.meaning) && isDropBox(directory) {
                return nil
            }
        }
        guard mode == .size || store.abilities.canReportSize else { return nil }
        let actual: UInt64
        let time: FTPTimestamp?
        do throws(FTPError) {
            if store.abilities.canReportTime {
                (actual, time) = try store.sizeAndModificationTime(of: target)
            } else {
                (actual, time) = (try store.size(of: target), nil)
            }
        } catch where [.notFound, .permissionDenied].contains(error.meaning) && isDropBox(directory) {
            logger.debug("upload to \(target) in an upload-only directory: the server's confirmation is the only check")
            return nil
        } catch where error.meaning == .notSupported {
            return nil
        }
        guard actual == size else {
            logger.error("upload to \(target) failed verification: the server has \(actual) bytes, sent \(size)")
            throw .protocolViolation("size mismatch after upload")
        }
        return time
    }
}
