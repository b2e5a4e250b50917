import FTPProtocol
import Logging

/// The command channel of one session: sends command lines, reads replies.
///
/// Not thread-safe: a session is used by one thread at a time (the pool guarantees it).
final class ControlConnection {
    let socket: Socket
    /// The stream commands travel over: the socket itself, or TLS over it.
    var stream: any ByteStream
    let logger: Logger
    let codec: any NameCodec
    private var buffer = [UInt8](repeating: 0, count: 16 * 1024)
    private var start = 0
    private var end = 0
    private static let maximumLineLength = 64 * 1024
    /// A reply longer than this is not a reply but a server running away (or attacking us):
    /// FEAT, STAT and MLST replies of real servers stay far below it.
    private static let maximumReplyBytes = 1 << 20

    init(socket: Socket, logger: Logger, codec: any NameCodec) {
        self.socket = socket
        self.stream = socket
        self.logger = logger
        self.codec = codec
    }

    func close() {
        stream.close()
        socket.close()
    }

    /// Sends one command line. The argument is encoded with the session's codec; CR, LF and NUL,
    /// in the argument or in the bytes the codec made of it, are refused before anything is
    /// written.
    func send(_ command: Command) throws(FTPError) {
        var bytes = Array(command.verb.utf8)
        if let argument = command.argument {
            do {
                _ = try command.line()
            } catch {
                throw .invalidArgument(error.description)
            }
            guard let encoded = codec.encode(argument) else {
                throw .invalidArgument("\(command.verb) argument cannot be expressed in the server's encoding")
            }
            do {
                try command.checkEncodedArgument(encoded)
            } catch {
                throw .invalidArgument(error.description)
            }
            bytes.append(0x20)
            bytes.append(contentsOf: encoded)
        }
        bytes.append(0x0D)
        bytes.append(0x0A)
        logger.debug("> \(command.loggable)")
        try stream.write(bytes)
    }

    /// Reads one complete reply (all lines of a multi-line reply).
    func readReply() throws(FTPError) -> Reply {
        var parser = ReplyParser()
        var replyBytes = 0
        while true {
            let bytes = try readLine()
            replyBytes += bytes.count + 2
            if replyBytes > Self.maximumReplyBytes {
                throw .protocolViolation("reply longer than \(Self.maximumReplyBytes) bytes")
            }
            let line = codec.decode(bytes[...]) ?? String(decoding: bytes, as: UTF8.self)
            logger.debug("< \(line)")
            do {
                if let reply = try parser.consume(line: line) { return reply }
            } catch {
                throw .protocolViolation(error.description)
            }
        }
    }

    /// Whether bytes are already waiting in the buffer (a reply the server sent unasked).
    var hasBufferedInput: Bool { start < end }

    private func readLine() throws(FTPError) -> [UInt8] {
        while true {
            if let newline = buffer[start..<end].firstIndex(of: 0x0A) {
                var lineEnd = newline
                if lineEnd > start, buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                let line = Array(buffer[start..<lineEnd])
                start = newline + 1
                return line
            }
            if end - start >= Self.maximumLineLength {
                throw .protocolViolation("reply line longer than \(Self.maximumLineLength) bytes")
            }
            if start > 0 {
                buffer.replaceSubrange(0..<(end - start), with: buffer[start..<end])
                end -= start
                start = 0
            }
            if end == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
            let count: Int
            do {
                count = try buffer.withUnsafeMutableBytesTyped { (raw) throws(FTPError) -> Int in
                    try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[end...]))
                }
            } catch .timedOut {
                throw .timedOut("waiting for a reply from \(socket.peer)")
            }
            if count == 0 {
                throw .connectionClosed("(control connection to \(socket.peer))")
            }
            end += count
        }
    }
}
