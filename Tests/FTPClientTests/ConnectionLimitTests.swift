import FTPProtocol
import Testing

@testable import FTPClient

@Suite struct ConnectionLimitTests {
    static func login(_ line: String) -> FTPError {
        .loginFailed(Reply(code: ReplyCode(Int(line.prefix(3))!), lines: [line]))
    }

    @Test(arguments: [
        "421 There are too many connected users, please try later.",  // vsftpd
        "530 Sorry, the maximum number of clients (2) from your host are already connected.",  // ProFTPD
        "421 Too many connections (2) from this IP",  // Pure-FTPd
        "421 Too many connections from the same IP address.",  // pyftpdlib
        "530 User ftp cannot log in: connection limit reached.",
    ])
    func refusalsThatMeanTooManyConnections(_ line: String) {
        let error: FTPError = line.hasPrefix("421") && !line.contains("User")
            ? .serviceUnavailable(Reply(code: .serviceNotAvailable, lines: [line])) : Self.login(line)
        #expect(ConnectionPool.isConnectionLimit(error))
        #expect(ConnectionPool.isConnectionLimit(Self.login(line)))
    }

    @Test(arguments: ["530 Login incorrect.", "530 Not logged in, user cannot log in.", "530 Permission denied."])
    func wrongPasswordsAreNotConnectionLimits(_ line: String) {
        #expect(!ConnectionPool.isConnectionLimit(Self.login(line)))
    }
}
