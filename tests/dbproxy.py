"""A TCP relay on loopback in front of the test PostgreSQL server, so a test can take the database
away from a server and give it back (as a restart, a crash or a network cut would) without touching
the PostgreSQL that other tests share.

`cut()` closes every relayed connection and then answers each new one by closing it at once (what a
client sees of a database that crashed or is restarting: "server closed the connection
unexpectedly"), noting when in `refusals`; `restore()` relays again.
"""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit


class DatabaseProxy:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._listener = socket.create_server(("127.0.0.1", 0))
        port = self._listener.getsockname()[1]
        netloc = f"{parts.username + '@' if parts.username else ''}127.0.0.1:{port}"
        self.url = urlunsplit(parts._replace(netloc=netloc))
        """`url`, through this relay."""
        self.refusals: list[float] = []
        """When (`time.monotonic()`) each connection made while cut was answered by closing it."""
        self._up = True
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._up = False
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if not self._up:
                    self.refusals.append(time.monotonic())
                    _close(client)
                    continue
            try:
                server = socket.create_connection(self._target)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
