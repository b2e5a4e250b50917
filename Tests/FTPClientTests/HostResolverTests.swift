import FTPClient
import Foundation
import Testing
import ThreadSupport

/// DNS has no timeout of its own and ran at every reconnect: the resolver bounds a lookup by a
/// deadline and remembers the answer.
@Suite struct HostResolverTests {
    final class Counter: @unchecked Sendable {
        private let lock = ConditionLock()
        private var count = 0
        func increment() { lock.withLock { count += 1 } }
        var value: Int { lock.withLock { count } }
    }

    @Test func aLookupThatDoesNotAnswerTimesOut() {
        let resolver = HostResolver { (_, _) throws(FTPError) -> [SocketAddress] in
            usleep(3_000_000)
            return [SocketAddress(host: "192.0.2.1", port: 21)]
        }
        let started = MonotonicClock.now
        #expect(throws: FTPError.self) { try resolver.addresses(of: "slow.example", port: 21, timeout: 0.3) }
        #expect(MonotonicClock.now - started < 1.5)
    }

    @Test func anAnswerIsRememberedUntilForgotten() throws {
        let lookups = Counter()
        let resolver = HostResolver { (_, port) throws(FTPError) -> [SocketAddress] in
            lookups.increment()
            return [SocketAddress(host: "127.0.0.1", port: port)]
        }
        #expect(try resolver.addresses(of: "server", port: 21, timeout: 5) == [SocketAddress(host: "127.0.0.1", port: 21)])
        _ = try resolver.addresses(of: "server", port: 21, timeout: 5)
        #expect(lookups.value == 1)
        resolver.forget()
        _ = try resolver.addresses(of: "server", port: 21, timeout: 5)
        #expect(lookups.value == 2)
    }

    @Test func localhostResolves() throws {
        let addresses = try HostResolver().addresses(of: "localhost", port: 2121, timeout: 5)
        #expect(addresses.contains { $0.host == "127.0.0.1" || $0.host == "::1" })
    }
}
