/// How to reach and log in to one FTP server, and how to talk to it.
public struct ClientConfiguration: Sendable {
    public var host: String
    public var port: UInt16
    public var user: String
    public var password: Secret
    /// Seconds allowed for a TCP connect (control and data connections).
    public var connectTimeout: Double
    /// Seconds allowed for any reply or any data to arrive once connected.
    public var timeout: Double
    public var dataConnectionMode: DataConnectionMode
    /// Never send EPSV (for servers or middleboxes that mishandle it).
    public var disableEPSV: Bool
    public var listingCommand: ListingCommand
    public var listHiddenFiles: ListHiddenFiles
    /// How names and paths are turned into bytes on the wire and back.
    public var nameCodec: any NameCodec
    /// FTPS: TLS on the control connection and every data connection; nil for plain FTP.
    public var tls: TLSConfiguration?

    public init(host: String, port: UInt16 = 21, user: String = "anonymous",
                password: Secret = Secret("anonymous@"), connectTimeout: Double = 10,
                timeout: Double = 30, dataConnectionMode: DataConnectionMode = .passive,
                disableEPSV: Bool = false, listingCommand: ListingCommand = .auto,
                listHiddenFiles: ListHiddenFiles = .auto, nameCodec: any NameCodec = UTF8NameCodec(),
                tls: TLSConfiguration? = nil)
    {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.dataConnectionMode = dataConnectionMode
        self.disableEPSV = disableEPSV
        self.listingCommand = listingCommand
        self.listHiddenFiles = listHiddenFiles
        self.nameCodec = nameCodec
        self.tls = tls
    }

    /// `host:port`, with brackets around an IPv6 literal, for messages.
    public var displayAddress: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

public enum DataConnectionMode: Sendable, Hashable {
    /// EPSV, falling back to PASV: the client connects to the server.
    case passive
    /// EPRT, falling back to PORT: the server connects to the client, at `address` when given
    /// (the address to advertise), else at the control connection's local address.
    case active(address: String?)
}

public enum ListingCommand: String, Sendable, Hashable {
    /// MLSD when FEAT advertises MLST, LIST otherwise.
    case auto
    case mlsd
    case list
}

public enum ListHiddenFiles: String, Sendable, Hashable {
    /// `LIST -a`, falling back to `LIST` when the server refuses it.
    case auto
    case always
    case never
}

/// A password. Its description is masked, so it cannot leak into a log line or an error message
/// by string interpolation.
public struct Secret: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "****" }
    public var debugDescription: String { "****" }
}

/// Turns names into the bytes a server expects and back. UTF-8 by default; servers that speak
/// GBK or Latin-1 get an iconv-backed codec.
public protocol NameCodec: Sendable {
    /// The string for bytes the server sent, or nil when they are not valid in this encoding.
    func decode(_ bytes: ArraySlice<UInt8>) -> String?
    /// The bytes for a name to send, or nil when it cannot be expressed in this encoding.
    func encode(_ string: String) -> [UInt8]?
    /// Whether this is UTF-8 (then `OPTS UTF8 ON` is sent when the server offers it).
    var isUTF8: Bool { get }
}

public struct UTF8NameCodec: NameCodec {
    public init() {}
    public func decode(_ bytes: ArraySlice<UInt8>) -> String? {
        String(validating: bytes, as: UTF8.self)
    }
    public func encode(_ string: String) -> [UInt8]? { Array(string.utf8) }
    public var isUTF8: Bool { true }
}
