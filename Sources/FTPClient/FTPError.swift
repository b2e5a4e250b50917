import FTPProtocol

/// Everything that can go wrong talking to an FTP server.
///
/// FTPClient only describes what happened; `FTPFileSystem` owns the one mapping to errno.
/// No case ever carries a password.
public enum FTPError: Error, Sendable, CustomStringConvertible {
    /// getaddrinfo could not resolve the host.
    case hostNotFound(host: String, reason: String)
    /// The host answered the TCP connect with a refusal.
    case connectionRefused(address: String)
    /// A connect, reply or data wait outlasted its timeout. The text says what was awaited.
    case timedOut(String)
    /// The peer closed the connection where a reply or data was expected.
    case connectionClosed(String)
    /// A socket call failed with `errno`.
    case io(errno: Int32, context: String)
    /// The server answered `command` (its loggable form) with a reply that means failure.
    case reply(command: String, reply: Reply)
    /// USER/PASS was refused.
    case loginFailed(Reply)
    /// 421: the server is closing the control connection (too many users, idle timeout, shutdown).
    case serviceUnavailable(Reply)
    /// The server sent something that does not follow the protocol.
    case protocolViolation(String)
    /// A path or argument cannot be sent: it contains CR, LF or NUL, or cannot be encoded.
    case invalidArgument(String)
    /// TLS handshake, verification or I/O failed.
    case tls(String)
    /// The directory could be entered (CWD) but not listed: an upload-only "drop box", where
    /// the login may store files but not see them.
    case listingRefused(directory: String, reply: Reply)

    public var description: String {
        switch self {
        case .hostNotFound(let host, let reason): "cannot resolve host '\(host)': \(reason)"
        case .connectionRefused(let address): "connection refused by \(address)"
        case .timedOut(let what): "timed out \(what)"
        case .connectionClosed(let context): "connection closed by the server \(context)"
        case .io(let code, let context): "\(context): \(String(cString: strerror(code)))"
        case .reply(let command, let reply): "server refused \(command): \(reply.lines.joined(separator: " / "))"
        case .loginFailed(let reply): "login failed: \(reply.lines.joined(separator: " / "))"
        case .serviceUnavailable(let reply): "server closed the session: \(reply.lines.joined(separator: " / "))"
        case .protocolViolation(let what): "protocol error: \(what)"
        case .invalidArgument(let what): "invalid argument: \(what)"
        case .tls(let what): "TLS: \(what)"
        case .listingRefused(let directory, let reply):
            "server refused to list \(directory): \(reply.lines.joined(separator: " / "))"
        }
    }

    /// The server's reply code, when the error is a reply.
    public var replyCode: ReplyCode? {
        switch self {
        case .reply(_, let reply), .loginFailed(let reply), .serviceUnavailable(let reply),
             .listingRefused(_, let reply): reply.code
        default: nil
        }
    }

    /// Whether the control connection can no longer be trusted: it was dropped, timed out, or is
    /// out of step with the server. Operations that failed this way may be retried on a new
    /// connection when they are idempotent.
    public var isConnectionLost: Bool {
        switch self {
        case .io(let code, _): code != EINTR  // EINTR: the request was interrupted, not the connection lost
        case .timedOut, .connectionClosed, .serviceUnavailable, .protocolViolation: true
        case .hostNotFound, .connectionRefused, .reply, .loginFailed, .invalidArgument, .tls, .listingRefused: false
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension FTPError {
    /// The server would not take a new connection right now (refused, or "421 too many"): it
    /// may be restarting or busy, so trying again later can succeed.
    public var isConnectionRefusal: Bool {
        switch self {
        case .connectionRefused, .serviceUnavailable: true
        default: false
        }
    }
}

extension FTPError {
    /// A transfer the server broke off (425 cannot open data connection, 426 connection closed,
    /// 450/451 local error): the same transfer, restarted, may well succeed.
    public var isTransferInterrupted: Bool {
        guard let code = replyCode?.rawValue else { return false }
        return [425, 426, 450, 451].contains(code)
    }
}
