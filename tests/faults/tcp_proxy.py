"""A loopback TCP proxy the fault tests put between a client and a real server (PostgreSQL, SMTP):
`cut()` drops every open connection and refuses new ones (the network is gone), `restore()` heals it,
`hang()` keeps accepting but never forwards a byte (a peer that hangs)."""
import selectors
import socket
import threading
import time


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1"):
        assert target_host.startswith("127.") and host.startswith("127."), "loopback only"
        self.target = (target_host, target_port)
        self._listener = socket.create_server((host, 0))
        self._listener.setblocking(False)
        self.host, self.port = self._listener.getsockname()[:2]
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._mode = "open"  # open | cut | hang
        self._lock = threading.Lock()
        self._stop = False
        self.accepted = 0
        self._thread = threading.Thread(target=self._loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    # -- control -----------------------------------------------------------------------------------------
    def cut(self) -> None:
        """The network is gone: every open connection is reset, new ones are closed at once."""
        with self._lock:
            self._mode = "cut"
            for sock in list(self._pairs):
                self._close(sock)

    def hang(self) -> None:
        """The peer hangs: connections are accepted (and open ones kept) but no byte goes either way."""
        with self._lock:
            self._mode = "hang"

    def restore(self) -> None:
        with self._lock:
            self._mode = "open"

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)
        with self._lock:
            for sock in list(self._pairs):
                self._close(sock)
        self._listener.close()
        self._sel.close()

    # -- the loop ----------------------------------------------------------------------------------------
    def _close(self, sock) -> None:
        peer = self._pairs.pop(sock, None)
        for s in (sock, peer):
            if s is None:
                continue
            self._pairs.pop(s, None)
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
            except OSError:
                pass
            s.close()

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        self.accepted += 1
        if self._mode == "cut":
            client.close()
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        for s in (client, upstream):
            s.setblocking(False)
        self._pairs[client], self._pairs[upstream] = upstream, client
        self._sel.register(client, selectors.EVENT_READ, "pipe")
        self._sel.register(upstream, selectors.EVENT_READ, "pipe")

    def _loop(self) -> None:
        while not self._stop:
            events = self._sel.select(timeout=0.1)
            if self._mode == "hang" and events:
                time.sleep(0.05)  # unread bytes keep sockets readable: do not spin
            with self._lock:
                for key, _ in events:
                    if key.data is None:
                        self._accept()
                        continue
                    sock = key.fileobj
                    if sock not in self._pairs or self._mode == "hang":
                        continue
                    try:
                        data = sock.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        self._close(sock)
                        continue
                    try:
                        self._pairs[sock].sendall(data)
                    except BlockingIOError:
                        self._pairs[sock].setblocking(True)
                        self._pairs[sock].sendall(data)
                        self._pairs[sock].setblocking(False)
                    except OSError:
                        self._close(sock)
