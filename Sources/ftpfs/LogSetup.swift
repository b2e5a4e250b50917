import Logging
import MountOptions
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Sets up swift-log once for the whole process. Every logger writes through ``LogSink``, which
/// sends lines to stderr until a background mount has detached (stderr is /dev/null then) and to
/// syslog (the journal, on systemd machines) after that: swift-log allows one bootstrap per
/// process, so the handler stays and its destination switches.
enum LogSetup {
    static func bootstrap(level: MountOptions.LogLevel) -> Logger {
        let logLevel = Logger.Level(level)
        LoggingSystem.bootstrap { label in
            FTPFSLogHandler(label: label, logLevel: logLevel)
        }
        var logger = Logger(label: "ftpfs")
        logger.logLevel = logLevel
        return logger
    }
}

extension Logger.Level {
    init(_ level: MountOptions.LogLevel) {
        self = Logger.Level(rawValue: level.rawValue) ?? .info
    }
}

/// swift-log's side: keeps the level and metadata (value semantics, as LogHandler requires) and
/// hands each line to ``LogSink``.
struct FTPFSLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(label: String, logLevel: Logger.Level) {
        self.label = label
        self.logLevel = logLevel
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var text = event.message.description
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        if !merged.isEmpty {
            text += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        LogSink.emit(event.level, text)
    }
}

/// Where log lines go: stderr, or syslog once ``useSyslog()`` was called.
///
/// The syslog side is Glibc's openlog/vsyslog: it writes to /dev/log (journald's or rsyslog's
/// socket), reconnects when the daemon restarts, and drops lines silently when there is no
/// syslog daemon at all (a bare container), as every daemon's syslog output does.
enum LogSink {
    private static let toSyslog = Atomic<Bool>(false)
    /// One line at a time on stderr, so concurrent threads never interleave within a line.
    private static let standardErrorLock = Mutex(())
    /// openlog keeps the pointer: it must live as long as the process.
    private static let identifier = Mutex<UnsafeMutablePointer<CChar>?>(nil)

    /// From now on, lines go to syslog (facility daemon, tagged `ftpfs[PID]`).
    static func useSyslog() {
        identifier.withLock { identifier in
            if identifier == nil { identifier = strdup("ftpfs") }
            openlog(identifier, LOG_PID | LOG_NDELAY, LOG_DAEMON)
        }
        toSyslog.store(true, ordering: .releasing)
    }

    static var isSyslog: Bool { toSyslog.load(ordering: .acquiring) }

    /// Writes one line, whatever the configured level (callers filter; the SIGUSR1 status line
    /// is always written).
    static func emit(_ level: Logger.Level, _ text: String) {
        if isSyslog {
            let line = level >= .warning || level <= .debug ? level.rawValue + ": " + text : text
            line.withCString { cString in
                withVaList([cString]) { arguments in
                    vsyslog(level.syslogPriority, "%s", arguments)
                }
            }
        } else {
            let line = timestamp() + " ftpfs " + level.rawValue + ": " + text + "\n"
            standardErrorLock.withLock { _ in writeAll(line, to: STDERR_FILENO) }
        }
    }

    /// Local time to the millisecond: `2025-06-01 14:03:07.125`.
    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &parts)
        let milliseconds = Int(now.tv_nsec / 1_000_000)
        let fraction = String(milliseconds)
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            + "." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}

extension Logger.Level {
    var syslogPriority: Int32 {
        switch self {
        case .trace, .debug: LOG_DEBUG
        case .info: LOG_INFO
        case .notice: LOG_NOTICE
        case .warning: LOG_WARNING
        case .error: LOG_ERR
        case .critical: LOG_CRIT
        }
    }
}
