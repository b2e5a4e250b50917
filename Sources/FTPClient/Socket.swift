#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CLinux
import ThreadSupport
import Synchronization

/// A byte stream the control and data connections run over: a plain TCP socket, or TLS on top
/// of one. Blocking calls, bounded by the stream's timeout.
public protocol ByteStream: AnyObject {
    /// Reads up to `buffer.count` bytes; 0 means the peer closed its side.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FTPError) -> Int
    /// Writes every byte or throws.
    func write(_ bytes: UnsafeRawBufferPointer) throws(FTPError)
    /// Closes the stream. Safe to call more than once.
    func close()
    /// Wakes a read or write blocked in another thread (it then fails); used to abort transfers.
    func shutdown()
}

extension ByteStream {
    public func write(_ bytes: [UInt8]) throws(FTPError) {
        let outcome: Result<Void, FTPError> = bytes.withUnsafeBytes { raw in
            Result { () throws(FTPError) in try write(raw) }
        }
        try outcome.get()
    }
}

/// A numeric socket address: what `getnameinfo(NI_NUMERICHOST)` prints, and the port.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public var isIPv6: Bool { host.contains(":") }

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    init?(_ storage: UnsafePointer<sockaddr>, length: socklen_t) {
        var hostBuffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var portBuffer = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let status = getnameinfo(storage, length, &hostBuffer, socklen_t(hostBuffer.count),
                                 &portBuffer, socklen_t(portBuffer.count), NI_NUMERICHOST | NI_NUMERICSERV)
        guard status == 0 else { return nil }
        host = String(decoding: hostBuffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        port = UInt16(String(decoding: portBuffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)) ?? 0
    }
}

/// A blocking TCP socket whose reads and writes give up after `timeout` seconds.
///
/// Timeouts use SO_RCVTIMEO/SO_SNDTIMEO rather than poll before each call: one system call per
/// read on the data path, which matters at a gigabyte per second.
public final class Socket: ByteStream, @unchecked Sendable {
    public let descriptor: Int32
    public let peer: SocketAddress
    public let local: SocketAddress
    /// Set once the descriptor is closed. `shutdown` and `close` take it as a lock: another
    /// thread's `shutdown` (cancelling a transfer) must never reach a descriptor number that was
    /// closed and reused meanwhile.
    private let closed = Mutex<Bool>(false)

    private init(descriptor: Int32, peer: SocketAddress, local: SocketAddress) {
        self.descriptor = descriptor
        self.peer = peer
        self.local = local
    }

    /// Takes over a connected descriptor (an accepted active-mode data connection).
    convenience init(adopting fd: Int32, ioTimeout: Double) {
        Self.setTimeouts(fd, seconds: ioTimeout)
        self.init(descriptor: fd, peer: Self.address(of: fd, peer: true), local: Self.address(of: fd, peer: false))
    }

    static func address(of fd: Int32, peer: Bool) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let address = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                (peer ? getpeername(fd, raw, &length) : getsockname(fd, raw, &length)) == 0
                    ? SocketAddress(raw, length: length) : nil
            }
        }
        return address ?? SocketAddress(host: "?", port: 0)
    }

    deinit { close() }

    /// Resolves `host` (IPv4 or IPv6, through `resolver`, within `connectTimeout`) and connects
    /// to the first address that answers within `connectTimeout`. Reads and writes then time out
    /// after `ioTimeout`.
    public static func connect(host: String, port: UInt16, connectTimeout: Double, ioTimeout: Double,
                               resolver: HostResolver = HostResolver(lifetime: 0)) throws(FTPError) -> Socket
    {
        let addresses = try resolver.addresses(of: host, port: port, timeout: connectTimeout)
        var lastError: FTPError = .hostNotFound(host: host, reason: "no usable address")
        for address in addresses {
            do {
                return try connect(to: address, connectTimeout: connectTimeout, ioTimeout: ioTimeout)
            } catch {
                lastError = error
            }
        }
        resolver.forget()  // none answered: the name may point elsewhere by now
        throw lastError
    }

    /// Connects to a numeric address (the data connection of passive mode).
    public static func connect(to address: SocketAddress, connectTimeout: Double,
                               ioTimeout: Double) throws(FTPError) -> Socket
    {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address.host, String(address.port), &hints, &list) == 0, let info = list else {
            throw .invalidArgument("not a numeric address: \(address)")
        }
        defer { freeaddrinfo(list) }
        return try connect(address: info.pointee.ai_addr, length: info.pointee.ai_addrlen,
                           family: info.pointee.ai_family, connectTimeout: connectTimeout, ioTimeout: ioTimeout)
    }

    private static func connect(address: UnsafePointer<sockaddr>, length: socklen_t, family: Int32,
                                connectTimeout: Double, ioTimeout: Double) throws(FTPError) -> Socket
    {
        let target = SocketAddress(address, length: length)?.description ?? "?"
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .io(errno: errno, context: "socket") }
        var keep = false
        defer { if !keep { Glibc.close(fd) } }

        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        if Glibc.connect(fd, address, length) != 0 {
            let code = errno
            guard code == EINPROGRESS else { throw connectError(code, target: target) }
            var pollDescriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let deadline = Deadline(after: connectTimeout)
            while true {
                let ready = poll(&pollDescriptor, 1, deadline.remainingMilliseconds)
                if ready > 0 { break }
                if ready == 0 { throw .timedOut("connecting to \(target) after \(connectTimeout) s") }
                if errno != EINTR { throw .io(errno: errno, context: "connecting to \(target)") }
            }
            var socketError: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &size)
            if socketError != 0 { throw connectError(socketError, target: target) }
        }
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        setTimeouts(fd, seconds: ioTimeout)

        var peerStorage = sockaddr_storage()
        var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        var localStorage = sockaddr_storage()
        var localLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let peer = withUnsafeMutablePointer(to: &peerStorage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                getpeername(fd, address, &peerLength) == 0 ? SocketAddress(address, length: peerLength) : nil
            }
        }
        let local = withUnsafeMutablePointer(to: &localStorage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                getsockname(fd, address, &localLength) == 0 ? SocketAddress(address, length: localLength) : nil
            }
        }
        keep = true
        return Socket(descriptor: fd, peer: peer ?? SocketAddress(host: "?", port: 0),
                      local: local ?? SocketAddress(host: "?", port: 0))
    }

    private static func connectError(_ code: Int32, target: String) -> FTPError {
        switch code {
        case ECONNREFUSED: .connectionRefused(address: target)
        case ETIMEDOUT: .timedOut("connecting to \(target)")
        default: .io(errno: code, context: "connecting to \(target)")
        }
    }

    static func setTimeouts(_ fd: Int32, seconds: Double) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Changes the read/write timeout (a short one while draining an aborted transfer).
    public func setTimeout(_ seconds: Double) {
        Self.setTimeouts(descriptor, seconds: seconds)
    }

    /// Disables Nagle's algorithm: commands are small and each waits for its reply, so delaying
    /// them for coalescing only adds latency.
    public func setNoDelay() {
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    // MARK: - Bounds on time

    /// Whether the request this thread serves was interrupted (`-o intr`: libfuse signals the
    /// thread, and a blocked call returns EINTR). Set once, before serving; nil: EINTR is only
    /// retried.
    nonisolated(unsafe) public static var requestInterrupted: (@Sendable () -> Bool)?

    /// EINTR from a call: retried, unless the request it serves was interrupted.
    private func retryAfterSignal() throws(FTPError) {
        if Self.requestInterrupted?() == true {
            throw .io(errno: EINTR, context: "waiting on \(peer): the request was interrupted")
        }
    }

    /// A deadline (monotonic seconds) for reads, as a whole: a reply must be complete by then,
    /// however its bytes trickle in (SO_RCVTIMEO alone restarts with every byte). Set by the
    /// owner around one reply.
    public var receiveDeadline: Double? {
        didSet {
            if receiveDeadline == nil, let shortened = shortenedTimeout {
                shortenedTimeout = nil
                setTimeout(shortened.configured)
            }
        }
    }
    private var shortenedTimeout: (configured: Double, current: Double)?

    /// For data connections: at least `bytes` must move in every `window` seconds spent
    /// waiting inside reads and writes, else the transfer fails: a server that trickles a byte
    /// at a time holds nothing up for much longer than `window`. Only time inside the calls
    /// counts: a program that writes slowly, or a reader that pauses, is not the server's
    /// slowness.
    public func requireProgress(bytes: Int, every window: Double) {
        progressRule = (bytes, window)
        waited = 0
        windowBytes = 0
    }
    private var progressRule: (bytes: Int, window: Double)?
    private var waited: Double = 0
    private var windowBytes = 0
    private var callStart: Double = 0

    /// Before a read or write: the deadline's remaining time becomes the receive timeout once
    /// it is shorter than the configured one (by more than a moment: no system call on the fast
    /// path).
    private func beforeCall() throws(FTPError) {
        let now = MonotonicClock.now
        callStart = now
        if let deadline = receiveDeadline {
            let remaining = deadline - now
            if remaining <= 0 { throw .timedOut("waiting for a reply from \(peer) (it came too slowly)") }
            let configured = shortenedTimeout?.configured ?? configuredTimeout
            if remaining < configured - 0.5, remaining < (shortenedTimeout?.current ?? .infinity) - 0.5 {
                Self.setTimeouts(descriptor, seconds: remaining)
                shortenedTimeout = (configured, remaining)
            }
        }
    }

    /// After a read or write that moved `count` bytes.
    private func afterCall(moved count: Int) throws(FTPError) {
        guard let rule = progressRule else { return }
        waited += MonotonicClock.now - callStart
        windowBytes += count
        if waited >= rule.window {
            if windowBytes < rule.bytes {
                throw .timedOut("on \(peer): \(windowBytes) bytes in \(Int(waited)) s, too slow to wait for")
            }
            waited = 0
            windowBytes = 0
        }
    }

    /// The read/write timeout as configured (SO_RCVTIMEO), for restoring after a deadline.
    private var configuredTimeout: Double {
        Double(receiveTimeoutMilliseconds()) / 1000
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FTPError) -> Int {
        try beforeCall()
        while true {
            let count = recv(descriptor, buffer.baseAddress, buffer.count, 0)
            if count >= 0 {
                try afterCall(moved: count)
                return count
            }
            switch errno {
            case EINTR:
                try retryAfterSignal()
                continue
            case EAGAIN, EWOULDBLOCK: throw .timedOut("waiting for data from \(peer)")
            case ECONNRESET: throw .connectionClosed("(connection reset by \(peer))")
            case let code: throw .io(errno: code, context: "reading from \(peer)")
            }
        }
    }

    /// Moves up to `count` received bytes into a pipe without copying them through user space.
    /// Returns 0 at the end of the stream, or nil when the pipe takes no more (the caller
    /// empties it and carries on with `read`).
    public func splice(into pipe: Int32, count: Int) throws(FTPError) -> Int? {
        try beforeCall()
        var dataRefused = false
        while true {
            let moved = clinux_splice_socket_to_pipe(descriptor, pipe, count)
            if moved > 0 {
                try afterCall(moved: moved)
                return moved
            }
            if moved < 0 {
                switch errno {
                case EINTR:
                    try retryAfterSignal()
                    continue
                case EAGAIN, EWOULDBLOCK: break
                case ECONNRESET: throw .connectionClosed("(connection reset by \(peer))")
                case let code: throw .io(errno: code, context: "reading from \(peer)")
                }
            }
            // Neither 0 nor EAGAIN says for sure why nothing moved: TCP's splice returns 0 with
            // data queued, and EAGAIN both for a full pipe and (on some kernels, which apply
            // SPLICE_F_NONBLOCK to the socket too) for a socket with nothing yet. recv knows.
            var byte: UInt8 = 0
            let peeked = recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            if peeked == 0 { return 0 }  // the end of the stream
            if peeked > 0 {
                // Data the splice did not take: try once more, then leave it to `read`.
                if dataRefused { return nil }
                dataRefused = true
                continue
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                // Nothing yet: wait as long as recv would.
                var pollDescriptor = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                let ready = poll(&pollDescriptor, 1, receiveTimeoutMilliseconds())
                if ready == 0 { throw .timedOut("waiting for data from \(peer)") }
                if ready < 0, errno == EINTR { try retryAfterSignal() }
                if ready < 0, errno != EINTR { throw .io(errno: errno, context: "waiting for data from \(peer)") }
            case ECONNRESET: throw .connectionClosed("(connection reset by \(peer))")
            case let code: throw .io(errno: code, context: "reading from \(peer)")
            }
        }
    }

    /// SO_RCVTIMEO in milliseconds, -1 (no limit) when unset.
    private func receiveTimeoutMilliseconds() -> Int32 {
        var value = timeval()
        var length = socklen_t(MemoryLayout<timeval>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &value, &length) == 0 else { return -1 }
        let milliseconds = value.tv_sec * 1000 + value.tv_usec / 1000
        return milliseconds == 0 ? -1 : Int32(clamping: milliseconds)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(FTPError) {
        try beforeCall()
        var offset = 0
        while offset < bytes.count {
            let count = send(descriptor, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if count >= 0 {
                offset += count
                try afterCall(moved: count)
                continue
            }
            switch errno {
            case EINTR:
                try retryAfterSignal()
                continue
            case EAGAIN, EWOULDBLOCK: throw .timedOut("sending to \(peer)")
            case EPIPE, ECONNRESET: throw .connectionClosed("(while sending to \(peer))")
            case let code: throw .io(errno: code, context: "writing to \(peer)")
            }
        }
    }

    public func shutdown() {
        closed.withLock { isClosed in
            if !isClosed { _ = Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }
        }
    }

    /// Half-closes the sending side: how an upload tells the server the file is complete.
    public func shutdownWrite() {
        _ = Glibc.shutdown(descriptor, Int32(SHUT_WR))
    }

    public func close() {
        closed.withLock { isClosed in
            if !isClosed {
                isClosed = true
                Glibc.close(descriptor)
            }
        }
    }

    /// Closes with a reset instead of a FIN (SO_LINGER 0): the peer sees the transfer broken
    /// off, not a complete file. How an abandoned upload ends.
    public func closeAbortively() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        closed.withLock { isClosed in
            if !isClosed {
                _ = setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                isClosed = true
                Glibc.close(descriptor)
            }
        }
    }
}

/// A monotonic deadline for loops that wait in several steps.
struct Deadline {
    let end: timespec

    init(after seconds: Double) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let nanos = Int(now.tv_nsec) + Int((seconds - Double(Int(seconds))) * 1e9)
        end = timespec(tv_sec: now.tv_sec + Int(seconds) + nanos / 1_000_000_000, tv_nsec: nanos % 1_000_000_000)
    }

    var remainingMilliseconds: Int32 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let ms = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1_000_000
        return Int32(clamping: max(0, ms))
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeMutableBytes` that keeps a typed error (the standard one only rethrows `any Error`).
    mutating func withUnsafeMutableBytesTyped<Result, Failure: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let outcome: Swift.Result<Result, Failure> = withUnsafeMutableBytes { raw in
            Swift.Result { () throws(Failure) in try body(raw) }
        }
        return try outcome.get()
    }
}

/// A listening TCP socket for active-mode data connections (the server connects to us).
public final class ListeningSocket: @unchecked Sendable {
    public let descriptor: Int32
    public let local: SocketAddress
    private let closed = Atomic<Bool>(false)

    /// Listens on `host` (numeric, IPv4 or IPv6) at a port the kernel picks.
    public init(host: String) throws(FTPError) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, "0", &hints, &list) == 0, let info = list else {
            throw .invalidArgument("cannot listen on '\(host)' for active mode")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .io(errno: errno, context: "socket for active mode") }
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, 1) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw .io(errno: code, context: "listening on \(host) for active mode")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let address = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                getsockname(fd, raw, &length) == 0 ? SocketAddress(raw, length: length) : nil
            }
        }
        descriptor = fd
        local = address ?? SocketAddress(host: host, port: 0)
    }

    deinit { close() }

    /// Waits up to `timeout` seconds for the server's connection, which must come from
    /// `expectedHost` (anyone else could inject data). Reads and writes on it then time out after
    /// `ioTimeout`.
    public func accept(timeout: Double, expectedHost: String, ioTimeout: Double) throws(FTPError) -> Socket {
        let deadline = Deadline(after: timeout)
        while true {
            var pollDescriptor = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pollDescriptor, 1, deadline.remainingMilliseconds)
            if ready == 0 { throw .timedOut("waiting for the server's active-mode data connection") }
            if ready < 0 {
                if errno == EINTR { continue }
                throw .io(errno: errno, context: "waiting for the active-mode data connection")
            }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                    Glibc.accept(descriptor, raw, &length)
                }
            }
            guard fd >= 0 else {
                if errno == EINTR || errno == ECONNABORTED { continue }
                throw .io(errno: errno, context: "accepting the active-mode data connection")
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let socket = Socket(adopting: fd, ioTimeout: ioTimeout)
            if socket.peer.host != expectedHost {
                socket.close()
                continue  // not the server: ignore it and keep waiting
            }
            return socket
        }
    }

    public func close() {
        if closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
            Glibc.close(descriptor)
        }
    }
}
