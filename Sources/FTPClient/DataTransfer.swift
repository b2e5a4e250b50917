import FTPProtocol

/// An open data transfer (RETR, LIST, MLSD, STOR, APPE) and the session it occupies.
///
/// The transfer ends in one of two ways. `finish()` (or reading to the end) reads the server's
/// final reply and fails unless it is 2xx; `abort()` stops early and resynchronises the control
/// connection so that no stale reply is ever read as the answer to a later command.
public final class DataTransfer {
    public let session: FTPSession
    public let command: Command
    private var data: (any ByteStream)?
    private var completion: Reply?
    public private(set) var bytesTransferred: UInt64 = 0
    /// The sockets `interrupt` breaks off: the data connection's and the control connection's.
    /// Fixed at the start, so another thread may use them while the owner works.
    private let interruptible: [Socket]

    init(session: FTPSession, data: (any ByteStream)?, command: Command, completed: Reply?) {
        self.session = session
        self.data = data
        self.command = command
        self.completion = completed
        self.interruptible = [Self.socket(of: data), session.control.socket].compactMap { $0 }
    }

    private static func socket(of stream: (any ByteStream)?) -> Socket? {
        switch stream {
        case let socket as Socket: socket
        case let tls as TLSStream: tls.socket
        default: nil
        }
    }

    /// Whether this transfer sends (STOR, APPE, STOU) rather than receives.
    public var isUpload: Bool { ["STOR", "APPE", "STOU"].contains(command.verb.uppercased()) }

    /// From any thread: shuts the data and control connections down, so that whatever the
    /// owner is blocked on (a send into a stalled server, a wait for its verdict) fails at
    /// once. The session is lost; the owner's `abort` then only tidies up.
    public func interrupt() {
        for socket in interruptible { socket.shutdown() }
    }

    deinit {
        if completion == nil { _ = abort() }
    }

    /// Whether the server's final reply has been read (or the transfer was aborted).
    public var isFinished: Bool { completion != nil }

    /// Reads the next bytes of a download. Returns 0 once the server closed the data connection
    /// and confirmed the transfer; throws when the server reports the transfer failed.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FTPError) -> Int {
        guard let stream = data else { return 0 }
        let count: Int
        do {
            count = try stream.read(into: buffer)
        } catch {
            failDataConnection()
            throw error
        }
        if count == 0 {
            try finish()
            return 0
        }
        bytesTransferred += UInt64(count)
        return count
    }

    /// Whether `splice(into:count:)` can move this transfer's bytes: a plain TCP data connection
    /// (TLS decrypts in user space).
    public var canSplice: Bool { data is Socket }

    /// Moves up to `count` bytes of a download into a pipe without copying them through user
    /// space. Returns 0 once the server closed the data connection and confirmed the transfer
    /// (as `read` does), or nil when the pipe is full.
    public func splice(into pipe: Int32, count: Int) throws(FTPError) -> Int? {
        guard let stream = data else { return 0 }
        guard let socket = stream as? Socket else { return nil }  // TLS: `read` decrypts it
        let moved: Int?
        do {
            moved = try socket.splice(into: pipe, count: count)
        } catch {
            failDataConnection()
            throw error
        }
        guard let moved else { return nil }
        if moved == 0 {
            try finish()
            return 0
        }
        bytesTransferred += UInt64(moved)
        return moved
    }

    /// Reads everything up to the end of the transfer (listings), at most `limit` bytes.
    public func readToEnd(limit: Int) throws(FTPError) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = try chunk.withUnsafeMutableBytesTyped { (raw) throws(FTPError) -> Int in try read(into: raw) }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
            if result.count > limit {
                _ = abort()
                throw .protocolViolation("\(command.verb) sent more than \(limit) bytes")
            }
        }
    }

    /// Writes bytes of an upload.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(FTPError) {
        guard let stream = data else {
            throw .protocolViolation("write on a finished transfer")
        }
        do {
            try stream.write(bytes)
        } catch {
            if let refusal = refusalAfterBrokenUpload() {
                throw .reply(command: command.loggable, reply: refusal)
            }
            failDataConnection()
            throw error
        }
        bytesTransferred += UInt64(bytes.count)
    }

    /// An upload's data connection broke. A server that stops an upload on purpose (quota
    /// exceeded, disk full, a name refused late) closes it and says why on the control
    /// connection, and that reason is the error to report: not a dropped connection to resume.
    /// Waits briefly for it; returns the refusal (the session is then back in step), or nil
    /// when there is none: no reply, or one that says the transfer was merely interrupted
    /// (425, 426, 450, 451), which resuming may get past.
    private func refusalAfterBrokenUpload() -> Reply? {
        guard isUpload, session.isUsable else { return nil }
        data?.close()
        data = nil
        session.transferInProgress = false
        guard let reply = try? session.withReplyTimeout(1, { () throws(FTPError) in try session.readReply() }),
              reply.code.isTransientNegative || reply.code.isPermanentNegative,
              ![425, 426, 450, 451].contains(reply.code.rawValue)
        else { return nil }
        completion = reply
        return reply
    }

    /// Closes the data connection (for uploads, this marks the end of the file) and reads the
    /// server's verdict. Throws `.reply` unless it is 2xx.
    @discardableResult
    public func finish() throws(FTPError) -> Reply {
        if let completion {
            return try verdict(completion)
        }
        if let stream = data {
            if let tls = stream as? TLSStream {
                tls.closeGracefully()  // close_notify before the FIN, as FTPS servers expect
            } else if let socket = stream as? Socket {
                socket.shutdownWrite()
            }
            stream.close()
            data = nil
        }
        session.transferInProgress = false
        let reply: Reply
        do {
            reply = try session.readReply()
        } catch {
            completion = Reply(code: .connectionClosedTransferAborted, lines: ["426 \(error)"])
            throw error
        }
        completion = reply
        if session.isTLSProtected, bytesTransferred == 0,
           reply.code.rawValue == 522 || reply.code == .cannotOpenDataConnection
        {
            // The server refused the data connection's TLS session (vsftpd: 522, ProFTPD: 425).
            // Servers forget sessions (OpenSSL's cache keeps them 300 s by default, and a TLS 1.2
            // session is never renewed), so a long-lived control connection ends up with one no
            // data connection can resume: a new control connection gets a new session, and the
            // error says to retry on one.
            session.isUsable = false
            throw .connectionClosed("""
                (the server refused the data connection's TLS session: \(reply.lines.joined(separator: " / ")); \
                a new connection will get a new session)
                """)
        }
        return try verdict(reply)
    }

    private func verdict(_ reply: Reply) throws(FTPError) -> Reply {
        guard reply.code.isPositiveCompletion else {
            throw .reply(command: command.loggable, reply: reply)
        }
        return reply
    }

    /// Stops the transfer early. Returns whether the session is back in step and can be reused.
    ///
    /// Closing the data connection makes the server's next write fail, and servers then send one
    /// final reply: 426 or 451 usually, 226 when everything was already sent, 450 or 550 on some.
    /// An upload's data connection is reset rather than closed (a FIN would tell the server the
    /// file is complete) and followed by ABOR, so the server stops writing the file at once.
    /// A NOOP afterwards proves the reply stream is back in step: anything but its 200 before a
    /// short deadline means the session is closed rather than trusted.
    @discardableResult
    public func abort() -> Bool {
        guard completion == nil else { return session.isUsable }
        completion = Reply(code: .connectionClosedTransferAborted, lines: ["426 aborted by client"])
        if isUpload, let socket = Self.socket(of: data) {
            socket.closeAbortively()
        }
        data?.close()
        data = nil
        session.transferInProgress = false
        guard session.isUsable else { return false }
        do {
            try session.withReplyTimeout(5) { () throws(FTPError) in
                if isUpload { try session.control.send(.abor) }
                let final = try session.readReply()
                session.logger.debug("transfer of \(command.loggable) aborted: \(final.lines.first ?? "")")
                try session.control.send(.noop)
                // A server may send one more reply for the aborted transfer (and one for ABOR)
                // before the NOOP's 200.
                for _ in 0..<4 {
                    let reply = try session.readReply()
                    if reply.code == .commandOK { return }
                }
                throw FTPError.protocolViolation("no NOOP reply after aborting \(command.verb)")
            }
        } catch {
            session.logger.debug("closing the session after an unclean abort: \(error)")
            session.close()
            return false
        }
        return true
    }

    private func failDataConnection() {
        data?.close()
        data = nil
        completion = Reply(code: .connectionClosedTransferAborted, lines: ["426 data connection failed"])
        session.transferInProgress = false
        // The server's final reply may or may not come; the session's state is uncertain.
        session.close()
    }
}
