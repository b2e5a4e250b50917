import FTPProtocol
import Logging

/// FTPS (RFC 4217) on a session: TLS on the control connection (implicit, or `AUTH TLS`),
/// `PBSZ 0` + `PROT P` after login, and TLS on every data connection, resuming the control
/// connection's session.
extension FTPSession {
    /// Whether the control connection runs over TLS (and so every data connection does too).
    public var isTLSProtected: Bool { control.stream is TLSStream }

    /// The control connection's TLS details, for logs and tests: version, cipher, fingerprint.
    public var tlsDescription: String? {
        guard let stream = control.stream as? TLSStream else { return nil }
        return "\(stream.protocolVersion) \(stream.cipher)"
    }

    /// How many TLS sessions the control connection has received for data connections to
    /// resume (TLS 1.3 servers send them after the handshake; 0 until then).
    var tlsSessionsLearned: Int { (control.stream as? TLSStream)?.sessionCache.learnedSessions ?? 0 }

    /// Implicit TLS: the handshake comes first, before the server's greeting.
    func startImplicitTLS() throws(FTPError) {
        guard let tls = configuration.tls, tls.mode == .implicit else { return }
        try startControlTLS(tls)
    }

    /// Explicit TLS: `AUTH TLS` after the greeting and before USER. A refusal ends the session
    /// before any password is sent, unless the configuration accepts plain FTP (`tls=try`).
    func negotiateExplicitTLS() throws(FTPError) {
        guard let tls = configuration.tls, tls.mode != .implicit else { return }
        let reply = try execute(Command("AUTH", "TLS"))
        if reply.code == .securityDataExchangeComplete {
            // Nothing may follow 234 in the clear: bytes already buffered would be read as if
            // they had come over TLS (command injection, CVE-2011-0411 style).
            guard !control.hasBufferedInput else {
                throw .protocolViolation("the server sent more after its 234 reply to AUTH TLS")
            }
            try startControlTLS(tls)
            return
        }
        let answer = reply.lines.joined(separator: " / ")
        guard reply.code.isTransientNegative || reply.code.isPermanentNegative else {
            throw .protocolViolation("unexpected reply to AUTH TLS: \(answer)")
        }
        guard tls.mode == .explicitIfAvailable else {
            throw .tls("""
                \(configuration.displayAddress) does not offer TLS (it answered AUTH TLS with "\(answer)"); \
                the password was not sent (-o tls=try would fall back to plain FTP, password in the clear)
                """)
        }
        let first = !tls.shared.announcedPlainFallback.exchange(true, ordering: .relaxed)
        let message: Logger.Message = """
            \(configuration.displayAddress) does not offer TLS (AUTH TLS: \(answer)); continuing without \
            encryption as -o tls=try allows: the password and all data travel in the clear
            """
        if first {
            logger.notice(message)
        } else {
            logger.debug(message)
        }
    }

    /// `PBSZ 0` and `PROT P` once logged in over TLS, so that every data connection is
    /// protected too. A server that refuses `PROT P` ends the session: data in the clear is not
    /// what the user asked for.
    func protectDataConnections() throws(FTPError) {
        guard isTLSProtected else { return }
        let pbsz = try execute(Command("PBSZ", "0"))
        if !pbsz.code.isPositiveCompletion {
            logger.debug("server refused PBSZ 0 (\(pbsz.lines.first ?? "")); trying PROT P anyway")
        }
        let prot = try execute(Command("PROT", "P"))
        guard prot.code.isPositiveCompletion else {
            throw .tls("""
                \(configuration.displayAddress) refused to protect data connections (PROT P: \
                \(prot.lines.joined(separator: " / "))); ftpfs does not transfer files in the clear over a TLS session
                """)
        }
    }

    /// The TLS client side of a data connection: it resumes the control connection's session.
    /// A failed handshake leaves the session out of step (the server is about to report the
    /// failed transfer), so it is closed, with the server's verdict added to the error.
    func secureDataConnection(_ socket: Socket) throws(FTPError) -> any ByteStream {
        guard let control = control.stream as? TLSStream else { return socket }
        do {
            let stream = try TLSStream.connect(socket: socket, host: configuration.host, context: control.context,
                                               sessionCache: control.sessionCache, role: .data)
            if !stream.sessionResumed {
                logger.debug("data connection did not resume the control connection's TLS session (\(stream.protocolVersion))")
            }
            return stream
        } catch {
            isUsable = false
            var verdict = ""
            if let reply = try? withReplyTimeout(2, { () throws(FTPError) in try readReply() }) {
                verdict = "; the server said: \(reply.lines.joined(separator: " / "))"
            }
            switch error {
            case .tls(let what): throw .tls("data connection: \(what)\(verdict)")
            case .timedOut(let what): throw .timedOut("\(what) (data connection)\(verdict)")
            default: throw error
            }
        }
    }

    private func startControlTLS(_ tls: TLSConfiguration) throws(FTPError) {
        let context = try tls.context(logger: logger)
        let stream = try TLSStream.connect(socket: control.socket, host: configuration.host, context: context,
                                           sessionCache: try TLSSessionCache(), role: .control)
        control.stream = stream
        let verified: String = switch tls.verification {
        case .system: "certificate verified against the system's CAs"
        case .caFile(let path): "certificate verified against \(path)"
        case .pinned: "certificate matches the pinned fingerprint"
        case .insecure: "certificate NOT verified (tls_insecure)"
        }
        logger.debug("""
            \(tls.mode) with \(control.socket.peer): \(stream.protocolVersion) \(stream.cipher); \(verified); \
            \(stream.certificateFingerprint ?? "")
            """)
    }
}
