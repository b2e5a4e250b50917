/// An FTP command, named after its RFC verb, ready to be written to the control connection.
///
/// Arguments are checked when the line is built: CR, LF or NUL in a path would let a file name
/// inject a second command (`"a\r\nDELE b"`), so such arguments are refused.
public struct Command: Hashable, Sendable, CustomStringConvertible {
    public var verb: String
    public var argument: String?

    public init(_ verb: String, _ argument: String? = nil) {
        self.verb = verb
        self.argument = argument
    }

    public static func user(_ name: String) -> Command { Command("USER", name) }
    public static func pass(_ password: String) -> Command { Command("PASS", password) }
    public static let feat = Command("FEAT")
    public static func opts(_ text: String) -> Command { Command("OPTS", text) }
    public static func type(_ code: String) -> Command { Command("TYPE", code) }
    public static let pwd = Command("PWD")
    public static func cwd(_ path: String) -> Command { Command("CWD", path) }
    public static let epsv = Command("EPSV")
    public static let pasv = Command("PASV")
    public static func eprt(_ argument: String) -> Command { Command("EPRT", argument) }
    public static func port(_ argument: String) -> Command { Command("PORT", argument) }
    public static func size(_ path: String) -> Command { Command("SIZE", path) }
    public static func mdtm(_ path: String) -> Command { Command("MDTM", path) }
    public static func mlst(_ path: String) -> Command { Command("MLST", path) }
    public static func mlsd(_ path: String? = nil) -> Command { Command("MLSD", path) }
    public static func list(_ argument: String? = nil) -> Command { Command("LIST", argument) }
    public static func rest(_ offset: UInt64) -> Command { Command("REST", String(offset)) }
    public static func retr(_ path: String) -> Command { Command("RETR", path) }
    public static func stor(_ path: String) -> Command { Command("STOR", path) }
    public static func appe(_ path: String) -> Command { Command("APPE", path) }
    public static func dele(_ path: String) -> Command { Command("DELE", path) }
    public static func mkd(_ path: String) -> Command { Command("MKD", path) }
    public static func rmd(_ path: String) -> Command { Command("RMD", path) }
    public static func rnfr(_ path: String) -> Command { Command("RNFR", path) }
    public static func rnto(_ path: String) -> Command { Command("RNTO", path) }
    public static func site(_ text: String) -> Command { Command("SITE", text) }
    public static let noop = Command("NOOP")
    public static let abor = Command("ABOR")
    public static let quit = Command("QUIT")
    public static let syst = Command("SYST")

    /// The line to send, without CR LF, or an error when the argument could inject a command.
    public func line() throws(CommandError) -> String {
        func isForbidden(_ byte: UInt8) -> Bool { byte == 0x0D || byte == 0x0A || byte == 0x00 }
        // The verb is public too: `Command("NOOP\r\nDELE x")` must not get through either.
        if verb.utf8.contains(where: isForbidden) || argument?.utf8.contains(where: isForbidden) == true {
            throw .forbiddenCharacter(verb: verb)
        }
        guard let argument else { return verb }
        return verb + " " + argument
    }

    /// Checks the argument's bytes as they go on the wire, after a name codec converted them:
    /// CR, LF and NUL must not appear (an encoding such as UTF-16 writes them for ordinary
    /// characters), and `/` must appear as often as in the argument (ISO-2022-JP can write a
    /// character with a `/` byte, which the server would take for a path separator).
    public func checkEncodedArgument(_ bytes: [UInt8]) throws(CommandError) {
        if bytes.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) {
            throw .forbiddenCharacter(verb: verb)
        }
        let slashes = argument?.utf8.count(where: { $0 == 0x2F }) ?? 0
        if bytes.count(where: { $0 == 0x2F }) != slashes {
            throw .encodingAddsSeparator(verb: verb)
        }
    }

    /// The line as it may appear in a log: the PASS argument is masked.
    public var loggable: String {
        guard let argument else { return verb }
        return verb == "PASS" ? "PASS ****" : verb + " " + argument
    }

    public var description: String { loggable }
}

public enum CommandError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The argument contains CR, LF or NUL (or its encoded bytes do).
    case forbiddenCharacter(verb: String)
    /// The argument's encoded bytes hold a `/` that is no `/` of the argument.
    case encodingAddsSeparator(verb: String)

    public var description: String {
        switch self {
        case .forbiddenCharacter(let verb): "\(verb) argument contains CR, LF or NUL"
        case .encodingAddsSeparator(let verb):
            "\(verb) argument would hold a '/' byte in the server's encoding that is not a '/' of the name"
        }
    }
}
