#if canImport(Glibc)
import Glibc
#endif

/// The largest send and receive buffers Linux's TCP autotuning gives a socket on this machine
/// (the third numbers of `net.ipv4.tcp_wmem` and `tcp_rmem`): how many bytes a connection can
/// hold in flight between two programs.
public struct TCPBufferLimits: Sendable, Equatable {
    public let largestSendBuffer: Int
    public let largestReceiveBuffer: Int

    public init(largestSendBuffer: Int, largestReceiveBuffer: Int) {
        self.largestSendBuffer = largestSendBuffer
        self.largestReceiveBuffer = largestReceiveBuffer
    }

    /// This machine's limits, or nil where /proc does not say.
    public static let current: TCPBufferLimits? = {
        func largest(_ name: String) -> Int? {
            guard let file = fopen("/proc/sys/net/ipv4/" + name, "r") else { return nil }
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 128)
            guard fgets(&line, Int32(line.count), file) != nil else { return nil }
            return parse(String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        guard let send = largest("tcp_wmem"), let receive = largest("tcp_rmem") else { return nil }
        return TCPBufferLimits(largestSendBuffer: send, largestReceiveBuffer: receive)
    }()

    /// The maximum of a `tcp_rmem`/`tcp_wmem` line: "min default max".
    public static func parse(_ text: String) -> Int? {
        let numbers = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        guard numbers.count == 3, numbers[2] > 0 else { return nil }
        return numbers[2]
    }
}
