import ThreadSupport

#if canImport(Glibc)
import Glibc
#endif

/// Resolves the server's name with a deadline, and remembers the answer, so that a DNS server
/// that does not answer cannot hold a mount (getaddrinfo has no timeout of its own), and a pool
/// that reconnects all day asks DNS once every `lifetime` seconds, not at every connection.
/// A connection that fails on every remembered address asks again (`forget`).
public final class HostResolver: @unchecked Sendable {
    private let lock = ConditionLock()
    private var cached: (addresses: [SocketAddress], at: Double)?
    public let lifetime: Double
    /// How a name is looked up (getaddrinfo; tests give a slow or counting one).
    private let lookUpFunction: @Sendable (String, UInt16) throws(FTPError) -> [SocketAddress]

    public init(lifetime: Double = 300,
                lookUp: @escaping @Sendable (String, UInt16) throws(FTPError) -> [SocketAddress] = HostResolver.blockingLookUp)
    {
        self.lifetime = lifetime
        self.lookUpFunction = lookUp
    }

    /// The addresses of `host`, numeric, in getaddrinfo's order: remembered ones while they are
    /// young, else a fresh lookup that must answer within `timeout` seconds.
    public func addresses(of host: String, port: UInt16, timeout: Double) throws(FTPError) -> [SocketAddress] {
        if let cached = lock.withLock({ cached }), MonotonicClock.now - cached.at < lifetime {
            return cached.addresses
        }
        let addresses = try Self.lookUp(host, port: port, timeout: timeout, using: lookUpFunction)
        lock.withLock { cached = (addresses, MonotonicClock.now) }
        return addresses
    }

    /// Drops the remembered addresses (none of them answered).
    public func forget() {
        lock.withLock { cached = nil }
    }

    /// getaddrinfo on a thread of its own, waited for at most `timeout` seconds (a lookup that
    /// outlives that finishes unheard).
    static func lookUp(_ host: String, port: UInt16, timeout: Double,
                       using blockingLookUp: @escaping @Sendable (String, UInt16) throws(FTPError) -> [SocketAddress])
        throws(FTPError) -> [SocketAddress]
    {
        final class Outcome: @unchecked Sendable {
            let lock = ConditionLock()
            var result: Result<[SocketAddress], FTPError>?
        }
        let outcome = Outcome()
        let started = DetachedThread.start {
            let result = Result { () throws(FTPError) in try blockingLookUp(host, port) }
            outcome.lock.withLock {
                outcome.result = result
                outcome.lock.broadcast()
            }
        }
        if started != 0 { return try blockingLookUp(host, port) }
        let deadline = MonotonicClock.now + timeout
        let result = outcome.lock.withLock { () -> Result<[SocketAddress], FTPError>? in
            while outcome.result == nil {
                let left = deadline - MonotonicClock.now
                if left <= 0 { break }
                outcome.lock.wait(seconds: left)
            }
            return outcome.result
        }
        guard let result else { throw .timedOut("resolving '\(host)' (the DNS server did not answer)") }
        return try result.get()
    }

    @Sendable
    public static func blockingLookUp(_ host: String, port: UInt16) throws(FTPError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        var status = getaddrinfo(host, String(port), &hints, &list)
        if status == EAI_NONAME || status == -9 /* EAI_ADDRFAMILY, a glibc extension */ {
            // AI_ADDRCONFIG hides ::1 on hosts with only loopback IPv6; ask again without it.
            hints.ai_flags = AI_NUMERICSERV
            status = getaddrinfo(host, String(port), &hints, &list)
        }
        guard status == 0, let first = list else {
            let reason = status == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(status))
            throw .hostNotFound(host: host, reason: reason)
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            if let address = SocketAddress(info.pointee.ai_addr, length: info.pointee.ai_addrlen) {
                addresses.append(address)
            }
        }
        guard !addresses.isEmpty else { throw .hostNotFound(host: host, reason: "no usable address") }
        return addresses
    }
}
