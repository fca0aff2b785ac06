"""A small threaded HTTP/1.1 server for any WSGI application, on the standard library alone.

What `wsgiref.simple_server` lacks and this adds: keep-alive, one `sendall` per response (headers
and body together, so Nagle's algorithm and delayed ACKs never stall a keep-alive client), a read
timeout, TLS, a unix socket, and a graceful shutdown: stop accepting, let in-flight requests
finish, close idle connections, then return.
"""

from __future__ import annotations

import io
import os
import re
import socket
import socketserver
import ssl
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote_to_bytes

from .http import quoted

WSGIApp = Callable[[dict[str, Any], Callable], Any]
READ_TIMEOUT_SECONDS = 30
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""RFC 9110's `token`: what a method may be."""
_RAW_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
"""A request target holding one of these raw (not percent-encoded) is not a URI (RFC 3986)."""


class _Body(io.RawIOBase):
    """`wsgi.input`: at most Content-Length bytes of the socket, and a count of what was left unread.

    The whole body must arrive within `read_timeout` seconds of the first read, however slowly it
    trickles in: a client that sends one byte a second (or promises more than it sends) gets the
    bytes that came in time, `timed_out` is set, and the connection is closed after the answer."""

    def __init__(self, stream: Any, length: int, connection: Any = None, read_timeout: float | None = None) -> None:
        self._stream, self.remaining = stream, length
        self._connection, self._read_timeout = connection, read_timeout
        self._deadline: float | None = None
        self.timed_out = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        if self._connection is None or self._read_timeout is None:
            data = self._stream.read(size) if size else b""
            self.remaining -= len(data)
            return data
        if self._deadline is None:
            self._deadline = time.monotonic() + self._read_timeout
        chunks: list[bytes] = []
        while size > 0 and not self.timed_out:
            left = self._deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                self._connection.settimeout(left)
                chunk = self._stream.read1(min(size, 65536))
            except (TimeoutError, socket.timeout):
                self.timed_out = True
                break
            finally:
                self._connection.settimeout(self._read_timeout)
            if not chunk:
                break  # the client closed its side: the body is shorter than it said
            chunks.append(chunk)
            size -= len(chunk)
            self.remaining -= len(chunk)
        return b"".join(chunks)

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


_MAX_LINE = 65536
_MAX_HEADERS = 100
_REASON = {100: "Continue", 400: "Bad Request", 408: "Request Timeout", 411: "Length Required",
           413: "Payload Too Large", 414: "URI Too Long", 431: "Request Header Fields Too Large",
           505: "HTTP Version Not Supported"}


class _BadRequest(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class _Handler(socketserver.StreamRequestHandler):
    """One connection: parse requests, run the app, answer, until the client or the server closes.

    The request line and headers are parsed here with plain byte splitting rather than
    `http.server`'s email parser: it is the same grammar for the requests an API receives, at a
    fraction of the cost, and it is on the path of every request.
    """

    timeout = READ_TIMEOUT_SECONDS
    server: "_Tracking"

    def setup(self) -> None:
        self.timeout = self.server.read_timeout  # StreamRequestHandler.setup applies it to the socket
        # TCP_NODELAY (it means nothing on a unix socket) so a response never waits for an ACK
        self.disable_nagle_algorithm = self.request.family in (socket.AF_INET, socket.AF_INET6)
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()  # here, in this connection's thread, not in the accept loop

    def handle(self) -> None:
        self.close_connection = False
        while not self.close_connection:
            self.handle_one_request()

    def handle_one_request(self) -> None:
        try:
            line = self.rfile.readline(_MAX_LINE + 1)
        except (TimeoutError, OSError):
            self.close_connection = True
            return
        if not line or not self.server.begin(self):
            self.close_connection = True
            return
        try:
            request = self._parse(line)
            if request is not None:
                self._run_wsgi(*request)
        except _BadRequest as error:
            self._send_raw(error.status, [("Content-Type", "text/plain")], _REASON.get(error.status, "").encode(), closing=True)
        except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            if self.server.end(self):
                self.close_connection = True

    def _parse(self, line: bytes) -> tuple[str, str, str, list[tuple[str, str]]] | None:
        """(method, target, version, headers) of one request; None for a blank keep-alive line."""
        if len(line) > _MAX_LINE:
            raise _BadRequest(414)
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if parts == [""]:
            return None
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(400 if len(parts) != 3 else 505)
        headers: list[tuple[str, str]] = []
        while True:
            raw = self.rfile.readline(_MAX_LINE + 1)
            if raw in (b"\r\n", b"\n"):
                break
            if not raw or len(raw) > _MAX_LINE or len(headers) >= _MAX_HEADERS:
                raise _BadRequest(431 if raw else 400)
            name, colon, value = raw.decode("latin-1").partition(":")
            if not colon or not name or name != name.strip():
                raise _BadRequest(400)
            headers.append((name.lower(), value.strip()))
        method, target, version = parts
        if not _METHOD.fullmatch(method) or _RAW_CONTROL.search(target):
            raise _BadRequest(400)
        connection = ",".join(v for k, v in headers if k == "connection").lower()
        self.close_connection = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
        if any(k == "expect" and v.lower() == "100-continue" for k, v in headers):
            self.wfile.write(f"{version} 100 Continue\r\n\r\n".encode())
        return method, target, version, headers

    def _environ(self, method: str, target: str, version: str, headers: list[tuple[str, str]], body: _Body) -> dict[str, Any]:
        path, _, query = target.partition("?")
        address = self.server.server_address
        host, port = address[:2] if isinstance(address, tuple) else ("localhost", "0")
        environ = {
            "REQUEST_METHOD": method, "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"), "QUERY_STRING": query,
            "CONTENT_TYPE": "", "CONTENT_LENGTH": "",
            "SERVER_NAME": str(host), "SERVER_PORT": str(port), "SERVER_PROTOCOL": version,
            "REMOTE_ADDR": self.client_address[0] if isinstance(self.client_address, tuple) else "unix",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "https" if self.server.tls else "http",
            "wsgi.input": body, "wsgi.errors": sys.stderr, "wsgi.multithread": True,
            "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        for name, value in headers:
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if environ.get(key) else value
        return environ

    def _run_wsgi(self, method: str, target: str, version: str, headers: list[tuple[str, str]]) -> None:
        self.request_version = version
        lookup = dict(headers)
        if "chunked" in lookup.get("transfer-encoding", "").lower():
            self._send_raw(411, [("Content-Type", "application/json")],
                           b'{"error":{"code":"length_required","message":"send a Content-Length; chunked bodies are not accepted","details":{}}}',
                           closing=True)
            return
        try:
            length = max(0, int(lookup.get("content-length") or 0))
        except ValueError:
            raise _BadRequest(400) from None
        body = _Body(self.rfile, length, self.connection, self.server.read_timeout)
        captured: dict[str, Any] = {}

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            captured["status"], captured["headers"] = status, response_headers
            return lambda data: None

        result = self.server.app(self._environ(method, target, version, headers, body), start_response)
        try:
            payload = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        if body.timed_out:  # whatever the app made of a partial body, the client was too slow
            self._send_raw(408, [("Content-Type", "text/plain")], b"Request Timeout", closing=True)
            return
        # an app that refused without reading the whole body leaves the stream out of step: close it
        self._send_raw(int(captured["status"].split()[0]), captured["headers"], payload, captured["status"], closing=body.remaining > 0)
        if self.server.access_log:
            sys.stderr.write(f"{self.client_address[0] if isinstance(self.client_address, tuple) else 'unix'} "
                             f"{method} {quoted(target.split('?')[0])} {captured['status'].split()[0]}\n")

    def _send_raw(self, code: int, headers: list[tuple[str, str]], payload: bytes, status: str | None = None,
                  closing: bool = False) -> None:
        if closing or self.server.draining:
            self.close_connection = True
        status = status or f"{code} {_REASON.get(code, '')}"
        lines = [f"{getattr(self, 'request_version', 'HTTP/1.1')} {status}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if not any(k.lower() == "x-content-type-options" for k, _ in headers):  # this layer's own answers (400, 408, 411...)
            lines += ["X-Content-Type-Options: nosniff", "Cache-Control: no-store"]
        if not any(k.lower() == "content-length" for k, _ in headers):
            lines.append(f"Content-Length: {len(payload)}")
        if self.close_connection:
            lines.append("Connection: close")
        # headers and body in one write: a split write meets Nagle and delayed ACK on keep-alive
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)


class _Tracking:
    """Connection bookkeeping shared by the TCP and unix servers: which handlers are mid-request."""

    app: WSGIApp
    tls = False
    access_log = False
    draining = False
    read_timeout: float = READ_TIMEOUT_SECONDS

    def _init_tracking(self) -> None:
        self._lock = threading.Lock()
        self._idle: set[_Handler] = set()
        self._busy: set[_Handler] = set()

    def begin(self, handler: _Handler) -> bool:
        with self._lock:
            if self.draining:
                return False
            self._idle.discard(handler)
            self._busy.add(handler)
            return True

    def end(self, handler: _Handler) -> bool:
        """Mark the handler idle; True when it should close because the server is draining."""
        with self._lock:
            self._busy.discard(handler)
            if self.draining:
                return True
            self._idle.add(handler)
            return False

    def drop(self, handler: _Handler) -> None:
        with self._lock:
            self._idle.discard(handler)
            self._busy.discard(handler)

    def start_draining(self) -> None:
        with self._lock:
            self.draining = True
            idle = list(self._idle)
        for handler in idle:  # wake threads waiting for a next request that will not come
            try:
                handler.connection.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def finish_request(self, request: Any, client_address: Any) -> None:
        handler = None
        try:
            handler = self.RequestHandlerClass(request, client_address, self)  # type: ignore[attr-defined]
        finally:
            if handler is not None:
                self.drop(handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)):
            sys.stderr.write(f"connection error: {type(exc).__name__}\n")


class _TCPServer(_Tracking, socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's default of 5 resets clients that connect in a burst


class _UnixServer(_Tracking, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = False
    block_on_close = True
    request_queue_size = 128


class WSGIServer:
    """Serve `app` on host:port (port 0 picks one) or on a unix socket, optionally with TLS."""

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 8716, *, unix_socket: Path | None = None,
                 tls_cert: Path | None = None, tls_key: Path | None = None, access_log: bool = False,
                 read_timeout: float = READ_TIMEOUT_SECONDS) -> None:
        if unix_socket is not None:
            self._httpd: Any = self._bind_unix(Path(unix_socket))
        else:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            _TCPServer.address_family = family
            self._httpd = _TCPServer((host, port), _Handler, bind_and_activate=True)
        httpd = self._httpd
        httpd._init_tracking()
        httpd.app, httpd.access_log, httpd.read_timeout = app, access_log, read_timeout
        if tls_cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(tls_cert, tls_key)
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
            httpd.tls = True
        self.unix_socket = unix_socket

    @staticmethod
    def _bind_unix(path: Path) -> _UnixServer:
        if path.exists():
            path.unlink()  # a stale socket from a previous run
        # Created 0660, never wider: its owner and its group may connect, which on a shared host is
        # the group of the directory it is made in (a setgid directory hands its group down).
        old_umask = os.umask(0o117)
        try:
            server = _UnixServer(str(path), _Handler)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o660)
        return server

    @property
    def url(self) -> str:
        if self.unix_socket is not None:
            return f"unix://{self.unix_socket}"
        host, port = self._httpd.server_address[:2]
        scheme = "https" if self._httpd.tls else "http"
        return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}"

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Stop accepting, finish in-flight requests, close idle connections, release the socket."""
        self._httpd.shutdown()
        self._httpd.start_draining()
        self._httpd.server_close()  # joins every connection thread
        if self.unix_socket is not None and self.unix_socket.exists():
            self.unix_socket.unlink()
