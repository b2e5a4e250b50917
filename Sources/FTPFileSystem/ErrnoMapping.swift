import FTPClient
import FuseBridge

/// What the file system was doing when the server failed it. FTPClient decides what a reply
/// means (`FTPError.Meaning`); the operation only picks the errno a program expects for that
/// meaning here (an unsupported command is EPERM to a change, EIO to a read).
enum FileOperation: Sendable, CaseIterable {
    case lookup
    case list
    case read
    case write
    case create
    case delete
    case makeDirectory
    case removeDirectory
    case rename
    case setAttributes

    /// Whether the operation changes the server (as opposed to looking at it).
    var changesServer: Bool {
        switch self {
        case .lookup, .list, .read: false
        case .write, .create, .delete, .makeDirectory, .removeDirectory, .rename, .setAttributes: true
        }
    }
}

extension FTPFileSystem {
    /// The one place where an error becomes an errno.
    ///
    /// Never ENOSYS: the kernel takes ENOSYS from flush, open, setxattr and others to mean the
    /// file system lacks the operation altogether, stops asking, and lets later calls succeed
    /// without reaching us. A server that lacks a command makes the operation not permitted
    /// (a change) or fail (a read).
    static func errno(for error: FTPError, during operation: FileOperation) -> Errno {
        errno(for: error.meaning, during: operation)
    }

    static func errno(for meaning: FTPError.Meaning, during operation: FileOperation) -> Errno {
        switch meaning {
        case .notFound: .noSuchFile
        case .alreadyExists: .exists
        case .permissionDenied, .loginRefused: .accessDenied
        case .notSupported: operation.changesServer ? .notPermitted : .ioError
        case .badArgument: .invalidArgument
        case .quotaExceeded: .noSpace
        case .busy: .busy
        case .notEmpty: .directoryNotEmpty
        case .notDirectory: .notDirectory
        case .isDirectory: .isDirectory
        case .refused: operation.changesServer ? .accessDenied : .noSuchFile
        case .transferInterrupted, .connectionLost, .unreachable, .tls, .protocolViolation: .ioError
        case .interrupted: .interrupted
        }
    }
}
