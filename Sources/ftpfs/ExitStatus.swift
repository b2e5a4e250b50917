/// Exit statuses, distinct per kind of failure so scripts, mount(8) and systemd can tell them
/// apart. The numbers follow sysexits.h where it has a fitting code; the local problems a user
/// fixes differently (the mountpoint's four ways of being wrong, /dev/fuse missing or refused)
/// get codes of their own from 80 up.
///
/// `--help`, the man page and the README print this table; ``documentation`` is the one place
/// its wording lives.
enum ExitStatus: Int32, CaseIterable {
    case success = 0
    /// libfuse could not mount or serve (it printed why).
    case mountFailed = 1
    /// A bad option, value or URL (EX_USAGE).
    case usage = 64
    /// A netrc or `passfile` that cannot be read, does not parse, or that other users can read
    /// (EX_NOINPUT).
    case credentialsFile = 66
    /// The host name does not resolve (EX_NOHOST).
    case hostNotFound = 68
    /// The server refused the TCP connection, or the FTP session at once (EX_UNAVAILABLE).
    case connectionRefused = 69
    /// /dev/fuse does not exist (EX_OSERR).
    case fuseMissing = 71
    /// The mountpoint does not exist (EX_OSFILE).
    case mountpointMissing = 72
    /// The cache directory for staged edits cannot be created, or is not the user's alone
    /// (EX_CANTCREAT).
    case cacheDirectory = 73
    /// Another network or server failure (EX_IOERR).
    case ioError = 74
    /// A connect or reply timed out (EX_TEMPFAIL).
    case timedOut = 75
    /// The server spoke something other than FTP (EX_PROTOCOL).
    case protocolError = 76
    /// Login refused, no password to log in with, or the remote directory is not accessible
    /// (EX_NOPERM).
    case loginFailed = 77
    /// TLS could not be set up or the certificate failed verification (EX_CONFIG).
    case tlsFailed = 78
    /// The mountpoint is not a directory.
    case mountpointNotDirectory = 80
    /// The mountpoint is not empty and `-o nonempty` was not given.
    case mountpointNotEmpty = 81
    /// Something is already mounted on the mountpoint.
    case mountpointInUse = 82
    /// The mountpoint is not accessible or not writable by the user.
    case mountpointNotPermitted = 83
    /// /dev/fuse exists but this user may not use it (and no fusermount3 can do it for them).
    case fuseNotPermitted = 84

    /// One line per status, for `--help`, the man page and the README.
    var documentation: String {
        switch self {
        case .success: "mounted (in the foreground: served and unmounted cleanly)"
        case .mountFailed: "libfuse could not mount or serve the file system"
        case .usage: "bad option, value or URL (the message names it)"
        case .credentialsFile: "netrc or passfile unreadable, malformed, or readable by others"
        case .hostNotFound: "unknown host"
        case .connectionRefused: "connection refused (or the server refused the session)"
        case .fuseMissing: "/dev/fuse does not exist"
        case .mountpointMissing: "the mountpoint does not exist"
        case .cacheDirectory: "the cache directory (-o cache_dir=) cannot be created or is not yours alone"
        case .ioError: "other network or server failure"
        case .timedOut: "connecting or waiting for the server timed out"
        case .protocolError: "the server does not speak FTP as expected"
        case .loginFailed: "login refused, no password, or the remote directory is inaccessible"
        case .tlsFailed: "TLS failed, e.g. the certificate could not be verified"
        case .mountpointNotDirectory: "the mountpoint is not a directory"
        case .mountpointNotEmpty: "the mountpoint is not empty (use -o nonempty)"
        case .mountpointInUse: "something is already mounted on the mountpoint"
        case .mountpointNotPermitted: "the mountpoint is not accessible or not writable by you"
        case .fuseNotPermitted: "/dev/fuse cannot be opened by you and fusermount3 cannot help"
        }
    }

    /// The table as `--help` prints it: `    64  bad option, …`.
    static var helpText: String {
        allCases.map { status in
            let code = String(status.rawValue)
            return "  " + String(repeating: " ", count: 3 - code.count) + code + "  " + status.documentation
        }.joined(separator: "\n")
    }
}
