import Logging
import MountOptions

/// Sets up swift-log: everything goes to stderr for now, at the level the options ask for.
enum LogSetup {
    static func bootstrap(level: MountOptions.LogLevel) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(level)
            return handler
        }
        var logger = Logger(label: "ftpfs")
        logger.logLevel = Logger.Level(level)
        return logger
    }
}

extension Logger.Level {
    init(_ level: MountOptions.LogLevel) {
        self = Logger.Level(rawValue: level.rawValue) ?? .info
    }
}
