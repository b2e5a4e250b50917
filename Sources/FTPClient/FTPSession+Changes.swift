import FTPProtocol

/// Commands that change the server: uploads, deletion, directories, renames, and the SITE
/// extensions for times, modes, links and server-side copies. Where servers differ, the first
/// refusal is remembered in `capabilities` so no session asks again.
extension FTPSession {
    /// Starts an upload that replaces (or creates) `path`.
    public func store(_ path: String) throws(FTPError) -> DataTransfer {
        try startTransfer(.stor(path))
    }

    /// Starts an upload that appends to `path` (creating it when missing).
    public func append(_ path: String) throws(FTPError) -> DataTransfer {
        try startTransfer(.appe(path))
    }

    public func delete(_ path: String) throws(FTPError) {
        try expect(.dele(path), { $0.isPositiveCompletion })
    }

    public func makeDirectory(_ path: String) throws(FTPError) {
        try expect(.mkd(path), { $0.isPositiveCompletion })
    }

    public func removeDirectory(_ path: String) throws(FTPError) {
        try expect(.rmd(path), { $0.isPositiveCompletion })
    }

    /// RNFR then RNTO, back to back (one round trip). Most servers replace an existing target,
    /// as rename(2) does; some (IIS, FileZilla Server) refuse, and the caller decides what to do
    /// about that. A refused RNFR makes the server answer RNTO with 503: RNFR's reply is the
    /// error then.
    public func rename(_ source: String, to destination: String) throws(FTPError) {
        let commands: [Command] = [.rnfr(source), .rnto(destination)]
        let replies = try pipelined(commands)
        do throws(FTPError) {
            guard replies[0].code == .fileActionPending else {
                throw FTPError.reply(command: commands[0].loggable, reply: replies[0])
            }
            guard replies[1].code.isPositiveCompletion else {
                throw FTPError.reply(command: commands[1].loggable, reply: replies[1])
            }
        } catch {
            if error.meaning == .notSupported { capabilities.update { $0.renameUnsupported = true } }
            throw error
        }
    }

    // MARK: - Modification time

    /// Sets the modification time of `path`, by whichever command the server accepts: MFMT
    /// (RFC draft, advertised in FEAT), vsftpd's two-argument MDTM, or ProFTPD's SITE UTIME.
    public func setModificationTime(_ time: FTPTimestamp, of path: String) throws(FTPError) {
        let stamp = time.timeVal
        var lastError: FTPError = .reply(command: "MFMT", reply: Reply(code: .commandNotImplemented,
                                                                      lines: ["502 no way to set times"]))
        let known = capabilities.snapshot
        if features.supportsMFMT && !known.mfmtRefused {
            do {
                try expect(Command("MFMT", stamp + " " + path), { $0.isPositiveCompletion })
                return
            } catch {
                lastError = error
                if Self.isNotImplemented(error) { capabilities.update { $0.mfmtRefused = true } }
                else if !Self.isUnsupported(error) { throw error }
            }
        }
        if !known.mdtmSetRefused {
            do {
                try expect(Command("MDTM", stamp + " " + path), { $0.isPositiveCompletion })
                return
            } catch {
                lastError = error
                if Self.isNotImplemented(error) { capabilities.update { $0.mdtmSetRefused = true } }
                else if !Self.isUnsupported(error) { throw error }
            }
        }
        if !known.siteUtimeRefused {
            do {
                try expect(.site("UTIME " + stamp + " " + path), { $0.isPositiveCompletion })
                return
            } catch {
                lastError = error
                if Self.isNotImplemented(error) { capabilities.update { $0.siteUtimeRefused = true } }
                else if !Self.isUnsupported(error) { throw error }
            }
        }
        throw lastError
    }

    /// 500/502/504: the server does not know the command at all (as opposed to refusing it for
    /// this file).
    public static func isNotImplemented(_ error: FTPError) -> Bool {
        guard let code = error.replyCode else { return false }
        return [500, 502, 504].contains(code.rawValue)
    }

    // MARK: - SITE extensions

    /// `SITE CHMOD mode path` (vsftpd, ProFTPD, Pure-FTPd, pyftpdlib).
    public func changeMode(_ mode: UInt32, of path: String) throws(FTPError) {
        try siteCommand("CHMOD " + String(mode & 0o7777, radix: 8) + " " + path, refused: \.siteChmodRefused)
    }

    /// `SITE SYMLINK target path` (ProFTPD's mod_site_misc).
    public func symlink(target: String, at path: String) throws(FTPError) {
        try siteCommand("SYMLINK " + target + " " + path, refused: \.siteSymlinkRefused)
    }

    /// `SITE CPFR source` then `SITE CPTO destination` (ProFTPD's mod_copy): the server copies.
    public func serverCopy(from source: String, to destination: String) throws(FTPError) {
        if capabilities.snapshot.siteCopyRefused {
            throw .reply(command: "SITE CPFR", reply: Reply(code: .commandNotImplemented, lines: ["502 known unsupported"]))
        }
        do {
            try expect(.site("CPFR " + source), { $0 == .fileActionPending })
        } catch {
            if Self.isUnsupported(error) && error.replyCode != .fileUnavailable {
                capabilities.update { $0.siteCopyRefused = true }
            }
            throw error
        }
        try expect(.site("CPTO " + destination), { $0.isPositiveCompletion })
    }

    private func siteCommand(_ text: String, refused flag: WritableKeyPath<ServerCapabilities.State, Bool>) throws(FTPError) {
        if capabilities.snapshot[keyPath: flag] {
            throw .reply(command: "SITE", reply: Reply(code: .commandNotImplemented, lines: ["502 known unsupported"]))
        }
        do {
            try expect(.site(text), { $0.isPositiveCompletion })
        } catch {
            if Self.isNotImplemented(error) {
                capabilities.update { $0[keyPath: flag] = true }
            }
            throw error
        }
    }

    // MARK: - Integrity

    /// How to have this server hash a file with `algorithm`, if it offers that.
    public func remoteHashMethod(for algorithm: HashAlgorithm) -> RemoteHashMethod? {
        if capabilities.snapshot.hashRefused { return nil }
        if features.contains("HASH"), features.hashAlgorithms.contains(algorithm.rawValue) { return .hash(algorithm) }
        if features.contains(algorithm.extensionCommand) { return .extensionCommand(algorithm) }
        return nil
    }

    /// The strongest way this server offers to hash a file: HASH (draft-bryan-ftpext-hash)
    /// with the best algorithm it lists, else an X-command it advertises.
    public var remoteHashMethod: RemoteHashMethod? {
        if capabilities.snapshot.hashRefused { return nil }
        let offered = features.hashAlgorithms
        if features.contains("HASH") {
            for algorithm in HashAlgorithm.allCases where offered.contains(algorithm.rawValue) {
                return .hash(algorithm)
            }
        }
        for algorithm in HashAlgorithm.allCases where features.contains(algorithm.extensionCommand) {
            return .extensionCommand(algorithm)
        }
        return nil
    }

    /// Asks the server for the digest of `path` (lower-case hex).
    public func remoteHash(of path: String, method: RemoteHashMethod) throws(FTPError) -> String {
        let reply: Reply
        do {
            switch method {
            case .hash(let algorithm):
                if selectedHashAlgorithm != algorithm {
                    try expect(.opts("HASH " + algorithm.rawValue), { $0.isPositiveCompletion })
                    selectedHashAlgorithm = algorithm
                }
                reply = try expect(Command("HASH", path), { $0.isPositiveCompletion })
            case .extensionCommand(let algorithm):
                reply = try expect(Command(algorithm.extensionCommand, path), { $0.isPositiveCompletion })
            }
        } catch {
            if Self.isNotImplemented(error) { capabilities.update { $0.hashRefused = true } }
            throw error
        }
        let length = method.algorithm.hexLength
        for token in reply.text.split(whereSeparator: { $0 == " " || $0 == "\t" }) where token.count == length {
            if token.allSatisfy(\.isHexDigit) { return token.lowercased() }
        }
        throw .protocolViolation("no \(method.algorithm.rawValue) digest in: \(reply.lines.joined(separator: " / "))")
    }
}

/// How to ask a server for a file's digest.
public enum RemoteHashMethod: Hashable, Sendable {
    case hash(HashAlgorithm)
    case extensionCommand(HashAlgorithm)

    public var algorithm: HashAlgorithm {
        switch self {
        case .hash(let algorithm), .extensionCommand(let algorithm): algorithm
        }
    }
}
