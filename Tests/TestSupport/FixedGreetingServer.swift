import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Something listening on a loopback port that is not an FTP server, for the failures a user
/// meets when a URL points at the wrong thing: it greets every connection with a fixed text
/// (an HTTP server's answer, say), closes each connection at once, or says nothing at all.
///
///     let server = try FixedGreetingServer(.text("HTTP/1.1 400 Bad Request\r\n\r\n"))
///     defer { server.stop() }
///     … "ftp://127.0.0.1:\(server.port)/" …
public final class FixedGreetingServer: @unchecked Sendable {
    public enum Behaviour: Sendable {
        /// Sends this text and keeps the connection open.
        case text(String)
        /// Accepts and closes at once.
        case closeAtOnce
        /// Accepts and never says anything.
        case silent
    }

    public let port: UInt16
    private let listener: Int32
    private let behaviour: Behaviour
    private let lock = NSLock()
    private var connections: [Int32] = []
    private var stopped = false

    public init(_ behaviour: Behaviour) throws {
        self.behaviour = behaviour
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestSupportError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(descriptor, raw, length) == 0 && listen(descriptor, 16) == 0
                    && getsockname(descriptor, raw, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw TestSupportError("cannot listen on 127.0.0.1: \(String(cString: strerror(errno)))")
        }
        listener = descriptor
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    /// Closes the listener and every connection.
    public func stop() {
        let open = lock.withLock { () -> [Int32]? in
            guard !stopped else { return nil }
            stopped = true
            defer { connections = [] }
            return connections
        }
        guard let open else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for connection in open { close(connection) }
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            switch behaviour {
            case .closeAtOnce:
                close(connection)
                continue
            case .text(let text):
                _ = text.utf8CString.withUnsafeBufferPointer { buffer in
                    send(connection, buffer.baseAddress, buffer.count - 1, Int32(MSG_NOSIGNAL))
                }
            case .silent:
                break
            }
            let keep = lock.withLock { () -> Bool in
                if stopped { return false }
                connections.append(connection)
                return true
            }
            if !keep { close(connection) }
        }
    }
}
