import CTLS
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The TLS sessions one control connection has obtained, for its data connections to resume.
///
/// FTPS servers (vsftpd `require_ssl_reuse`, ProFTPD by default, FileZilla Server) accept a data
/// connection only when it resumes the control connection's TLS session: proof that whoever
/// connected to the data port is the client that logged in. The cache stores every session
/// the server gives (the new-session callback: at the end of the control connection's TLS 1.2
/// handshake; for TLS 1.3 whenever a NewSessionTicket arrives after a handshake, read along
/// with the next reply or data); each data connection offers a copy of the newest one it has
/// not offered yet (TLS 1.3 tickets may be single-use: ProFTPD's are), else the newest.
final class TLSSessionCache: @unchecked Sendable {
    let pointer: OpaquePointer

    init() throws(FTPError) {
        guard let cache = ctls_session_cache_new() else { throw .tls("out of memory for a TLS session cache") }
        pointer = cache
    }

    deinit { ctls_session_cache_free(pointer) }

    /// How many sessions the control connection has received so far.
    var learnedSessions: Int { Int(ctls_session_cache_count(pointer)) }
}

/// TLS over a connected `Socket`: the control connection after `AUTH TLS` (or from the first
/// byte with implicit TLS), and every data connection of a TLS session.
///
/// Blocking, bounded by the socket's timeouts (SO_RCVTIMEO/SO_SNDTIMEO): a handshake, read or
/// write that outlasts them fails with `.timedOut`. One thread uses a stream at a time;
/// `shutdown()` may come from another thread to wake it (aborts). The SSL object lives until
/// the stream is released, so a late call after `close()` fails cleanly instead of touching
/// freed memory.
public final class TLSStream: ByteStream, @unchecked Sendable {
    public enum Role: Sendable {
        /// The control connection: it learns the sessions data connections resume.
        case control
        /// A data connection: it offers the control connection's session.
        case data
    }

    public let socket: Socket
    let context: TLSContext
    let sessionCache: TLSSessionCache
    public let role: Role
    /// The name or address the client connected to (checked against the certificate).
    public let host: String
    private let ssl: OpaquePointer
    private let closed = Atomic<Bool>(false)
    /// "TLSv1.3", "TLSv1.2".
    public private(set) var protocolVersion = ""
    public private(set) var cipher = ""
    /// Whether the handshake resumed the control connection's session (data connections).
    public private(set) var sessionResumed = false
    /// The SHA-256 fingerprint of the server's certificate, `SHA256:AB:CD:…`.
    public private(set) var certificateFingerprint: String?

    /// Runs the TLS handshake on `socket` as the client, verifies the server as `context`
    /// says, and returns the stream. Closes the socket when the handshake fails.
    static func connect(socket: Socket, host: String, context: TLSContext, sessionCache: TLSSessionCache,
                        role: Role) throws(FTPError) -> TLSStream
    {
        let serverName = TLSStream.isIPAddress(host) ? nil : host
        guard let ssl = ctls_ssl_new(context.pointer, socket.descriptor, serverName, sessionCache.pointer, 1)
        else {
            socket.close()
            throw .tls("cannot set up a TLS connection: \(TLSContext.openSSLErrors())")
        }
        let stream = TLSStream(socket: socket, host: host, context: context, sessionCache: sessionCache,
                               role: role, ssl: ssl)
        do {
            try stream.handshake()
        } catch {
            stream.close()
            throw error
        }
        return stream
    }

    private init(socket: Socket, host: String, context: TLSContext, sessionCache: TLSSessionCache, role: Role,
                 ssl: OpaquePointer)
    {
        self.socket = socket
        self.host = host
        self.context = context
        self.sessionCache = sessionCache
        self.role = role
        self.ssl = ssl
    }

    deinit {
        SSL_free(ssl)
        socket.close()
    }

    private func handshake() throws(FTPError) {
        switch context.verification {
        case .system, .caFile:
            // The certificate must name what we connected to: SSL_set1_host for names,
            // the IP address SAN for literals.
            let parameters = SSL_get0_param(ssl)
            X509_VERIFY_PARAM_set_hostflags(parameters, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
            let named = TLSStream.isIPAddress(host) ? X509_VERIFY_PARAM_set1_ip_asc(parameters, host)
                : SSL_set1_host(ssl, host)
            guard named == 1 else {
                throw .tls("cannot check the certificate against '\(host)': \(TLSContext.openSSLErrors())")
            }
        case .pinned, .insecure:
            break
        }
        if role == .data && context.resumesSessions {
            _ = ctls_session_cache_apply(sessionCache.pointer, ssl)
        }
        ERR_clear_error()
        let result = SSL_connect(ssl)
        if result != 1 {
            throw handshakeError(result)
        }
        protocolVersion = String(cString: SSL_get_version(ssl))
        if let current = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(current) {
            cipher = String(cString: name)
        }
        sessionResumed = SSL_session_reused(ssl) == 1

        // A resumed session keeps the certificate (and verdict) of the handshake it came from.
        let certificate = SSL_get1_peer_certificate(ssl)
        defer { X509_free(certificate) }
        let fingerprint = certificate.flatMap(TLSCertificate.sha256)
        certificateFingerprint = fingerprint.map(TLSCertificate.format)
        switch context.verification {
        case .pinned(let expected):
            guard let certificate else { throw .tls("the server at \(socket.peer) sent no certificate") }
            guard let fingerprint, fingerprint == expected else {
                throw .tls(TLSCertificate.pinMismatch(expected: expected, certificate: certificate, host: host))
            }
        case .system, .caFile:
            // The verify callback already failed the handshake for any problem; belt and braces.
            let verdict = SSL_get_verify_result(ssl)
            guard verdict == X509_V_OK else {
                throw .tls(TLSCertificate.verificationFailure(code: Int32(verdict), depth: 0, leaf: certificate,
                                                              atFault: certificate, host: host,
                                                              verification: context.verification))
            }
        case .insecure:
            break
        }
    }

    private func handshakeError(_ result: Int32) -> FTPError {
        let error = SSL_get_error(ssl, result)
        let peer = socket.peer
        var depth: Int32 = 0
        var leaf: OpaquePointer?
        var atFault: OpaquePointer?
        let verifyCode = ctls_verify_failure(ssl, &depth, &leaf, &atFault)
        defer {
            X509_free(leaf)
            X509_free(atFault)
        }
        let closedByServer = FTPError.tls("the server at \(peer) closed the connection during the TLS handshake"
            + (role == .data ? " of a data connection (did it refuse to resume the control connection's TLS session?)" : ""))
        if verifyCode == X509_V_OK, ctls_ssl_eof_without_close_notify(ssl) != 0 {
            ERR_clear_error()
            return closedByServer
        }
        if verifyCode != X509_V_OK {
            ERR_clear_error()
            return .tls(TLSCertificate.verificationFailure(code: verifyCode, depth: depth, leaf: leaf, atFault: atFault,
                                                           host: host, verification: context.verification))
        }
        switch error {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            ERR_clear_error()
            return .timedOut("during the TLS handshake with \(peer)")
        case SSL_ERROR_SYSCALL:
            let code = ctls_ssl_socket_errno(ssl)
            let reasons = TLSContext.openSSLErrors()
            if code == 0 || code == ECONNRESET || code == EPIPE {
                return closedByServer
            }
            return .tls("TLS handshake with \(peer): \(String(cString: strerror(code)))"
                + (reasons == "unknown OpenSSL error" ? "" : " (\(reasons))"))
        case SSL_ERROR_ZERO_RETURN:
            ERR_clear_error()
            return .tls("the server at \(peer) closed the connection during the TLS handshake")
        default:
            let reasons = TLSContext.openSSLErrors()
            var hint = ""
            if reasons.contains("wrong version number") || reasons.contains("packet length too long")
                || reasons.contains("record layer failure")
            {
                hint = role == .control
                    ? " (the server does not speak TLS on this port: ftps:// is implicit TLS, usually on port 990; "
                    + "for AUTH TLS on the normal port use ftpes:// or -o tls=explicit)"
                    : ""
            } else if reasons.contains("unsupported protocol") || reasons.contains("no protocols available") {
                hint = " (ftpfs needs TLS 1.2 or newer)"
            }
            return .tls("TLS handshake with \(peer) failed: \(reasons)\(hint)")
        }
    }

    // MARK: - ByteStream

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FTPError) -> Int {
        guard !closed.load(ordering: .acquiring) else {
            throw .connectionClosed("(TLS connection to \(socket.peer) already closed)")
        }
        guard buffer.count > 0 else { return 0 }
        ERR_clear_error()
        var count = 0
        if SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count) == 1 {
            return count
        }
        let error = SSL_get_error(ssl, 0)
        if error == SSL_ERROR_ZERO_RETURN {
            return 0  // the peer's close_notify: the orderly end
        }
        if ctls_ssl_eof_without_close_notify(ssl) != 0 {
            ERR_clear_error()
            return try endWithoutCloseNotify()
        }
        switch error {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            throw .timedOut("waiting for data from \(socket.peer)")
        case SSL_ERROR_SYSCALL:
            let code = ctls_ssl_socket_errno(ssl)
            ERR_clear_error()
            switch code {
            case 0: return 0
            case ECONNRESET: throw .connectionClosed("(connection reset by \(socket.peer))")
            default: throw .io(errno: code, context: "reading from \(socket.peer)")
            }
        default:
            throw .tls("reading from \(socket.peer): \(TLSContext.openSSLErrors())")
        }
    }

    /// The peer ended the connection with a TCP FIN but no close_notify. TLS authenticates every
    /// record, but only close_notify authenticates where the stream ends: anyone on the path can
    /// inject a FIN. FTPS servers (vsftpd, ProFTPD, pyftpdlib, FileZilla Server) end every data
    /// connection with close_notify, so on a data connection this is a stream cut short, and
    /// what came cannot be taken for the whole file or listing. A control connection a server
    /// drops this way reads as an end, as it always did: the reply it cut off is missing anyway.
    private func endWithoutCloseNotify() throws(FTPError) -> Int {
        switch role {
        case .control:
            return 0
        case .data:
            throw .tls("the data connection from \(socket.peer) ended without TLS close_notify: "
                + "the transfer may have been cut short, so it is not taken as complete")
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(FTPError) {
        guard !closed.load(ordering: .acquiring) else {
            throw .connectionClosed("(TLS connection to \(socket.peer) already closed)")
        }
        var offset = 0
        while offset < bytes.count {
            ERR_clear_error()
            var written = 0
            if SSL_write_ex(ssl, bytes.baseAddress! + offset, bytes.count - offset, &written) == 1 {
                offset += written
                continue
            }
            switch SSL_get_error(ssl, 0) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                throw .timedOut("sending to \(socket.peer)")
            case SSL_ERROR_SYSCALL:
                let code = ctls_ssl_socket_errno(ssl)
                ERR_clear_error()
                switch code {
                case 0, EPIPE, ECONNRESET: throw .connectionClosed("(while sending to \(socket.peer))")
                default: throw .io(errno: code, context: "writing to \(socket.peer)")
                }
            case SSL_ERROR_ZERO_RETURN:
                throw .connectionClosed("(while sending to \(socket.peer))")
            default:
                throw .tls("writing to \(socket.peer): \(TLSContext.openSSLErrors())")
            }
        }
    }

    /// Wakes a read or write blocked in another thread.
    public func shutdown() {
        socket.shutdown()
    }

    /// Closes without a TLS goodbye (aborts, failures, and the control connection).
    public func close() {
        if closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
            socket.close()
        }
    }

    /// Ends the stream the way servers expect at the end of a transfer: our close_notify, then
    /// the TCP FIN, then whatever the server still sends (its own close_notify, TLS 1.3 session
    /// tickets, the rest of a download cut short) is read and dropped until it closes too, at
    /// most `drainLimit` bytes. vsftpd reports an upload as failed when the TCP connection ends
    /// without close_notify, and closing a socket with unread bytes would send a reset.
    public func closeGracefully(drainLimit: Int = 1 << 20) {
        guard !closed.load(ordering: .acquiring) else { return }
        ERR_clear_error()
        let peerClosed = ctls_ssl_received_shutdown(ssl) != 0
        if SSL_shutdown(ssl) < 0 {
            ERR_clear_error()
        }
        if !peerClosed {
            socket.shutdownWrite()
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            var drained = 0
            while drained < drainLimit {
                var count = 0
                let outcome = buffer.withUnsafeMutableBytes { raw in
                    SSL_read_ex(ssl, raw.baseAddress, raw.count, &count)
                }
                if outcome != 1 { break }
                drained += count
            }
            ERR_clear_error()
        }
        close()
    }

    /// Whether `host` is an IPv4 or IPv6 literal (no SNI; verified against the IP address SAN).
    static func isIPAddress(_ host: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET, host, &address) == 1 || inet_pton(AF_INET6, host, &address) == 1
    }
}
