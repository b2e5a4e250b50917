#if canImport(Glibc)
import Glibc
#endif

/// Asks for a password on the terminal without echoing it.
enum PasswordPrompt {
    /// Whether a prompt can be shown at all: stdin must be a terminal (not CI, not a pipe).
    static var isAvailable: Bool { isatty(STDIN_FILENO) == 1 }

    /// Reads a password from the controlling terminal with echo turned off; nil on EOF.
    static func read(prompt: String) -> String? {
        let tty = open("/dev/tty", O_RDWR | O_CLOEXEC)
        let input = tty >= 0 ? tty : STDIN_FILENO
        let output = tty >= 0 ? tty : STDERR_FILENO
        defer { if tty >= 0 { close(tty) } }
        writeAll(prompt, to: output)

        var original = termios()
        let hasTerminal = tcgetattr(input, &original) == 0
        if hasTerminal {
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(input, TCSAFLUSH, &silent)
        }
        defer {
            if hasTerminal {
                tcsetattr(input, TCSAFLUSH, &original)
                writeAll("\n", to: output)
            }
        }

        var bytes: [UInt8] = []
        defer { for index in bytes.indices { bytes[index] = 0 } }  // leave no copy behind
        var byte: UInt8 = 0
        while true {
            let count = Glibc.read(input, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if byte == 0x0A || byte == 0x0D { break }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Writes all of `text` to a file descriptor (stderr and the terminal are used without stdio,
/// whose globals Swift 6 treats as unsafe shared state).
func writeAll(_ text: String, to descriptor: Int32) {
    var text = text
    text.withUTF8 { buffer in
        var offset = 0
        while offset < buffer.count {
            let count = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
            offset += count
        }
    }
}
