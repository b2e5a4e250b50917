import FTPClient
import FTPProtocol

/// Turns a failure to reach or log in to the server into a message that says what happened and
/// what to try, and the exit status for it.
enum Failures {
    static func connection(_ error: FTPError, server: String) -> Preflight.Failure {
        switch error {
        case .hostNotFound(let host, let reason):
            return .init(status: .hostNotFound, message: "cannot resolve host '\(host)': \(reason)")
        case .connectionRefused(let address):
            return .init(status: .connectionRefused,
                         message: "connection refused by \(address): is an FTP server running there, on that port?")
        case .timedOut(let what):
            return .init(status: .timedOut,
                         message: "timed out \(what) (raise -o connect_timeout= or -o timeout= for slow servers)")
        case .loginFailed(let reply):
            return .init(status: .loginFailed,
                         message: "login to \(server) failed; the server said: \(reply.lines.joined(separator: " / "))")
        case .serviceUnavailable(let reply):
            return .init(status: .connectionRefused,
                         message: "\(server) refused the session: \(reply.lines.joined(separator: " / "))")
        case .connectionClosed, .io:
            return .init(status: .ioError, message: "\(server): \(error)")
        case .protocolViolation:
            return .init(status: .protocolError, message: "\(server) does not speak FTP as expected: \(error)")
        case .tls(let what):
            // What failed and how to fix it (pin the fingerprint, give a CA file, or drop TLS)
            // is in the text the client composed.
            return .init(status: .tlsFailed, message: "cannot use TLS with \(server): \(what)")
        case .reply, .invalidArgument, .listingRefused:
            return .init(status: .ioError, message: "\(server): \(error)")
        }
    }

    static func remoteDirectory(_ error: FTPError, path: String) -> Preflight.Failure {
        if case .reply(_, let reply) = error {
            return .init(status: .loginFailed,
                         message: "cannot open the directory \(path) on the server: \(reply.lines.joined(separator: " / "))")
        }
        return connection(error, server: path)
    }
}
