import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Small blocking socket helpers for loopback addresses (127.0.0.1, ::1).
enum Loopback {
    /// A port that was free a moment ago (bind to port 0, read it, close).
    /// Racy by nature: callers retry when the server then fails to bind.
    static func freePort(host: String) throws -> Int {
        try withSocket(host: host, port: 0) { fd, address, length in
            var reuse: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
            guard bind(fd, address, length) == 0 else {
                throw TestSupportError("cannot bind to \(host): \(String(cString: strerror(errno)))")
            }
            var storage = sockaddr_storage()
            var size = socklen_t(MemoryLayout<sockaddr_storage>.size)
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &size) }
            }
            let family = Int32(storage.ss_family)
            let port = withUnsafePointer(to: &storage) { pointer -> UInt16 in
                if family == AF_INET6 {
                    return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port }
                }
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
            }
            return Int(UInt16(bigEndian: port))
        }
    }

    /// Connects, reads the server's greeting (up to the final "220 " line),
    /// sends QUIT and reads until the server closes, so the probe no longer
    /// counts against a per-IP connection limit when this returns.
    /// Throws when the port refuses or the greeting does not arrive in time.
    static func readGreeting(host: String, port: Int, timeout: Duration) throws -> String {
        let deadline = ContinuousClock.now + timeout
        return try withSocket(host: host, port: port) { fd, address, length in
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            if connect(fd, address, length) != 0 {
                guard errno == EINPROGRESS else {
                    throw TestSupportError("connect to \(host) port \(port): \(String(cString: strerror(errno)))")
                }
                try waitFor(fd, events: Int16(POLLOUT), until: deadline, what: "connect")
                var error: Int32 = 0
                var size = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size)
                guard error == 0 else {
                    throw TestSupportError("connect to \(host) port \(port): \(String(cString: strerror(error)))")
                }
            }
            var received: [UInt8] = []
            var greeting: String?
            var buffer = [UInt8](repeating: 0, count: 4096)
            while greeting == nil {
                try waitFor(fd, events: Int16(POLLIN), until: deadline, what: "greeting")
                let count = read(fd, &buffer, buffer.count)
                if count < 0 && (errno == EAGAIN || errno == EINTR) { continue }
                guard count > 0 else {
                    let text = String(decoding: received, as: UTF8.self)
                    throw TestSupportError("server closed the connection before its greeting (got: \(text.debugDescription))")
                }
                received += buffer[0..<count]
                let text = String(decoding: received, as: UTF8.self)
                for line in text.split(separator: "\r\n", omittingEmptySubsequences: false).dropLast()
                where line.count >= 4 && line.dropFirst(3).first == " " {
                    guard line.hasPrefix("220") else {
                        throw TestSupportError("server greeted with \(text.debugDescription)")
                    }
                    greeting = text.trimmingTrailingWhitespace()
                }
            }
            _ = "QUIT\r\n".withCString { write(fd, $0, 6) }
            // Wait (briefly) for the server to hang up.
            let quitDeadline = min(deadline, ContinuousClock.now + .seconds(3))
            while (try? waitFor(fd, events: Int16(POLLIN), until: quitDeadline, what: "QUIT")) != nil {
                let count = read(fd, &buffer, buffer.count)
                if count < 0 && (errno == EAGAIN || errno == EINTR) { continue }
                if count <= 0 { break }
            }
            return greeting!
        }
    }

    private static func waitFor(_ fd: Int32, events: Int16, until deadline: ContinuousClock.Instant, what: String) throws {
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw TestSupportError("timed out waiting for \(what)") }
            var pollfd = Glibc.pollfd(fd: fd, events: events, revents: 0)
            let milliseconds = Int32(min(remaining.seconds * 1000 + 1, 1000))
            let result = poll(&pollfd, 1, milliseconds)
            if result > 0 { return }
            if result < 0 && errno != EINTR {
                throw TestSupportError("poll: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Opens a TCP socket for `host` and passes it with the address to `body`.
    private static func withSocket<T>(
        host: String, port: Int,
        _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) throws -> T
    ) throws -> T {
        if host.contains(":") {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(port).bigEndian
            guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else {
                throw TestSupportError("not an IPv6 address: \(host)")
            }
            return try open(AF_INET6) { fd in
                try withUnsafePointer(to: &address) {
                    try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        try body(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                    }
                }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
                throw TestSupportError("not an IPv4 address: \(host)")
            }
            return try open(AF_INET) { fd in
                try withUnsafePointer(to: &address) {
                    try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        try body(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
        }
    }

    private static func open<T>(_ family: Int32, _ body: (Int32) throws -> T) throws -> T {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        return try body(fd)
    }
}
