"""A small threaded HTTP/1.1 server for any WSGI application, on the standard library alone.

What `wsgiref.simple_server` lacks and this adds: keep-alive, one `sendall` per response (headers
and body together, so Nagle's algorithm and delayed ACKs never stall a keep-alive client), a read
timeout, TLS, a unix socket, and a graceful shutdown: stop accepting, let in-flight requests
finish, close idle connections, then return.
"""

from __future__ import annotations

import io
import os
import socket
import socketserver
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote_to_bytes

WSGIApp = Callable[[dict[str, Any], Callable], Any]
READ_TIMEOUT_SECONDS = 30


class _Body(io.RawIOBase):
    """`wsgi.input`: at most Content-Length bytes of the socket, and a count of what was left unread."""

    def __init__(self, stream: Any, length: int) -> None:
        self._stream, self.remaining = stream, length

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self._stream.read(size) if size else b""
        self.remaining -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_SECONDS
    server: "_Tracking"

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()  # here, in this connection's thread, not in the accept loop

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (TimeoutError, OSError):
            self.close_connection = True
            return
        if not self.raw_requestline or not self.server.begin(self):
            self.close_connection = True
            return
        try:
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
            elif self.parse_request():
                self._run_wsgi()
        except (TimeoutError, ConnectionError, ssl.SSLError):
            self.close_connection = True
        finally:
            if self.server.end(self):
                self.close_connection = True

    def _environ(self, body: _Body) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2] if isinstance(self.server.server_address, tuple) else ("localhost", "0")
        environ = {
            "REQUEST_METHOD": self.command, "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"), "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": self.headers.get("Content-Length", ""),
            "SERVER_NAME": str(host), "SERVER_PORT": str(port), "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0] if isinstance(self.client_address, tuple) else "unix",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "https" if self.server.tls else "http",
            "wsgi.input": body, "wsgi.errors": sys.stderr, "wsgi.multithread": True,
            "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _run_wsgi(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send_raw(411, [("Content-Type", "application/json")],
                           b'{"error":{"code":"length_required","message":"send a Content-Length; chunked bodies are not accepted","details":{}}}')
            self.close_connection = True
            return
        try:
            length = max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            length = 0
        body = _Body(self.rfile, length)
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        result = self.server.app(self._environ(body), start_response)
        try:
            payload = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        if body.remaining:  # the app refused without reading the whole body: the stream is out of step
            self.close_connection = True
        status_code = int(captured["status"].split()[0])
        self._send_raw(status_code, captured["headers"], payload, captured["status"])

    def _send_raw(self, code: int, headers: list[tuple[str, str]], payload: bytes, status: str | None = None) -> None:
        lines = [f"{self.request_version if self.request_version != 'HTTP/0.9' else 'HTTP/1.0'} {status or code}"]
        if not any(k.lower() == "content-length" for k, _ in headers):
            headers = headers + [("Content-Length", str(len(payload)))]
        lines += [f"{k}: {v}" for k, v in headers]
        if self.close_connection or self.server.draining:
            lines.append("Connection: close")
            self.close_connection = True
        self.log_request(code, len(payload))
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        # paths name secrets but never hold values; query strings are not logged (a token could be there)
        if self.server.access_log:
            request_line = self.requestline.split("?")[0] if hasattr(self, "requestline") else ""
            sys.stderr.write(f"{self.address_string()} {request_line!r} {args[1] if len(args) > 1 else ''}\n")


class _Tracking:
    """Connection bookkeeping shared by the TCP and unix servers: which handlers are mid-request."""

    app: WSGIApp
    tls = False
    access_log = False
    draining = False

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


class _UnixServer(_Tracking, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = False
    block_on_close = True


class WSGIServer:
    """Serve `app` on host:port (port 0 picks one) or on a unix socket, optionally with TLS."""

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 8716, *, unix_socket: Path | None = None,
                 tls_cert: Path | None = None, tls_key: Path | None = None, access_log: bool = False) -> None:
        if unix_socket is not None:
            self._httpd: Any = self._bind_unix(Path(unix_socket))
        else:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            _TCPServer.address_family = family
            self._httpd = _TCPServer((host, port), _Handler, bind_and_activate=True)
        httpd = self._httpd
        httpd._init_tracking()
        httpd.app, httpd.access_log = app, access_log
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
        old_umask = os.umask(0o177)  # the socket is created 0600: only its owner may connect
        try:
            server = _UnixServer(str(path), _Handler)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
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
