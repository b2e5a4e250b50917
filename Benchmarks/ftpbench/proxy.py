#!/usr/bin/python3
"""An FTP-aware delay proxy: the internet's round trips, on loopback.

    proxy.py --server HOST:PORT --rtt MS [--bandwidth BYTES_PER_S] [--window BYTES] [--listen HOST:PORT]

This kernel has no netem qdisc, so the WAN mode of the benchmark puts this proxy between the
clients (ftpfs, ftplib, curl) and vsftpd. It prints `LISTENING HOST PORT` on stdout once it
accepts connections, and runs until SIGTERM/SIGINT (then prints its counters on stderr).

What it emulates, per direction of every connection:
- latency: each chunk read from one side is written to the other RTT/2 after it arrived. The
  chunks wait in a timed queue (one timer per queue, order kept), so a delay never holds up
  other connections or later chunks beyond their own due time;
- a link of limited bandwidth (--bandwidth, optional): one FIFO per direction shared by all
  connections, as an access link is; a chunk leaves it size/bandwidth after the one before;
- a TCP window (--window): a direction stops reading from its source while more than WINDOW
  bytes were sent but not yet "acknowledged" (RTT after they arrived), so a single connection
  carries at most WINDOW/RTT, as TCP does across the internet.

FTP: the control connection is forwarded to the server; replies 227 (PASV) and 229 (EPSV) are
rewritten to a listener of the proxy's own, which forwards the client's data connection to the
port the server named. So data connections are delayed too.

Not emulated: TCP handshakes with the proxy are local, so opening a connection costs no round
trip here (it costs one across the internet); active mode (PORT/EPRT) and TLS on the control
connection bypass the rewriting (the benchmark uses plain FTP in passive mode); no packet loss.

Only the Python standard library: it runs as a child of the benchmark, with Debian's python3.
"""
import argparse
import asyncio
import collections
import re
import selectors
import signal
import socket
import sys

EOF = object()    # queue marker: the source shut down its sending side
RESET = object()  # queue marker: the source's connection broke (RST): abort the other side
# A chunk due within this much of now is delivered now (one wake-up serves it).
DUE_TOLERANCE = 0.0001


class TimerLateness:
    """How late asyncio's timers fire here (about 0.15 ms with select(), which sleeps in
    microseconds, plus the scheduler): timers are set this much early, so deliveries are on time on
    average. Learned from every wake-up, within 0..2 ms."""

    def __init__(self):
        self.estimate = 0.0002

    def record(self, late):
        self.estimate = min(0.002, max(0.0, self.estimate + (late - self.estimate) * 0.25))


class Link:
    """One direction of the emulated path, shared by every connection: the bandwidth cap."""

    def __init__(self, bandwidth):
        self.bandwidth = bandwidth  # bytes per second, or None for no cap
        self.free_at = 0.0

    def leaves(self, now, size):
        """When a chunk that reached the proxy at `now` has crossed the link's bottleneck."""
        if not self.bandwidth:
            return now
        start = max(now, self.free_at)
        self.free_at = start + size / self.bandwidth
        return self.free_at


class Pipe:
    """One direction of one proxied connection: chunks from a source transport, each written to the
    destination transport `delay` seconds after it arrived (after the link, if capped)."""

    def __init__(self, proxy, link):
        self.proxy = proxy
        self.loop = proxy.loop
        self.link = link
        self.delay = proxy.delay
        self.queue = collections.deque()  # (due, chunk or EOF or RESET)
        self.timer = None
        self.wake_at = 0.0
        self.source = None       # transport we read from (paused when the window is full)
        self.dest = None         # transport we write to (None until connected)
        self.in_flight = 0       # bytes read but not yet "acknowledged"
        self.dest_blocked = False
        self.reading_paused = False
        self.finished = False    # EOF or RESET delivered
        self.on_finished = None

    def feed(self, data):
        now = self.loop.time()
        self.queue.append((self.link.leaves(now, len(data)) + self.delay, data))
        self.in_flight += len(data)
        self.proxy.bytes_carried += len(data)
        self.update_reading()
        self.schedule()

    def feed_marker(self, marker):
        self.queue.append((self.link.leaves(self.loop.time(), 0) + self.delay, marker))
        self.schedule()

    def connect_dest(self, transport):
        self.dest = transport
        self.schedule()

    def connect_source(self, transport):
        self.source = transport
        self.update_reading()

    def schedule(self):
        if self.timer is None and self.queue and self.dest is not None:
            self.wake_at = self.queue[0][0] - self.proxy.lateness.estimate
            self.timer = self.loop.call_at(self.wake_at, self.deliver)

    def deliver(self):
        self.timer = None
        now = self.loop.time()
        self.proxy.lateness.record(now - self.wake_at)
        horizon = now + DUE_TOLERANCE
        while self.queue and self.queue[0][0] <= horizon and self.dest is not None:
            due, data = self.queue.popleft()
            if data is RESET:
                self.dest.abort()
                self.finish()
            elif data is EOF:
                if self.dest.can_write_eof():
                    self.dest.write_eof()
                else:
                    self.dest.close()
                self.finish()
            else:
                if not self.dest.is_closing():
                    self.dest.write(data)
                self.loop.call_at(due + self.delay, self.acknowledge, len(data))
        self.schedule()

    def acknowledge(self, size):
        self.in_flight -= size
        self.update_reading()

    def update_reading(self):
        pause = self.in_flight > self.proxy.window or self.dest_blocked
        if self.source is None or pause == self.reading_paused or self.source.is_closing():
            return
        self.reading_paused = pause
        if pause:
            self.source.pause_reading()
        else:
            self.source.resume_reading()

    def finish(self):
        self.finished = True
        self.queue.clear()
        if self.on_finished:
            self.on_finished()

    def drop(self):
        """The destination is gone: nothing more can be delivered."""
        self.dest = None
        self.queue.clear()
        if self.timer:
            self.timer.cancel()
            self.timer = None


class Side(asyncio.Protocol):
    """One socket of a proxied connection: what it reads goes into `outgoing`, and `incoming` writes
    to it. A client side given `forward_to` connects the server side once it is accepted."""

    def __init__(self, connection, outgoing, incoming, forward_to=None):
        self.connection = connection
        self.outgoing = outgoing
        self.incoming = incoming
        self.forward_to = forward_to
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.connection.sides.append(self)
        self.outgoing.connect_source(transport)
        self.incoming.connect_dest(transport)
        if self.forward_to:
            self.connection.proxy.loop.create_task(self.connection.connect_server(*self.forward_to, transport))

    def data_received(self, data):
        self.outgoing.feed(data)

    def eof_received(self):
        self.outgoing.feed_marker(EOF)
        return True  # half-close: keep writing what the other side still sends

    def connection_lost(self, exc):
        if not self.outgoing.finished and not self.connection.closing:
            self.outgoing.feed_marker(RESET if exc else EOF)
        self.incoming.drop()
        self.connection.side_lost()

    def pause_writing(self):
        self.incoming.dest_blocked = True
        self.incoming.update_reading()

    def resume_writing(self):
        self.incoming.dest_blocked = False
        self.incoming.update_reading()


class Connection:
    """A client socket and the server socket it is forwarded to, with one pipe each way."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.upstream = Pipe(proxy, proxy.uplink)
        self.downstream = Pipe(proxy, proxy.downlink)
        self.upstream.on_finished = self.downstream.on_finished = self.maybe_close
        self.sides = []
        self.closing = False
        self.listeners = []  # data listeners opened for this (control) connection
        proxy.connections += 1

    def client_side(self, forward_to):
        return Side(self, self.upstream, self.downstream, forward_to)

    def server_side(self):
        return Side(self, self.downstream, self.upstream)

    async def connect_server(self, host, port, client_transport):
        try:
            await self.proxy.loop.create_connection(self.server_side, host, port)
        except OSError:
            client_transport.abort()

    def maybe_close(self):
        if self.upstream.finished and self.downstream.finished:
            self.close()

    def side_lost(self):
        if len(self.sides) == 2 and all(s.transport.is_closing() for s in self.sides):
            self.close()

    def close(self):
        if self.closing:
            return
        self.closing = True
        for side in self.sides:
            side.transport.close()
        for listener in self.listeners:
            listener.close()


class ReplyRewritingSide(Side):
    """The server's side of a control connection: whole reply lines go through the connection's
    rewrite() before they are queued (a partial line waits for its end, which is never long)."""

    def __init__(self, connection, outgoing, incoming):
        super().__init__(connection, outgoing, incoming)
        self.partial = b""

    def data_received(self, data):
        connection = self.connection
        if connection.passthrough:
            self.outgoing.feed(data)
            return
        data = self.partial + data
        end = data.rfind(b"\n") + 1
        self.partial = data[end:]
        if end:
            self.outgoing.feed(b"".join(connection.rewrite(line) for line in data[:end].splitlines(keepends=True)))


class ControlConnection(Connection):
    """The control connection: the server's 227/229 replies are rewritten to a data listener of the
    proxy's that forwards to the port the server named."""

    PASV = re.compile(rb"^227 .*?(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")
    EPSV = re.compile(rb"^229 .*?\(\|\|\|(\d+)\|\)")

    def __init__(self, proxy):
        super().__init__(proxy)
        self.passthrough = False  # after AUTH TLS the replies can no longer be read

    def server_side(self):
        return ReplyRewritingSide(self, self.downstream, self.upstream)

    def rewrite(self, line):
        if line.startswith(b"234"):
            self.passthrough = True
        if match := self.PASV.match(line):
            host = ".".join(part.decode() for part in match.groups()[:4])
            port = int(match.group(5)) * 256 + int(match.group(6))
            listen_host, listen_port = self.open_data_listener(host, port)
            numbers = listen_host.replace(".", ",") + f",{listen_port // 256},{listen_port % 256}"
            return line[:match.start(1)] + numbers.encode() + line[match.end(6):]
        if match := self.EPSV.match(line):
            server_host = self.sides[-1].transport.get_extra_info("peername")[0]
            _, listen_port = self.open_data_listener(server_host, int(match.group(1)))
            return line[:match.start(1)] + str(listen_port).encode() + line[match.end(1):]
        return line

    def open_data_listener(self, server_host, server_port):
        listener = DataListener(self.proxy, (server_host, server_port))
        self.listeners.append(listener)
        return listener.address


class DataListener:
    """A listener on the proxy's host whose one connection is forwarded to the server's passive port.
    Bound at once, before the rewritten reply leaves, so the client can never connect too early."""

    UNUSED_TIMEOUT = 120  # seconds: a passive reply the client never used

    def __init__(self, proxy, target):
        self.proxy = proxy
        self.target = target
        self.server = None
        self.closed = False
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((proxy.listen_host, 0))
        sock.listen(4)
        sock.setblocking(False)
        self.address = sock.getsockname()
        proxy.loop.create_task(self.start(sock))
        proxy.loop.call_later(self.UNUSED_TIMEOUT, self.close)

    async def start(self, sock):
        if self.closed:
            sock.close()
            return
        self.server = await self.proxy.loop.create_server(self.accept, sock=sock)
        if self.closed:
            self.server.close()

    def accept(self):
        # One data connection per passive reply. Closed on the next turn of the loop: asyncio
        # attaches the new transport to this server after the factory returns.
        self.proxy.loop.call_soon(self.close)
        return Connection(self.proxy).client_side(forward_to=self.target)

    def close(self):
        self.closed = True
        if self.server is not None:
            self.server.close()
            self.server = None


class Proxy:
    def __init__(self, loop, args):
        self.loop = loop
        self.delay = args.rtt / 2000.0
        self.window = args.window
        self.uplink = Link(args.bandwidth)
        self.downlink = Link(args.bandwidth)
        self.server_address = args.server
        self.listen_host, self.listen_port = args.listen
        self.lateness = TimerLateness()
        self.connections = 0
        self.bytes_carried = 0

    def accept_control(self):
        return ControlConnection(self).client_side(forward_to=self.server_address)


def host_port(text):
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def parse_args(argv):
    p = argparse.ArgumentParser(description="FTP-aware delay proxy (see the module's docstring).")
    p.add_argument("--server", type=host_port, required=True, metavar="HOST:PORT", help="the FTP server")
    p.add_argument("--listen", type=host_port, default=("127.0.0.1", 0), metavar="HOST:PORT",
                   help="where clients connect (127.0.0.1:0 = a free port, printed)")
    p.add_argument("--rtt", type=float, default=0.0, metavar="MS", help="round-trip time to add (0)")
    p.add_argument("--bandwidth", type=float, default=None, metavar="BYTES_PER_S",
                   help="cap of each direction, bytes per second (none)")
    p.add_argument("--window", type=int, default=6 << 20, metavar="BYTES",
                   help="bytes a connection may have in flight each way (6 MiB, Linux's default tcp_rmem "
                        "maximum)")
    return p.parse_args(argv)


async def serve(args):
    loop = asyncio.get_running_loop()
    proxy = Proxy(loop, args)
    server = await loop.create_server(proxy.accept_control, proxy.listen_host, proxy.listen_port)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"LISTENING {host} {port}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    print(f"proxy: {proxy.connections} connections, {proxy.bytes_carried} bytes carried", file=sys.stderr)


def main(argv):
    # select() rather than epoll: epoll sleeps whole milliseconds, rounded up, which would make
    # every delivery up to 1 ms late; select() sleeps in microseconds. The proxy never has
    # anywhere near its 1024 descriptors open.
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    try:
        loop.run_until_complete(serve(parse_args(argv)))
    finally:
        loop.close()


if __name__ == "__main__":
    main(sys.argv[1:])
