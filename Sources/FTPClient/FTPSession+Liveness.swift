#if canImport(Glibc)
import Glibc
#endif

extension FTPSession {
    /// Whether an idle session still looks alive, without a round trip: a server that dropped it
    /// (idle timeout, restart) has sent a 421 or closed the connection, and either makes the
    /// socket readable while nothing was asked.
    public var looksAlive: Bool {
        guard isUsable, !transferInProgress, !control.hasBufferedInput else { return false }
        var descriptor = pollfd(fd: control.socket.descriptor, events: Int16(POLLIN) | 0x2000 /* POLLRDHUP */, revents: 0)
        let ready = poll(&descriptor, 1, 0)
        return ready == 0
    }
}
