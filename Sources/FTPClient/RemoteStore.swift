import FTPProtocol
import ThreadSupport

/// Everything a file system needs from a server, in the terms of files rather than of FTP
/// sessions: the seam between FTPFileSystem and the wire, in the spirit of rclone's VFS/backend
/// split. `PooledRemoteStore` implements it over a `ConnectionPool`; tests implement it with a
/// scripted in-memory store that can fail any step on cue.
///
/// Errors are `FTPError`s and callers look only at their `meaning`. Paths are absolute server
/// paths. Queries (`list`, `stat`, `size`, …) are retried on a new connection when one is lost,
/// until the store's deadline; changes (`delete`, `rename`, `makeDirectory`, …) are sent once:
/// after a lost connection the caller must look whether the change happened.
public protocol RemoteStore: AnyObject, Sendable {
    /// What the server can do, as learned at login and from its refusals since.
    var abilities: RemoteAbilities { get }
    /// Seconds an operation may wait for the server.
    var timeout: Double { get }

    // MARK: Queries (retried after a lost connection)

    /// The entries of a directory. `.listingRefused` when it can be entered but not listed.
    func list(_ directory: String) throws(FTPError) -> DirectoryListing
    /// The facts of one path (MLST); only when `abilities.canStatOnePath`.
    func stat(_ path: String) throws(FTPError) -> ListingEntry
    /// SIZE in bytes.
    func size(of path: String) throws(FTPError) -> UInt64
    /// MDTM.
    func modificationTime(of path: String) throws(FTPError) -> FTPTimestamp
    /// SIZE and MDTM, sent back to back (one round trip); the time is nil where MDTM fails.
    func sizeAndModificationTime(of path: String) throws(FTPError) -> (UInt64, FTPTimestamp?)
    /// The server's digest of a file with `algorithm` (lower-case hex).
    func digest(of path: String, algorithm: HashAlgorithm) throws(FTPError) -> String
    /// Enters a directory (CWD): throws the server's refusal when it cannot be entered.
    func enterDirectory(_ path: String) throws(FTPError)

    // MARK: Changes (sent once)

    func delete(_ path: String) throws(FTPError)
    /// RNFR and RNTO, sent back to back where the server copes with that.
    func rename(_ source: String, to destination: String) throws(FTPError)
    func makeDirectory(_ path: String) throws(FTPError)
    func removeDirectory(_ path: String) throws(FTPError)
    func setModificationTime(_ time: FTPTimestamp, of path: String) throws(FTPError)
    func changeMode(_ mode: UInt32, of path: String) throws(FTPError)
    func symlink(target: String, at path: String) throws(FTPError)
    /// A copy made by the server itself (SITE CPFR/CPTO).
    func serverCopy(from source: String, to destination: String) throws(FTPError)

    // MARK: Transfers (each holds a connection until it ends)

    /// Starts a download of `path` from byte `offset`.
    func download(_ path: String, from offset: UInt64, deadline: Double) throws(FTPError) -> any RemoteDownload
    /// Starts an upload that replaces `path`, or appends to it.
    func upload(_ path: String, appending: Bool, deadline: Double) throws(FTPError) -> any RemoteUpload

    // MARK: Running the store

    /// A connection for listing ahead of a walk, borrowed only if one is free right now: nil
    /// when none is, or an operation is waiting for one. Give it back soon.
    func idleLister() -> (any RemoteLister)?
    /// Whether an operation is waiting for a connection.
    var hasWaiters: Bool { get }
    /// At most this many operations run at once.
    var maxConcurrentOperations: Int { get }
    /// Whether listing several directories at once on spare connections is safe (not in active
    /// mode, where every listing has the server connect back to us).
    var listsAheadSafely: Bool { get }
    /// Called when every connection is busy: may free one (an idle read stream, a suspended
    /// upload) and returns whether it did.
    func setStarvationHandler(_ handler: @escaping @Sendable () -> Bool)
    /// Starts background upkeep (idle connections); call after daemonizing.
    func startMaintenance()
    /// Ends every connection; later operations fail.
    func shutdown()
    /// Connections busy and idle, and the most allowed now, for the status line.
    var connectionCounts: (open: Int, idle: Int, cap: Int) { get }
}

extension RemoteStore {
    /// The deadline of an operation starting now.
    public func deadline() -> Double { MonotonicClock.now + timeout }
}

/// What a server can do.
public struct RemoteAbilities: Sendable, Equatable {
    /// MLST: one path's facts in one round trip.
    public var canStatOnePath: Bool
    /// A way to have the server hash a file (HASH, XSHA256, …), with its algorithm.
    public var hashAlgorithm: HashAlgorithm?
    /// SIZE and MDTM.
    public var canReportSize: Bool
    public var canReportTime: Bool
    /// SITE CPFR/CPTO has not been refused.
    public var mayCopyOnServer: Bool
    /// RNFR/RNTO have not been refused as unimplemented.
    public var mayRename: Bool

    public init(canStatOnePath: Bool = false, hashAlgorithm: HashAlgorithm? = nil, canReportSize: Bool = true,
                canReportTime: Bool = true, mayCopyOnServer: Bool = true, mayRename: Bool = true)
    {
        self.canStatOnePath = canStatOnePath
        self.hashAlgorithm = hashAlgorithm
        self.canReportSize = canReportSize
        self.canReportTime = canReportTime
        self.mayCopyOnServer = mayCopyOnServer
        self.mayRename = mayRename
    }
}

/// A transfer in progress. It holds a connection until it ends (by its last read, `finish` or
/// `abort`), and is used by one thread at a time, except for `interrupt`.
public protocol RemoteTransfer: AnyObject {
    /// The transfer ended: its outcome is known and its connection given back.
    var isFinished: Bool { get }
    /// Ends the transfer early (ABOR) and gives its connection back, or drops the connection
    /// when the server does not get back in step.
    func abort()
    /// From any thread: breaks the connections off now, so that a read, write or wait blocked
    /// on them returns with an error at once (cancelling an upload to a stalled server). The
    /// owner still calls `abort`.
    func interrupt()
}

/// A borrowed connection that lists directories (listing ahead of a directory walk).
public protocol RemoteLister: AnyObject {
    func list(_ directory: String) throws(FTPError) -> DirectoryListing
    /// Returns the connection; the lister is not used again.
    func giveBack()
}

public protocol RemoteDownload: RemoteTransfer {
    /// Reads the next bytes; 0 once the server closed the data connection and confirmed the
    /// transfer (the connection is then given back); throws when it reports a failure.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FTPError) -> Int
    /// Whether `splice` can move the bytes (a plain TCP data connection).
    var canSplice: Bool { get }
    /// Moves up to `count` bytes into a pipe without copying them through user space: 0 at the
    /// confirmed end (as `read`), nil when the pipe is full.
    func splice(into pipe: Int32, count: Int) throws(FTPError) -> Int?
}

public protocol RemoteUpload: RemoteTransfer {
    /// Sends all of `bytes`, or throws.
    func write(_ bytes: UnsafeRawBufferPointer) throws(FTPError)
    /// Ends the file: closes the data connection and reads the server's verdict. The connection
    /// is given back whatever the verdict.
    func finish() throws(FTPError)
}
