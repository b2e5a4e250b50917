/// Exit statuses, distinct per kind of failure so scripts and systemd can tell them apart.
/// The numbers follow sysexits.h where it has a fitting code.
enum ExitStatus: Int32 {
    case success = 0
    /// libfuse could not mount (it printed why).
    case mountFailed = 1
    /// A bad option, value or URL (EX_USAGE).
    case usage = 64
    /// The host name does not resolve (EX_NOHOST).
    case hostNotFound = 68
    /// The server refused the TCP connection, or closed it at once (EX_UNAVAILABLE).
    case connectionRefused = 69
    /// /dev/fuse is missing or not usable (EX_OSERR).
    case fuseUnavailable = 71
    /// The mountpoint is missing, not a directory, not empty or already mounted (EX_OSFILE).
    case badMountpoint = 72
    /// Another network or server failure (EX_IOERR).
    case ioError = 74
    /// A connect or reply timed out (EX_TEMPFAIL).
    case timedOut = 75
    /// The server spoke something other than FTP (EX_PROTOCOL).
    case protocolError = 76
    /// Login refused, or the remote directory is not accessible (EX_NOPERM).
    case loginFailed = 77
    /// TLS could not be set up or the certificate failed verification (EX_CONFIG).
    case tlsFailed = 78
}
