/// The contents of a `~/.netrc` file: logins and passwords per machine, and a default.
///
/// The syntax is the one ftp(1) (GNU inetutils), curl and Python's netrc accept: words separated
/// by any whitespace, including newlines; `machine NAME` or `default` starts an entry, which
/// `login`, `password` and `account` fill in; `macdef NAME` defines an ftp(1) macro whose body runs
/// to the next blank line and is skipped. A word may be quoted with `"` and then hold spaces and
/// backslash escapes (`\"`, `\\`, `\n`, `\r`, `\t`; any other escaped character stands for
/// itself), as curl reads them. Unquoted words are taken literally, backslashes included.
/// Where a keyword is expected, a word starting with `#` begins a comment that runs to the end
/// of the line; in a value position `#` is an ordinary character, so `password #1x` works.
public struct Netrc: Sendable, Hashable, CustomStringConvertible {
    public struct Entry: Sendable, Hashable, CustomStringConvertible {
        /// The host name; nil for the `default` entry.
        public var machine: String?
        public var login: String?
        /// Never print it; ``description`` masks it.
        public var password: String?
        public var account: String?

        public init(machine: String?, login: String? = nil, password: String? = nil, account: String? = nil) {
            self.machine = machine
            self.login = login
            self.password = password
            self.account = account
        }

        public var description: String {
            (machine.map { "machine " + $0 } ?? "default")
                + (login.map { " login " + $0 } ?? "")
                + (password == nil ? "" : " password ***")
                + (account == nil ? "" : " account ***")
        }
    }

    /// The `machine` entries in file order.
    public var machines: [Entry]
    /// The `default` entry, if the file has one.
    public var defaultEntry: Entry?

    public init(machines: [Entry] = [], defaultEntry: Entry? = nil) {
        self.machines = machines
        self.defaultEntry = defaultEntry
    }

    /// Whether any entry holds a password (what makes loose file permissions dangerous).
    public var containsPassword: Bool {
        (machines + [defaultEntry].compactMap { $0 }).contains { $0.password != nil }
    }

    /// The entry for `host`: the first `machine` whose name equals it ignoring case and, when a
    /// login is given, whose login equals it or is absent; otherwise the `default` entry under the
    /// same login rule; otherwise nil.
    public func entry(forHost host: String, login: String? = nil) -> Entry? {
        func loginFits(_ entry: Entry) -> Bool {
            guard let login, let entryLogin = entry.login else { return true }
            return entryLogin == login
        }
        let lowercasedHost = host.lowercased()
        if let machine = machines.first(where: { $0.machine?.lowercased() == lowercasedHost && loginFits($0) }) {
            return machine
        }
        return defaultEntry.flatMap { loginFits($0) ? $0 : nil }
    }

    public var description: String {
        (machines + [defaultEntry].compactMap { $0 }).map(\.description).joined(separator: "\n")
    }
}

extension Netrc.Entry: CustomReflectable {
    /// `dump()` and debuggers see the masked form, as with ``description``.
    public var customMirror: Mirror { Mirror(self, children: ["entry": description]) }
}

/// Why netrc text could not be parsed. Errors give the line, never the words on it: a stray word
/// is most often half of a password that contains a space.
public enum NetrcError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A word where a keyword (`machine`, `default`, `login`, …) belongs.
    case unexpectedWord(line: Int)
    /// `login`, `password` or `account` before any `machine` or `default`.
    case valueOutsideEntry(keyword: String, line: Int)
    /// A keyword at the end of the text with no value after it.
    case missingValue(keyword: String, line: Int)
    /// A `"` that is never closed.
    case unterminatedQuote(line: Int)

    public var description: String {
        switch self {
        case .unexpectedWord(let line):
            "netrc line \(line): unexpected word where machine, default, login, password, account or macdef belongs"
        case .valueOutsideEntry(let keyword, let line):
            "netrc line \(line): '\(keyword)' before any 'machine' or 'default'"
        case .missingValue(let keyword, let line):
            "netrc line \(line): '\(keyword)' has no value"
        case .unterminatedQuote(let line):
            "netrc line \(line): a quoted word is never closed"
        }
    }
}

extension Netrc {
    public init(parsing text: String) throws(NetrcError) {
        var scanner = NetrcScanner(text)
        var machines: [Entry] = []
        var defaultEntry: Entry?
        // Which entry login/password/account fill in: a machine (by index) or the default.
        enum Current { case none, machine(Int), defaultEntry }
        var current = Current.none

        func value(after keyword: String, line: Int) throws(NetrcError) -> String {
            guard let word = try scanner.nextWord() else { throw .missingValue(keyword: keyword, line: line) }
            return word.text
        }

        while let word = try scanner.nextWord() {
            if !word.wasQuoted, word.text.hasPrefix("#") {
                scanner.skipRestOfLine()
                continue
            }
            let keyword = word.wasQuoted ? "" : word.text
            switch keyword {
            case "machine":
                machines.append(Entry(machine: try value(after: keyword, line: word.line)))
                current = .machine(machines.count - 1)
            case "default":
                defaultEntry = Entry(machine: nil)
                current = .defaultEntry
            case "login", "password", "account":
                let text = try value(after: keyword, line: word.line)
                func fill(_ entry: inout Entry) {
                    switch keyword {
                    case "login": entry.login = text
                    case "password": entry.password = text
                    default: entry.account = text
                    }
                }
                switch current {
                case .none: throw .valueOutsideEntry(keyword: keyword, line: word.line)
                case .machine(let index): fill(&machines[index])
                case .defaultEntry: fill(&defaultEntry!)
                }
            case "macdef":
                _ = try value(after: keyword, line: word.line)
                scanner.skipRestOfLine()
                scanner.skipMacroBody()
            default:
                throw .unexpectedWord(line: word.line)
            }
        }
        self.init(machines: machines, defaultEntry: defaultEntry)
    }
}

/// Splits netrc text into words, over its UTF-8 bytes, counting lines for error messages.
struct NetrcScanner {
    struct Word {
        var text: String
        var wasQuoted: Bool
        var line: Int
    }

    private let bytes: [UInt8]
    private var position = 0
    private(set) var line = 1

    init(_ text: String) { bytes = Array(text.utf8) }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0B || byte == 0x0C
    }

    mutating func nextWord() throws(NetrcError) -> Word? {
        while position < bytes.count, Self.isSpace(bytes[position]) { advance() }
        guard position < bytes.count else { return nil }
        let startLine = line
        var word: [UInt8] = []
        if bytes[position] == UInt8(ascii: "\"") {
            advance()
            while true {
                guard position < bytes.count else { throw .unterminatedQuote(line: startLine) }
                let byte = bytes[position]
                advance()
                if byte == UInt8(ascii: "\"") { break }
                if byte == UInt8(ascii: "\\"), position < bytes.count {
                    let escaped = bytes[position]
                    advance()
                    switch escaped {
                    case UInt8(ascii: "n"): word.append(0x0A)
                    case UInt8(ascii: "r"): word.append(0x0D)
                    case UInt8(ascii: "t"): word.append(0x09)
                    default: word.append(escaped)
                    }
                } else {
                    word.append(byte)
                }
            }
            return Word(text: String(decoding: word, as: UTF8.self), wasQuoted: true, line: startLine)
        }
        while position < bytes.count, !Self.isSpace(bytes[position]) {
            word.append(bytes[position])
            advance()
        }
        return Word(text: String(decoding: word, as: UTF8.self), wasQuoted: false, line: startLine)
    }

    /// Skips to just after the next newline (or the end).
    mutating func skipRestOfLine() {
        while position < bytes.count {
            let byte = bytes[position]
            advance()
            if byte == 0x0A { return }
        }
    }

    /// Skips a macro body: lines up to and including the first blank (empty or whitespace-only)
    /// line.
    mutating func skipMacroBody() {
        while position < bytes.count {
            var lineIsBlank = true
            while position < bytes.count, bytes[position] != 0x0A {
                if !Self.isSpace(bytes[position]) { lineIsBlank = false }
                advance()
            }
            if position < bytes.count { advance() }
            if lineIsBlank { return }
        }
    }

    private mutating func advance() {
        if bytes[position] == 0x0A { line += 1 }
        position += 1
    }
}
