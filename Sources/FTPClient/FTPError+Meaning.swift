#if canImport(Glibc)
import Glibc
#endif
import FTPProtocol

extension FTPError {
    /// What went wrong, in the terms a file system reasons in.
    ///
    /// Decided here, once, from the reply code, the command it answered and the server's own
    /// words; code above FTPClient looks at this and never at reply codes. The same code means
    /// different things after different commands (a 550 to RETR is a missing file, to STOR a
    /// refusal, to MKD either), and servers word the same refusal differently.
    public enum Meaning: Hashable, Sendable, CustomStringConvertible {
        /// The path does not exist (or a directory on the way to it).
        case notFound
        /// The name is taken.
        case alreadyExists
        /// The login may not do this here.
        case permissionDenied
        /// The server does not implement the command or this form of it (500, 502, 504).
        case notSupported
        /// The argument was refused as malformed: a name the server does not allow, a syntax
        /// error in a parameter (501), or a path that cannot be sent (CR, LF, NUL).
        case badArgument
        /// Out of space or over quota (452, 552).
        case quotaExceeded
        /// The file is in use or the action is refused for now (450): later may work.
        case busy
        /// The transfer broke off (425, 426, 451): the same transfer, restarted, may succeed.
        case transferInterrupted
        /// The control connection is gone or cannot be trusted: dropped, timed out, closed by
        /// the server (421), or out of step. Whether a change happened is unknown.
        case connectionLost
        case notEmpty
        case notDirectory
        case isDirectory
        /// A permanent refusal that says nothing more (vsftpd's "550 Create directory operation
        /// failed." for a name that exists and for a missing permission alike): look before
        /// concluding.
        case refused
        /// The login itself was refused.
        case loginRefused
        /// The server could not be reached at all.
        case unreachable
        /// TLS failed.
        case tls
        /// The program gave up waiting (`-o intr`: a signal interrupted the request).
        case interrupted
        /// The server said something that does not follow the protocol.
        case protocolViolation

        public var description: String {
            switch self {
            case .notFound: "not found"
            case .alreadyExists: "already exists"
            case .permissionDenied: "permission denied"
            case .notSupported: "not supported by the server"
            case .badArgument: "argument refused"
            case .quotaExceeded: "quota exceeded or disk full"
            case .busy: "busy"
            case .transferInterrupted: "transfer interrupted"
            case .connectionLost: "connection lost"
            case .notEmpty: "directory not empty"
            case .notDirectory: "not a directory"
            case .isDirectory: "is a directory"
            case .refused: "refused"
            case .loginRefused: "login refused"
            case .unreachable: "server unreachable"
            case .tls: "TLS failure"
            case .interrupted: "interrupted"
            case .protocolViolation: "protocol violation"
            }
        }
    }

    public var meaning: Meaning {
        switch self {
        case .reply(let command, let reply):
            return Self.meaning(of: reply, answering: command)
        case .loginFailed:
            return .loginRefused
        case .hostNotFound, .connectionRefused:
            return .unreachable
        case .io(let code, _) where code == EINTR:
            return .interrupted
        case .timedOut, .connectionClosed, .io, .serviceUnavailable:
            return .connectionLost
        case .protocolViolation:
            return .protocolViolation
        case .invalidArgument:
            return .badArgument
        case .tls:
            return .tls
        case .listingRefused:
            return .permissionDenied
        }
    }

    /// Whether the server answered (as opposed to the connection failing): the answer is final
    /// and worth only a debug line; a failure of the connection is worth a warning.
    public var isServerAnswer: Bool {
        switch self {
        case .reply, .listingRefused: true
        default: false
        }
    }

    /// The meaning of a negative reply to `command` (its loggable form: the verb first).
    static func meaning(of reply: Reply, answering command: String) -> Meaning {
        let verb = Self.verb(of: command)
        let text = reply.text.lowercased()
        switch reply.code.rawValue {
        case 550, 450:
            if let worded = meaning(ofWords: text) { return worded }
            if reply.code.rawValue == 450 { return .busy }
            return meaningOf550(after: verb)
        case 553:
            if deniedWording.contains(where: text.contains) { return .permissionDenied }
            if text.contains("exists") { return .alreadyExists }
            if ["name", "prohibited", "invalid", "illegal"].contains(where: text.contains) { return .badArgument }
            // "553 Could not create file." (vsftpd) is a refusal to create; elsewhere 553 is
            // RFC 959's "file name not allowed".
            return creatingVerbs.contains(verb) ? .permissionDenied : .badArgument
        case 452, 552:
            return .quotaExceeded
        case 530, 532:
            return .permissionDenied
        case 500, 502, 504:
            return .notSupported
        case 501, 551:
            return .badArgument
        case 421:
            return .connectionLost
        case 425, 426, 451:
            return .transferInterrupted
        case 503:
            return .protocolViolation
        case 400..<500:
            return .busy
        case 500..<600:
            return meaning(ofWords: text) ?? .refused
        default:
            // A positive reply where a negative one was expected: not how FTP works.
            return .protocolViolation
        }
    }

    /// What the server's words say, when they say something definite.
    private static func meaning(ofWords text: String) -> Meaning? {
        if deniedWording.contains(where: text.contains) { return .permissionDenied }
        if text.contains("not empty") { return .notEmpty }
        if text.contains("not a directory") { return .notDirectory }
        if text.contains("is a directory") { return .isDirectory }
        if text.contains("exists") { return .alreadyExists }
        if ["no such file", "not found", "does not exist", "doesn't exist", "cannot find", "can't find"]
            .contains(where: text.contains)
        {
            return .notFound
        }
        if text.contains("quota") || text.contains("disk full") || text.contains("no space") { return .quotaExceeded }
        return nil
    }

    /// A bare 550 (RFC 959: "file unavailable, e.g. not found, no access") read by command: to
    /// commands that name an existing file it means the file is not there; to commands that
    /// create one, that the server would not; after MKD it may mean either.
    private static func meaningOf550(after verb: String) -> Meaning {
        if verb == "MKD" || verb == "XMKD" { return .refused }
        if creatingVerbs.contains(verb) { return .permissionDenied }
        if ["RETR", "SIZE", "MDTM", "MLST", "MLSD", "LIST", "NLST", "DELE", "RMD", "XRMD", "RNFR", "CWD",
            "XCWD", "HASH", "XSHA256", "XSHA1", "XMD5", "XCRC", "MFMT", "SITE CPFR", "SITE UTIME",
            "SITE CHMOD"].contains(verb)
        {
            return .notFound
        }
        return .refused
    }

    private static let deniedWording = ["permission denied", "access denied", "not permitted", "forbidden",
                                        "no permission", "access is denied", "not allowed to"]

    /// Commands that create a name: a refusal of theirs is a refusal to create it.
    private static let creatingVerbs: Set<String> = ["STOR", "STOU", "APPE", "RNTO", "SITE SYMLINK", "SITE CPTO",
                                                    "MKD", "XMKD"]

    /// `STOR /a/b` → `STOR`; `SITE CHMOD 644 x` → `SITE CHMOD`.
    static func verb(of command: String) -> String {
        let words = command.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard let first = words.first else { return "" }
        let verb = first.uppercased()
        if verb == "SITE", words.count > 1 { return "SITE " + words[1].uppercased() }
        return verb
    }
}
