/// A three-digit FTP reply code (RFC 959 §4.2).
///
/// A struct rather than an enum because servers send codes no enum foresaw; the named members are
/// the ones the client reasons about, in the way swift-system's `Errno` names C errors.
public struct ReplyCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public init(_ rawValue: Int) { self.rawValue = rawValue }

    public var description: String { String(rawValue) }

    /// 1yz: the command was accepted and another reply follows.
    public var isPositivePreliminary: Bool { (100..<200).contains(rawValue) }
    /// 2yz: the command completed.
    public var isPositiveCompletion: Bool { (200..<300).contains(rawValue) }
    /// 3yz: the command was accepted and the server waits for the next one (USER → PASS, REST, RNFR).
    public var isPositiveIntermediate: Bool { (300..<400).contains(rawValue) }
    /// 4yz: a transient failure; the same command may succeed later.
    public var isTransientNegative: Bool { (400..<500).contains(rawValue) }
    /// 5yz: a permanent failure.
    public var isPermanentNegative: Bool { (500..<600).contains(rawValue) }

    public static let restartMarker = ReplyCode(110)
    public static let serviceReadyInMinutes = ReplyCode(120)
    public static let dataConnectionAlreadyOpen = ReplyCode(125)
    public static let fileStatusOK = ReplyCode(150)
    public static let commandOK = ReplyCode(200)
    public static let commandSuperfluous = ReplyCode(202)
    public static let systemStatus = ReplyCode(211)
    public static let directoryStatus = ReplyCode(212)
    public static let fileStatus = ReplyCode(213)
    public static let helpMessage = ReplyCode(214)
    public static let systemType = ReplyCode(215)
    public static let serviceReady = ReplyCode(220)
    public static let closingControlConnection = ReplyCode(221)
    public static let dataConnectionOpen = ReplyCode(225)
    public static let closingDataConnection = ReplyCode(226)
    public static let enteringPassiveMode = ReplyCode(227)
    public static let enteringLongPassiveMode = ReplyCode(228)
    public static let enteringExtendedPassiveMode = ReplyCode(229)
    public static let userLoggedIn = ReplyCode(230)
    public static let securityDataExchangeComplete = ReplyCode(234)
    public static let fileActionOK = ReplyCode(250)
    public static let pathnameCreated = ReplyCode(257)
    public static let userNameOK = ReplyCode(331)
    public static let needAccount = ReplyCode(332)
    public static let fileActionPending = ReplyCode(350)
    public static let serviceNotAvailable = ReplyCode(421)
    public static let cannotOpenDataConnection = ReplyCode(425)
    public static let connectionClosedTransferAborted = ReplyCode(426)
    public static let fileActionNotTaken = ReplyCode(450)
    public static let localError = ReplyCode(451)
    public static let insufficientStorage = ReplyCode(452)
    public static let syntaxError = ReplyCode(500)
    public static let syntaxErrorInParameters = ReplyCode(501)
    public static let commandNotImplemented = ReplyCode(502)
    public static let badSequence = ReplyCode(503)
    public static let parameterNotImplemented = ReplyCode(504)
    public static let notLoggedIn = ReplyCode(530)
    public static let needAccountForStoring = ReplyCode(532)
    public static let fileUnavailable = ReplyCode(550)
    public static let pageTypeUnknown = ReplyCode(551)
    public static let exceededStorageAllocation = ReplyCode(552)
    public static let fileNameNotAllowed = ReplyCode(553)
}

/// One complete reply: its code and its text lines.
///
/// `lines` holds every line as received (without CR LF), including the code prefix, so that
/// an error message can show the server's own words. `text` is the message without the codes.
public struct Reply: Hashable, Sendable, CustomStringConvertible {
    public var code: ReplyCode
    public var lines: [String]

    public init(code: ReplyCode, lines: [String]) {
        self.code = code
        self.lines = lines
    }

    /// The message: each line with a leading `NNN-`/`NNN ` of this reply's code removed, joined
    /// with newlines. Other code-like prefixes are text (a `220-` greeting may quote `200 OK`).
    public var text: String {
        let prefix = Array(String(code.rawValue).utf8)
        return lines.map { line in
            let utf8 = line.utf8
            if prefix.count == 3, utf8.count >= 4, utf8.starts(with: prefix) {
                let separatorIndex = utf8.index(utf8.startIndex, offsetBy: 3)
                let separator = utf8[separatorIndex]
                if separator == 0x20 || separator == 0x2D {
                    return String(decoding: utf8[utf8.index(after: separatorIndex)...], as: UTF8.self)
                }
            } else if utf8.count == 3, utf8.elementsEqual(prefix) {
                return ""
            }
            return line
        }.joined(separator: "\n")
    }

    public var description: String { lines.joined(separator: "\n") }
}
