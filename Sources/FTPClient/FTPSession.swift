import FTPProtocol
import Logging
import ThreadSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One logged-in control connection and the commands that run on it.
///
/// A session is used by one thread at a time; the `ConnectionPool` hands it out. While a data
/// transfer is open (`DataTransfer`), the session can run no other command.
public final class FTPSession: @unchecked Sendable {
    public let configuration: ClientConfiguration
    /// What the pool has learned about the server, shared by all its sessions.
    public let capabilities: ServerCapabilities
    public let logger: Logger
    let control: ControlConnection
    public private(set) var features = FeatureSet()
    /// The directory the server put us in after login (PWD).
    public private(set) var homeDirectory = "/"
    /// False once the connection failed or fell out of step with the server; the pool then
    /// closes it instead of reusing it.
    public internal(set) var isUsable = true
    /// Set while a `DataTransfer` holds the session.
    var transferInProgress = false
    /// The algorithm `OPTS HASH` last selected on this connection.
    var selectedHashAlgorithm: HashAlgorithm?
    /// The directory being listed, for messages about its listing.
    private var workingDirectoryForLog = ""
    /// How long one reply may take, whole: the connect timeout until logged in, then `timeout`.
    var replyTimeout: Double

    private init(configuration: ClientConfiguration, capabilities: ServerCapabilities,
                 control: ControlConnection, logger: Logger)
    {
        self.configuration = configuration
        self.capabilities = capabilities
        self.control = control
        self.logger = logger
        self.replyTimeout = configuration.connectTimeout
    }

    deinit { control.close() }

    /// Connects, reads the greeting, logs in, reads FEAT and sets up binary transfers.
    public static func connect(configuration: ClientConfiguration,
                               capabilities: ServerCapabilities = ServerCapabilities(),
                               logger: Logger) throws(FTPError) -> FTPSession
    {
        // Until login completes, replies are bounded by the connect timeout: a server that
        // accepts connections but never greets us is as unreachable as one that does not answer.
        let socket = try Socket.connect(host: configuration.host, port: configuration.port,
                                        connectTimeout: configuration.connectTimeout,
                                        ioTimeout: configuration.connectTimeout, resolver: capabilities.resolver)
        socket.setNoDelay()
        var sessionLogger = logger
        sessionLogger[metadataKey: "conn"] = "\(socket.local.port)"
        let control = ControlConnection(socket: socket, logger: sessionLogger, codec: configuration.nameCodec)
        let session = FTPSession(configuration: configuration, capabilities: capabilities,
                                 control: control, logger: sessionLogger)
        do {
            try session.startImplicitTLS()        // implicit FTPS: TLS before the greeting
            try session.readGreeting()
            try session.negotiateExplicitTLS()    // AUTH TLS before USER/PASS
            try session.logIn()
            try session.protectDataConnections()  // PBSZ 0, PROT P
            socket.setTimeout(configuration.timeout)
            session.replyTimeout = configuration.timeout
            try session.negotiate()
        } catch {
            session.isUsable = false
            // The first session found that this server drops commands sent back to back: the
            // next one is told so and sends one at a time.
            if case .timedOut = error, !capabilities.pipeliningWasKnown, capabilities.snapshot.pipelining == .broken {
                capabilities.pipeliningWasKnown = true
                return try connect(configuration: configuration, capabilities: capabilities, logger: logger)
            }
            throw error
        }
        return session
    }

    /// The address of the server as connected (numeric), used for passive data connections.
    public var peerAddress: SocketAddress { control.socket.peer }

    // MARK: - Login

    private func readGreeting() throws(FTPError) {
        // "120 service ready in nnn minutes" may come before the 220, but not for ever: the
        // greeting as a whole gets the connect timeout.
        let deadline = MonotonicClock.now + configuration.connectTimeout
        while true {
            let reply = try readReply()
            switch reply.code.rawValue {
            case 120:
                if MonotonicClock.now >= deadline {
                    throw .timedOut("waiting for the server to be ready (it keeps answering 120)")
                }
                continue  // a 220 follows
            case 220: return
            case 421: throw .serviceUnavailable(reply)
            default: throw .protocolViolation("unexpected greeting: \(reply.lines.joined(separator: " / "))")
            }
        }
    }

    private func logIn() throws(FTPError) {
        let userReply = try execute(.user(configuration.user))
        switch userReply.code.rawValue {
        case 230: return
        case 331:
            break
        case 421:
            throw .serviceUnavailable(userReply)
        default:
            throw .loginFailed(userReply)
        }
        let passReply = try execute(.pass(configuration.password.value))
        switch passReply.code.rawValue {
        case 230, 202: return
        case 421: throw .serviceUnavailable(passReply)
        default: throw .loginFailed(passReply)
        }
    }

    private func negotiate() throws(FTPError) {
        let featReply = try execute(.feat)
        features = FeatureSet(featReply: featReply)
        if features.supportsUTF8, configuration.nameCodec.isUTF8 {
            // Some servers (IIS, old ProFTPD) only send UTF-8 names after this; failure is harmless.
            _ = try execute(.opts("UTF8 ON"))
        }
        // TYPE and PWD back to back: one round trip less at every login, and the first session
        // learns whether the server copes with commands sent that way (see `pipelined`).
        let pipelining = capabilities.snapshot.pipelining
        if pipelining == .unknown { capabilities.pipeliningWasKnown = false }
        let replies = try pipelined([.type("I"), .pwd])
        guard replies[0].code.isPositiveCompletion else { throw .reply(command: "TYPE I", reply: replies[0]) }
        let pwdReply = replies[1]
        if pwdReply.code == .pathnameCreated, let path = FTPPath.parse257(pwdReply.text), path.hasPrefix("/") {
            homeDirectory = FTPPath.normalize(path)
        }
    }

    // MARK: - Commands

    /// Sends a command and reads its reply. A connection-level failure marks the session unusable;
    /// a 421 at any time means the server is closing the session.
    @discardableResult
    public func execute(_ command: Command) throws(FTPError) -> Reply {
        try send(command)
        let reply = try readReply()
        try checkInStep(after: command, reply: reply)
        return reply
    }

    /// Commands that open a data transfer: a 1xx reply to them is the go-ahead.
    static let transferVerbs: Set<String> = ["RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD"]

    /// A session whose replies no longer match its commands (a server that sent one reply too
    /// many, or one meant for a transfer) is dropped, never reused: every later reply would be
    /// read as the answer to the wrong command. Signs: a transfer's reply (1xx, 225, 226) to a
    /// command that opens none, or more bytes waiting after a final reply, which nothing asked
    /// for.
    func checkInStep(after command: Command, reply: Reply, isLast: Bool = true) throws(FTPError) {
        let opensTransfer = Self.transferVerbs.contains(command.verb.uppercased())
        let transferReply = reply.code.isPositivePreliminary || [225, 226].contains(reply.code.rawValue)
        if opensTransfer && reply.code.isPositivePreliminary { return }
        if (transferReply && !opensTransfer) || (isLast && control.hasBufferedInput) {
            isUsable = false
            logger.notice("the server's replies are out of step with the commands (\(reply.lines.first ?? "") to \(command.verb)); dropping the session")
            throw .protocolViolation("reply out of step: \(reply.lines.first ?? "") to \(command.verb)")
        }
    }

    /// Sends commands back to back, then reads their replies in order: one round trip for
    /// several commands whose outcome does not change what the next one is (RNFR+RNTO,
    /// SIZE+MDTM). Every reply is read even when an earlier one is a refusal, so the session
    /// stays in step. Until the pool has seen this server answer a pipelined exchange, the
    /// replies after the first are awaited only briefly: a server that reads one command at a
    /// time and drops the rest would otherwise hold us for the whole timeout. One that does
    /// drops this session (out of step), is remembered, and gets one command at a time.
    public func pipelined(_ commands: [Command]) throws(FTPError) -> [Reply] {
        guard commands.count > 1 else { return try commands.map { (command) throws(FTPError) in try execute(command) } }
        if capabilities.snapshot.pipelining == .broken {
            return try commands.map { (command) throws(FTPError) in try execute(command) }
        }
        for command in commands { try send(command) }
        var replies: [Reply] = []
        replies.append(try readReply())
        let proven = capabilities.snapshot.pipelining == .works
        for _ in 1..<commands.count {
            do {
                if proven {
                    replies.append(try readReply())
                } else {
                    replies.append(try withReplyTimeout(Self.pipeliningProbeTimeout) { () throws(FTPError) in try readReply() })
                }
            } catch {
                if !proven, case .timedOut = error {
                    logger.notice("the server does not answer commands sent back to back; sending one at a time from now on")
                    capabilities.update { $0.pipelining = .broken }
                }
                isUsable = false
                throw error
            }
        }
        if !proven { capabilities.update { $0.pipelining = .works } }
        for (position, (command, reply)) in zip(commands, replies).enumerated() {
            try checkInStep(after: command, reply: reply, isLast: position == commands.count - 1)
        }
        return replies
    }

    /// How long the second reply of a first pipelined exchange may take (see `pipelined`).
    static let pipeliningProbeTimeout = 3.0

    /// Sends one command line. Never while a transfer holds the session: the server would
    /// take it as part of the transfer's conversation, and every later reply would be out of
    /// step (a programming error, reported as such instead of crashing the daemon).
    private func send(_ command: Command) throws(FTPError) {
        guard !transferInProgress else {
            isUsable = false
            throw .protocolViolation("\(command.verb) sent while a transfer holds the session")
        }
        do throws(FTPError) {
            try control.send(command)
        } catch {
            if error.isConnectionLost { isUsable = false }
            throw error
        }
    }

    /// Runs a command and throws `.reply` unless `accept` takes the reply's code.
    @discardableResult
    public func expect(_ command: Command, _ accept: (ReplyCode) -> Bool) throws(FTPError) -> Reply {
        let reply = try execute(command)
        guard accept(reply.code) else { throw .reply(command: command.loggable, reply: reply) }
        return reply
    }

    public func noop() throws(FTPError) {
        try expect(.noop, { $0.isPositiveCompletion })
    }

    public func changeDirectory(_ path: String) throws(FTPError) {
        try expect(.cwd(path), { $0.isPositiveCompletion })
    }

    /// SIZE (RFC 3659) of a file in binary mode.
    public func size(of path: String) throws(FTPError) -> UInt64 {
        let reply = try expect(.size(path), { $0 == .fileStatus })
        guard let size = UInt64(reply.text.trimmingASCIISpaces()) else {
            throw .protocolViolation("SIZE reply without a number: \(reply.lines.first ?? "")")
        }
        return size
    }

    /// MDTM (RFC 3659): the modification time in UTC.
    public func modificationTime(of path: String) throws(FTPError) -> FTPTimestamp {
        let reply = try expect(.mdtm(path), { $0 == .fileStatus })
        guard let time = FTPTimestamp.parseTimeVal(reply.text.trimmingASCIISpaces()) else {
            throw .protocolViolation("MDTM reply without a time: \(reply.lines.first ?? "")")
        }
        return time
    }

    /// SIZE and MDTM in one round trip. The time is nil when MDTM fails (some servers refuse
    /// it for files SIZE knows); SIZE's failure is the error.
    public func sizeAndModificationTime(of path: String) throws(FTPError) -> (UInt64, FTPTimestamp?) {
        let commands: [Command] = [.size(path), .mdtm(path)]
        let replies = try pipelined(commands)
        guard replies[0].code == .fileStatus else { throw .reply(command: commands[0].loggable, reply: replies[0]) }
        guard let size = UInt64(replies[0].text.trimmingASCIISpaces()) else {
            throw .protocolViolation("SIZE reply without a number: \(replies[0].lines.first ?? "")")
        }
        let time = replies[1].code == .fileStatus ? FTPTimestamp.parseTimeVal(replies[1].text.trimmingASCIISpaces()) : nil
        return (size, time)
    }

    /// MLST (RFC 3659): the facts of one path. The entry's name is the path's last component.
    public func machineListing(of path: String) throws(FTPError) -> ListingEntry {
        let reply = try expect(.mlst(path), { $0 == .fileActionOK })
        guard var entry = MLSDParser.parseMLSTReply(reply) else {
            throw .protocolViolation("MLST reply without facts: \(reply.lines.joined(separator: " / "))")
        }
        entry.name = FTPPath.lastComponent(FTPPath.normalize(path))
        return entry
    }

    /// Closes the session politely. Errors are ignored: the connection is going away anyway.
    public func quit() {
        if isUsable && !transferInProgress {
            // Politeness must not hold up an unmount: some servers delay the 221 while they
            // think a data connection is still open (pyftpdlib after PORT).
            control.socket.setTimeout(min(2, configuration.timeout))
            _ = try? execute(.quit)
        }
        isUsable = false
        control.close()
    }

    /// Drops the connection without a word (after a timeout or when its state is uncertain).
    public func close() {
        isUsable = false
        control.close()
    }

    // MARK: - Listings

    /// The entries of a directory: MLSD when the server offers it, LIST otherwise.
    ///
    /// The session first changes into the directory and lists it without an argument: some
    /// servers glob the LIST argument or read `-x` as options, so a directory named `[a]` or
    /// `-l` would list wrongly.
    public func list(directory path: String) throws(FTPError) -> DirectoryListing {
        // Where commands may be sent back to back, the CWD goes with the listing's EPSV and
        // LIST: one round trip for all three (see `startTransfer`).
        if canPipelineTransfers {
            pendingDirectoryChange = path
        } else {
            try changeDirectory(path)
        }
        defer { pendingDirectoryChange = nil }
        workingDirectoryForLog = path
        do {
            return try listWorkingDirectory()
        } catch {
            // Entered but not listable: an upload-only directory ("drop box"), not a missing one.
            if case .reply(let command, let reply) = error, !command.hasPrefix("CWD"), error.meaning != .notSupported,
               reply.code.isPermanentNegative || reply.code == .fileActionNotTaken
            {
                throw .listingRefused(directory: path, reply: reply)
            }
            throw error
        }
    }

    private func listWorkingDirectory() throws(FTPError) -> DirectoryListing {
        if useMLSD {
            do {
                var listing = try transferListing(command: .mlsd(), machine: true)
                if listing.entries.contains(where: { $0.kind == .symlink && $0.linkTarget == nil }) {
                    // Where links lead is a refinement: without it they show as links to
                    // resolve on the server, and the rest of the listing still stands.
                    do {
                        try fillLinkTargets(of: &listing)
                    } catch where !error.isConnectionLost {
                        logger.notice("could not learn where the links in \(workingDirectoryForLog) lead (\(error)); they are resolved on the server")
                    }
                }
                return listing
            } catch let error where Self.isUnsupported(error) {
                logger.info("server advertises MLST but refused MLSD (\(error)); using LIST from now on")
                capabilities.update { $0.mlsdRefused = true }
            }
        }
        return try unixListing()
    }

    /// MLSD says "symlink" without saying where to on ProFTPD (`type=OS.unix=symlink`) and
    /// Pure-FTPd (`OS.unix=slink:` with nothing after it); LIST's `name -> target` does.
    private func fillLinkTargets(of listing: inout DirectoryListing) throws(FTPError) {
        let links = try unixListing()
        for name in listing.names {
            guard var entry = listing[name], entry.kind == .symlink, entry.linkTarget == nil,
                  let target = links[name]?.linkTarget
            else { continue }
            entry.linkTarget = target
            listing.set(entry, named: name)
        }
    }

    /// LIST, with `-a` when the server takes it (vsftpd hides dot files without it).
    private func unixListing() throws(FTPError) -> DirectoryListing {
        let wantHidden: Bool = switch configuration.listHiddenFiles {
        case .always: true
        case .never: false
        case .auto: !capabilities.snapshot.listDashARefused
        }
        if wantHidden {
            do {
                return try transferListing(command: .list("-a"), machine: false)
            } catch let error where Self.isUnsupported(error) && configuration.listHiddenFiles == .auto {
                logger.info("server refused LIST -a (\(error)); listing without hidden files")
                capabilities.update { $0.listDashARefused = true }
            }
        }
        return try transferListing(command: .list(), machine: false)
    }

    private var useMLSD: Bool {
        switch configuration.listingCommand {
        case .mlsd: true
        case .list: false
        case .auto: features.supportsMLST && !capabilities.snapshot.mlsdRefused
        }
    }

    /// 500/501/502/504 (and 550 for an option taken as a file name): the server does not do this.
    public static func isUnsupported(_ error: FTPError) -> Bool {
        guard case .reply(_, let reply) = error else { return false }
        return [500, 501, 502, 504, 550].contains(reply.code.rawValue)
    }

    /// The most a listing may send: a server that never stops is not a directory.
    static let listingLimit = 512 * 1024 * 1024
    /// The longest listing line taken: longer ones are skipped as not understood.
    static let listingLineLimit = 64 * 1024

    private func transferListing(command: Command, machine: Bool) throws(FTPError) -> DirectoryListing {
        let transfer = try startTransfer(command)
        // Parsed as it arrives, each entry straight into the listing: a large directory is held
        // once, in its final form, never as bytes, lines or an array of entries beside it.
        let built = ListingBox()
        var parser = ListingStreamParser(machine ? .machine : .list(ListParser(now: FTPTimestamp.now())),
                                         sink: { built.listing.add($0) })
        var partial: [UInt8] = []
        var undecodable = 0
        var total = 0
        var overlong = 0
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 1)
        defer { chunk.deallocate() }
        func take(_ line: ArraySlice<UInt8>) {
            var bytes = line
            if bytes.last == 0x0D { bytes = bytes.dropLast() }
            guard !bytes.isEmpty else { return }
            if let text = configuration.nameCodec.decode(bytes) {
                parser.consume(text)
            } else {
                undecodable += 1
            }
        }
        while true {
            let count = try transfer.read(into: chunk)
            if count == 0 { break }
            total += count
            if total > Self.listingLimit {
                transfer.abort()
                throw .protocolViolation("\(command.verb) sent more than \(Self.listingLimit) bytes")
            }
            var start = 0
            let bytes = UnsafeRawBufferPointer(rebasing: chunk[0..<count])
            while let newline = bytes[start...].firstIndex(of: 0x0A) {
                if partial.isEmpty {
                    take(ArraySlice(bytes[start..<newline]))
                } else {
                    partial.append(contentsOf: bytes[start..<newline])
                    if partial.count <= Self.listingLineLimit { take(partial[...]) } else { overlong += 1 }
                    partial.removeAll(keepingCapacity: true)
                }
                start = newline + 1
            }
            if start < count, partial.count <= Self.listingLineLimit {
                partial.append(contentsOf: bytes[start..<count])
            }
        }
        if !partial.isEmpty {
            if partial.count <= Self.listingLineLimit { take(partial[...]) } else { overlong += 1 }
        }
        let final = try transfer.finish()
        var result = parser.finish()
        result.unreadable += Array(repeating: "(a line of more than \(Self.listingLineLimit) bytes)", count: overlong)
        // A line or entry that cannot be shown costs itself, never the directory: one line says
        // what was left out.
        if let summary = result.summary(undecodableLines: undecodable) {
            logger.notice("listing of \(workingDirectoryForLog): \(summary); showing the other \(built.listing.count)")
        }
        for line in result.skipped {
            logger.debug("skipped listing line: \(ListingParseResult.quoted(line))")
        }
        let truncated = ListingCompletion.isTruncated(final)
        if truncated {
            let advice = machine ? "-o list=list may get more from this server"
                : features.supportsMLST ? "-o list=mlsd may get more from this server"
                : "only the server's administrator can raise its limit"
            logger.warning("""
                the server cut the listing of \(workingDirectoryForLog) short (\(final.lines.joined(separator: " / "))); \
                showing the \(built.listing.count) entries it sent; \(advice)
                """)
        }
        var listing = built.listing
        listing.isTruncated = truncated
        listing.skippedLines = result.skipped
        return listing
    }

    // MARK: - Transfers

    /// Starts a download of `path` from byte `offset` (REST when not 0).
    public func retrieve(_ path: String, from offset: UInt64 = 0) throws(FTPError) -> DataTransfer {
        try startTransfer(.retr(path), restartAt: offset)
    }

    /// Opens a data connection, sends `command` and waits for the server's go-ahead (1xx).
    /// The returned transfer owns the session until it is finished or aborted.
    public func startTransfer(_ command: Command, restartAt offset: UInt64 = 0) throws(FTPError) -> DataTransfer {
        if canPipelineTransfers, let transfer = try startPipelinedTransfer(command, restartAt: offset) {
            return transfer
        }
        if let directory = pendingDirectoryChange {
            pendingDirectoryChange = nil
            try changeDirectory(directory)
        }
        let pending = try prepareDataConnection()
        var data: (any ByteStream)?
        do throws(FTPError) {
            if case .connected(let socket) = pending { data = socket }
            if offset > 0 {
                try expect(.rest(offset), { $0 == .fileActionPending })
            }
            let reply = try execute(command)
            if reply.code.isPositiveCompletion {
                // Some servers answer an empty listing with 226 straight away, without a 1xx.
                pending.close()
                return DataTransfer(session: self, data: nil, command: command, completed: reply)
            }
            guard reply.code.isPositivePreliminary else {
                throw FTPError.reply(command: command.loggable, reply: reply)
            }
            let stream = try establish(pending)
            data = stream
            transferInProgress = true
            return DataTransfer(session: self, data: stream, command: command, completed: nil)
        } catch {
            data?.close()
            pending.close()
            throw error
        }
    }

    /// Whether a transfer's commands may go back to back: passive mode with EPSV, on a server
    /// proven to answer commands sent that way.
    var canPipelineTransfers: Bool {
        guard case .passive = configuration.dataConnectionMode, !configuration.disableEPSV else { return false }
        let known = capabilities.snapshot
        return known.pipelining == .works && known.epsvConfirmed && !known.epsvRefused
    }

    /// A CWD to send with the next transfer (a listing): set by `list`.
    private var pendingDirectoryChange: String?

    /// Starts a transfer with its commands sent back to back, [CWD,] EPSV, [REST,] and the
    /// command, then reads their replies in order, connecting the data connection once EPSV's
    /// arrives: one round trip where sending one at a time takes two to four. (A passive server
    /// waits for the data connection before it answers the command, so the command may arrive
    /// first.) Nil when the server refused EPSV: the caller starts again with PASV.
    private func startPipelinedTransfer(_ command: Command, restartAt offset: UInt64) throws(FTPError) -> DataTransfer? {
        var commands: [Command] = []
        let directoryChange = pendingDirectoryChange.map(Command.cwd)
        pendingDirectoryChange = nil
        if let directoryChange { commands.append(directoryChange) }
        commands.append(.epsv)
        if offset > 0 { commands.append(.rest(offset)) }
        commands.append(command)
        for each in commands { try send(each) }

        var failure: FTPError?
        if let directoryChange {
            let reply = try readReply()
            if !reply.code.isPositiveCompletion { failure = .reply(command: directoryChange.loggable, reply: reply) }
        }
        let epsvReply = try readReply()
        guard epsvReply.code == .enteringExtendedPassiveMode, let port = PassiveReply.parseEPSV(epsvReply.text) else {
            // Without a data connection the server answers the rest at once (425).
            for _ in commands.drop(while: { $0 != .epsv }).dropFirst() { _ = try readReply() }
            if epsvReply.code.isPermanentNegative && failure == nil {
                logger.info("server refused EPSV (\(epsvReply.lines.first ?? "")); using PASV from now on")
                capabilities.update { $0.epsvRefused = true }
                return nil
            }
            throw failure ?? .reply(command: "EPSV", reply: epsvReply)
        }
        let socket: Socket
        do {
            socket = try connectData(SocketAddress(host: control.socket.peer.host, port: port))
        } catch {
            // A server that refuses the command at once closes its listener too (a quota, a
            // name not allowed): its refusal is the error, and the session is back in step.
            let remaining = offset > 0 ? 2 : 1
            if let replies = try? withReplyTimeout(2, { () throws(FTPError) -> [Reply] in
                try (0..<remaining).map { (_) throws(FTPError) in try readReply() }
            }), let last = replies.last, last.code.isTransientNegative || last.code.isPermanentNegative {
                isUsable = true
                throw failure ?? .reply(command: command.loggable, reply: last)
            }
            throw error
        }
        do throws(FTPError) {
            if offset > 0 {
                let restReply = try readReply()
                guard restReply.code == .fileActionPending else {
                    _ = try readReply()  // the command's own answer
                    throw failure ?? .reply(command: "REST", reply: restReply)
                }
            }
            let reply = try readReply()
            if reply.code.isPositiveCompletion {
                // Some servers answer an empty listing with 226 straight away, without a 1xx.
                socket.close()
                if let failure { throw failure }
                return DataTransfer(session: self, data: nil, command: command, completed: reply)
            }
            guard reply.code.isPositivePreliminary else {
                throw failure ?? .reply(command: command.loggable, reply: reply)
            }
            let stream = try establish(.connected(socket))
            transferInProgress = true
            let transfer = DataTransfer(session: self, data: stream, command: command, completed: nil)
            if let failure {
                // The CWD failed, so this lists the wrong directory: read it to its end, so the
                // session stays in step, and report the CWD's refusal.
                _ = try? transfer.readToEnd(limit: Self.listingLimit)
                throw failure
            }
            return transfer
        } catch {
            socket.close()
            throw error
        }
    }

    enum PendingDataConnection {
        /// Passive: already connected to the server.
        case connected(Socket)
        /// Active: the server connects to us after its 1xx reply.
        case listening(ListeningSocket)

        func close() {
            switch self {
            case .connected(let socket): socket.close()
            case .listening(let listener): listener.close()
            }
        }
    }

    /// Active mode: listen, tell the server where with EPRT (RFC 2428), falling back to PORT for
    /// IPv4 when the server refuses EPRT.
    private func prepareActiveDataConnection(advertising address: String?) throws(FTPError) -> PendingDataConnection {
        let local = control.socket.local.host
        let listener = try ListeningSocket(host: local)
        let advertised = address ?? local
        do throws(FTPError) {
            if !capabilities.snapshot.eprtRefused {
                let reply = try execute(.eprt(PassiveReply.eprtArgument(host: advertised, port: listener.local.port)))
                if reply.code.isPositiveCompletion { return .listening(listener) }
                guard reply.code.isPermanentNegative else { throw FTPError.reply(command: "EPRT", reply: reply) }
                logger.info("server refused EPRT (\(reply.lines.first ?? "")); using PORT from now on")
                capabilities.update { $0.eprtRefused = true }
            }
            guard let argument = PassiveReply.portArgument(ipv4: advertised, port: listener.local.port) else {
                throw FTPError.protocolViolation("the server refused EPRT, and PORT cannot name \(advertised)")
            }
            try expect(.port(argument), { $0.isPositiveCompletion })
            return .listening(listener)
        } catch {
            listener.close()
            throw error
        }
    }

    /// Passive mode: EPSV (RFC 2428), falling back to PASV when the server refuses it.
    ///
    /// The data connection always goes to the control connection's peer address: a PASV reply
    /// often names a private or otherwise unroutable address (a server behind NAT), and connecting
    /// anywhere else than the server we logged in to would let a server bounce us to a third host.
    private func prepareDataConnection() throws(FTPError) -> PendingDataConnection {
        if case .active(let address) = configuration.dataConnectionMode {
            return try prepareActiveDataConnection(advertising: address)
        }
        let peer = control.socket.peer
        if !configuration.disableEPSV && !capabilities.snapshot.epsvRefused {
            let reply = try execute(.epsv)
            if reply.code == .enteringExtendedPassiveMode, let port = PassiveReply.parseEPSV(reply.text) {
                // Once EPSV is known to work, later transfers send it with their command.
                if !capabilities.snapshot.epsvConfirmed { capabilities.update { $0.epsvConfirmed = true } }
                return .connected(try connectData(SocketAddress(host: peer.host, port: port)))
            }
            if reply.code.isPermanentNegative {
                logger.info("server refused EPSV (\(reply.lines.first ?? "")); using PASV from now on")
                capabilities.update { $0.epsvRefused = true }
            } else {
                throw .reply(command: "EPSV", reply: reply)
            }
        }
        if peer.isIPv6 {
            throw .protocolViolation("the server refused EPSV, and PASV cannot work over IPv6")
        }
        let reply = try expect(.pasv, { $0 == .enteringPassiveMode })
        guard let (host, port) = PassiveReply.parsePASV(reply.text) else {
            throw .protocolViolation("cannot read PASV reply: \(reply.lines.first ?? "")")
        }
        if host != peer.host {
            logger.debug("PASV named \(host); connecting to the control connection's address \(peer.host) instead")
        }
        return .connected(try connectData(SocketAddress(host: peer.host, port: port)))
    }

    /// A data connection moves at least this much in every `timeout` seconds it is in use, or
    /// its transfer fails (a server trickling a byte at a time must not hold an operation open).
    static let minimumDataProgress = 64 * 1024

    private func connectData(_ address: SocketAddress) throws(FTPError) -> Socket {
        do {
            let socket = try Socket.connect(to: address, connectTimeout: configuration.connectTimeout,
                                            ioTimeout: configuration.timeout)
            socket.requireProgress(bytes: Self.minimumDataProgress, every: configuration.timeout)
            return socket
        } catch {
            // The server is now waiting for a data connection that will not come: resynchronise
            // by discarding this session rather than guessing which reply comes next.
            isUsable = false
            throw error
        }
    }

    private func establish(_ pending: PendingDataConnection) throws(FTPError) -> any ByteStream {
        switch pending {
        case .connected(let socket):
            return try secureDataConnection(socket)  // TLS when the session has it
        case .listening(let listener):
            defer { listener.close() }
            let socket: Socket
            do {
                socket = try listener.accept(timeout: configuration.connectTimeout, expectedHost: control.socket.peer.host,
                                             ioTimeout: configuration.timeout)
                socket.requireProgress(bytes: Self.minimumDataProgress, every: configuration.timeout)
            } catch {
                isUsable = false  // the server's reply for this transfer is still to come
                throw error
            }
            // In active mode too, ftpfs is the TLS client of the data connection.
            return try secureDataConnection(socket)
        }
    }

    /// Reads the next reply: the answer to a command just sent, or the one that ends a transfer.
    /// A connection-level failure marks the session unusable; a 421 at any time means the
    /// server is closing the session.
    func readReply() throws(FTPError) -> Reply {
        // A whole reply within the reply timeout, however slowly its bytes come.
        control.socket.receiveDeadline = MonotonicClock.now + replyTimeout
        defer { control.socket.receiveDeadline = nil }
        do throws(FTPError) {
            let reply = try control.readReply()
            if reply.code == .serviceNotAvailable {
                isUsable = false
                throw FTPError.serviceUnavailable(reply)
            }
            return reply
        } catch {
            // Anything but a reply (a drop, a timeout, an interrupted wait) leaves the reply
            // stream where nobody knows: never used again.
            if !error.isServerAnswer { isUsable = false }
            throw error
        }
    }

    /// Temporarily shortens the reply timeout (draining an aborted transfer).
    func withReplyTimeout<T>(_ seconds: Double, _ body: () throws(FTPError) -> T) throws(FTPError) -> T {
        let previous = replyTimeout
        replyTimeout = min(seconds, replyTimeout)
        control.socket.setTimeout(replyTimeout)
        defer {
            replyTimeout = previous
            control.socket.setTimeout(previous)
        }
        return try body()
    }
}

/// What the client has learned about a server: shared by every session of a pool, so one
/// refusal (EPSV, MLSD, `LIST -a`) is not repeated on every new connection.
public final class ServerCapabilities: Sendable {
    public struct State: Sendable {
        public var epsvRefused = false
        public var mlsdRefused = false
        public var listDashARefused = false
        public var mfmtRefused = false
        /// vsftpd's `MDTM time path`.
        public var mdtmSetRefused = false
        public var siteUtimeRefused = false
        public var siteChmodRefused = false
        public var siteSymlinkRefused = false
        /// ProFTPD's `SITE CPFR`/`SITE CPTO`.
        public var siteCopyRefused = false
        public var hashRefused = false
        public var eprtRefused = false
        /// RNFR/RNTO answered as unimplemented.
        public var renameUnsupported = false
        /// Whether the server answers commands sent back to back (see `FTPSession.pipelined`).
        public var pipelining = Pipelining.unknown
        /// EPSV worked once: transfers may send it with their command (a server without it
        /// might leave the command that follows it unanswered).
        public var epsvConfirmed = false
    }

    /// Set while the first session probes pipelining (`FTPSession.negotiate`), so that a probe
    /// that found it broken gets one more login, sending one command at a time.
    public var pipeliningWasKnown: Bool {
        get { probed.withLock { $0 } }
        set { probed.withLock { $0 = newValue } }
    }
    private let probed = Mutex(true)

    public enum Pipelining: Sendable {
        case unknown, works, broken
    }

    private let state = Mutex(State())
    /// The server's addresses, looked up once for every session (with a deadline).
    public let resolver = HostResolver()

    public init() {}

    public var snapshot: State { state.withLock { $0 } }

    public func update(_ change: (inout State) -> Void) {
        state.withLock { change(&$0) }
    }
}

extension FTPTimestamp {
    /// The current wall-clock time.
    public static func now() -> FTPTimestamp {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return FTPTimestamp(seconds: Int64(time.tv_sec), nanoseconds: Int32(time.tv_nsec))
    }
}

extension String {
    func trimmingASCIISpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}

/// The listing a transfer builds, shared with the parser's sink (one thread: the transfer's).
private final class ListingBox: @unchecked Sendable {
    var listing = DirectoryListing()
}
