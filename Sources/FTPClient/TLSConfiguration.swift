import CTLS
import Logging
import Synchronization

/// How a client uses TLS (FTPS, RFC 4217). `ClientConfiguration.tls` nil means plain FTP.
///
/// Copies of one configuration share one OpenSSL context (`SSL_CTX`), made on first use: every
/// connection of a pool, reconnects included, is set up the same way. TLS sessions are not
/// shared: each control connection keeps its own, for its own data connections to resume.
public struct TLSConfiguration: Sendable {
    public enum Mode: String, Sendable, Hashable, CustomStringConvertible {
        /// `AUTH TLS` after the greeting; the session fails when the server refuses (`ftpes://`,
        /// `-o tls=explicit`, `-o tls=required`): the password is never sent in the clear.
        case explicit
        /// `AUTH TLS` when the server takes it, plain FTP (with a notice) when it refuses
        /// (`-o tls=try`).
        case explicitIfAvailable
        /// TLS from the first byte, before the greeting (`ftps://`, port 990).
        case implicit

        public var description: String {
            switch self {
            case .explicit: "explicit TLS"
            case .explicitIfAvailable: "explicit TLS if available"
            case .implicit: "implicit TLS"
            }
        }
    }

    /// How the server's certificate is checked.
    public enum Verification: Sendable, Hashable {
        /// The system's CA store, and the host name (or IP address) the client connected to.
        case system
        /// The CA certificates in this PEM file instead of the system's, and the host name.
        case caFile(String)
        /// Exactly the certificate whose DER encoding has this SHA-256 digest (32 bytes); chain
        /// and name are not checked (a self-signed server).
        case pinned(sha256: [UInt8])
        /// Nothing is checked (`-o tls_insecure`): logged as a warning.
        case insecure
    }

    public enum Version: Sendable, Hashable {
        case tls12
        case tls13

        var openSSLValue: Int32 {
            switch self {
            case .tls12: 0x0303  // TLS1_2_VERSION
            case .tls13: 0x0304  // TLS1_3_VERSION
            }
        }
    }

    public var mode: Mode
    public var verification: Verification
    /// The newest protocol version to offer; nil for the newest OpenSSL has. TLS 1.2 is always
    /// the oldest.
    public var maximumVersion: Version?
    /// Whether data connections offer the control connection's session. Always, except in
    /// the tests that prove servers refuse data connections that do not.
    var resumesSessions = true

    /// The context every copy of this configuration shares, made by the first connection.
    let shared = TLSSharedState()

    public init(mode: Mode, verification: Verification = .system, maximumVersion: Version? = nil) {
        self.mode = mode
        self.verification = verification
        self.maximumVersion = maximumVersion
    }

    /// The OpenSSL context for this configuration: made (and the CA certificates loaded) once.
    func context(logger: Logger) throws(FTPError) -> TLSContext {
        let outcome: Result<TLSContext, FTPError> = shared.context.withLock { slot in
            if let context = slot { return .success(context) }
            do throws(FTPError) {
                let context = try TLSContext(configuration: self)
                if case .insecure = verification {
                    logger.warning("""
                        tls_insecure: the server's certificate is not verified; anyone on the network path \
                        can read and change this connection, password included
                        """)
                }
                slot = context
                return .success(context)
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }
}

/// What copies of one `TLSConfiguration` share.
final class TLSSharedState: Sendable {
    let context = Mutex<TLSContext?>(nil)
    /// Set once `-o tls=try` fell back to plain FTP and said so (later connections only say it
    /// at debug level).
    let announcedPlainFallback = Atomic<Bool>(false)
}

/// An OpenSSL client context (`SSL_CTX`): protocol versions, verification mode and CA store.
/// Immutable once made, so it is shared by every connection of a pool.
final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer
    let verification: TLSConfiguration.Verification
    let resumesSessions: Bool

    init(configuration: TLSConfiguration) throws(FTPError) {
        let verifiesChain: Bool = switch configuration.verification {
        case .system, .caFile: true
        case .pinned, .insecure: false
        }
        guard let context = ctls_context_new(verifiesChain ? 1 : 0, configuration.maximumVersion?.openSSLValue ?? 0) else {
            throw .tls("cannot set up OpenSSL: \(TLSContext.openSSLErrors())")
        }
        // (Every stored property is set only once the context is complete: a class whose init
        // throws after that point runs deinit, which would free the context a second time.)
        switch configuration.verification {
        case .system:
            if SSL_CTX_set_default_verify_paths(context) != 1 {
                let reason = TLSContext.openSSLErrors()
                SSL_CTX_free(context)
                throw .tls("cannot load the system's CA certificates: \(reason)")
            }
        case .caFile(let path):
            guard access(path, R_OK) == 0 else {
                let reason = String(cString: strerror(errno))
                SSL_CTX_free(context)
                throw .tls("cannot read the CA file \(path) (-o cafile=): \(reason)")
            }
            if SSL_CTX_load_verify_locations(context, path, nil) != 1 {
                let reason = TLSContext.openSSLErrors()
                SSL_CTX_free(context)
                throw .tls("cannot load CA certificates from \(path) (-o cafile=): \(reason); it must hold PEM certificates")
            }
        case .pinned, .insecure:
            break
        }
        pointer = context
        verification = configuration.verification
        resumesSessions = configuration.resumesSessions
    }

    deinit { SSL_CTX_free(pointer) }

    /// OpenSSL's error queue of this thread as text (and empties it).
    static func openSSLErrors() -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        let length = ctls_error_message(&buffer, buffer.count)
        return length > 0 ? String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            : "unknown OpenSSL error"
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
