import FTPClient
import FTPProtocol
import FuseBridge

/// What the file system was doing when an FTP error happened. The same reply means different
/// things in different places: a 550 to RETR is a missing file, a 550 to MKD often an existing one.
enum FileOperation: Sendable {
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
}

extension FTPFileSystem {
    /// The one place where an error becomes an errno.
    ///
    /// Reply codes follow RFC 959: 550 is "file unavailable" (missing, or not permitted when the
    /// server says so), 553 a name not allowed, 452/552 out of space, 530 not logged in, 502/504
    /// not implemented. Connection failures that survived the pool's retries are EIO.
    static func errno(for error: FTPError, during operation: FileOperation) -> Errno {
        switch error {
        case .reply(_, let reply):
            return errno(forReply: reply, during: operation)
        case .loginFailed:
            return .accessDenied
        case .invalidArgument:
            return .invalidArgument
        case .hostNotFound, .connectionRefused, .timedOut, .connectionClosed, .io,
             .serviceUnavailable, .protocolViolation, .tls:
            return .ioError
        }
    }

    static func errno(forReply reply: Reply, during operation: FileOperation) -> Errno {
        let text = reply.text.lowercased()
        let deniedWording = ["permission denied", "access denied", "not permitted", "forbidden",
                             "no permission", "access is denied"]
        let deniedByText = deniedWording.contains { text.contains($0) }
        switch reply.code.rawValue {
        case 550:
            if deniedByText { return .accessDenied }
            if text.contains("not empty") { return .directoryNotEmpty }
            if text.contains("exists") { return .exists }
            if text.contains("not a directory") { return .notDirectory }
            if text.contains("is a directory") { return .isDirectory }
            switch operation {
            case .lookup, .list, .read, .delete, .removeDirectory, .rename, .setAttributes: return .noSuchFile
            case .makeDirectory: return .exists
            case .write, .create: return .accessDenied
            }
        case 553:
            return deniedByText ? .accessDenied : (operation == .create || operation == .write ? .accessDenied : .invalidArgument)
        case 452, 552:
            return .noSpace
        case 530, 532:
            return .accessDenied
        case 500, 501, 502, 504:
            return operation == .setAttributes ? .notPermitted : .notImplemented
        case 450:
            return deniedByText ? .accessDenied : .busy
        case 551:
            return .invalidArgument
        default:
            return .ioError
        }
    }
}
