"""A small threaded HTTP/1.1 server for any WSGI application: our socket loop, h11's framing.

What `wsgiref.simple_server` lacks and this adds: keep-alive, one `sendall` per response, read
deadlines (a request head within `head_timeout` of its first byte, an idle keep-alive connection
closed after `idle_timeout`, a body within `read_timeout`), a cap on open connections (beyond it
a 503 and a close), TLS, a unix socket, and a graceful shutdown: stop accepting, let in-flight
requests finish, close idle connections, then return. Parsing and framing are h11's, in
`httpconn.py`; this module holds the connection loop, the WSGI adapter and the servers.
"""

from __future__ import annotations

import errno
import io
import os
import socket
import socketserver
import ssl
import stat
import struct
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote_to_bytes

import h11

from .http import quoted
from .httpconn import (HEAD_TIMEOUT_SECONDS, IDLE_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS, HTTPConnection, Refused, Timeouts)

WSGIApp = Callable[[dict[str, Any], Callable], Any]
MAX_CONNECTIONS = 256
"""Open connections served at once (one thread each); the next is answered 503 and closed."""
PEER_SHARE = 4
"""On a unix socket, one user (by the peer credentials the kernel gives) holds at most a
`PEER_SHARE`th of `MAX_CONNECTIONS`: on a shared host each tenant's functions run as its own user,
and one tenant's flood of connections must leave room for the others'. A waiting request
(`Prefer: wait`) is out of its user's count as it is out of the cap's."""
MAX_WAITING = 2048
"""Requests that may wait for a change (`Prefer: wait`) beyond the cap: a waiting request leaves
the count of `MAX_CONNECTIONS` for its wait (one thread each still), so idle watchers never
turn away work. Past this many, a request waits inside the cap like any other."""
TURN_AWAY_SECONDS = 1.0
"""How long a connection over the cap may take to receive its 503."""
MAX_TURNING_AWAY = 64
"""Connections over the cap answered 503 at once (a short-lived thread each); past this many, a
flood of connections is closed unanswered, so it never costs more threads than this."""
DECLINE_SECONDS = 0.0005
"""How long a worker that left a connection to a less busy one waits before looking again."""
MAX_DECLINES = 20
"""Looks a worker leaves to others (about 10 ms) before it accepts anyway, until it is again among
the least busy: a worker that is stuck or starved of CPU never holds new connections up for long."""

__all__ = ["WSGIServer", "READ_TIMEOUT_SECONDS", "HEAD_TIMEOUT_SECONDS", "IDLE_TIMEOUT_SECONDS", "MAX_CONNECTIONS"]


class _Input(io.RawIOBase):
    """`wsgi.input`: the request body as h11 frames it (Content-Length or chunked), never past its end."""

    def __init__(self, http: HTTPConnection) -> None:
        self._http = http

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._http.read_body(sys.maxsize if size is None or size < 0 else size)

    def readline(self, size: int | None = -1) -> bytes:
        return self.read(size)


def access_line(client: str, method: str, target: str, status: str) -> str:
    """The access log's line for one answered request (h11 lets only a token through as a method)."""
    return f"{client} {method} {quoted(target.split('?')[0])} {status.split()[0]}\n"


def run_app(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status, headers, body) of `app` on `environ`; the body is collected whole, for one write."""
    captured: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
        captured["status"], captured["headers"] = status, headers
        return written.append

    result = app(environ, start_response)
    try:
        written.extend(result)
    finally:
        getattr(result, "close", lambda: None)()
    headers = captured["headers"]
    for name, _ in headers:  # a plain loop: a generator costs a frame switch per header
        if name.lower() == "content-length":
            break
    else:
        headers = headers + [("Content-Length", str(sum(map(len, written))))]
    return captured["status"], headers, b"".join(written)


class _Handler(socketserver.BaseRequestHandler):
    """One connection: read a request, run the app, answer, until the client or the server closes."""

    server: "_Tracking"
    _over_share = False  # back from a wait beyond the cap or its peer's share (`_Tracking.unpark`)

    def setup(self) -> None:
        sock = self.request
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            # so a response never waits for an ACK (it means nothing on a unix socket)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(sock, ssl.SSLSocket):
            sock.settimeout(self.server.timeouts.head)
            sock.do_handshake()  # here, in this connection's thread, not in the accept loop
        self.http = HTTPConnection(sock, self.server.timeouts)
        # what every request on this connection has in its environ, built once
        self._connection_environ = {**self.server.base_environ, "CONTENT_TYPE": "", "CONTENT_LENGTH": "",
                                    "REMOTE_ADDR": self._client(), "wsgi.input": _Input(self.http),
                                    "sitesecrets.park": self.park}

    def handle(self) -> None:
        while self._serve_one():
            pass

    def _serve_one(self) -> bool:
        """Serve the next request; whether the connection stays open for another."""
        try:
            request = self.http.next_request()
        except Refused as refusal:
            self._refuse(refusal.status)
            return False
        if request is None or not self.server.begin(self.request):
            return False
        try:
            keeps_alive = self._answer(request)
        finally:
            draining = self.server.end(self.request)
        return keeps_alive and not draining

    def _answer(self, request: h11.Request) -> bool:
        http = self.http
        status, headers, body = run_app(self.server.app, self._environ(request))
        if http.body_timed_out:  # whatever the app made of a partial body, the client was too slow
            self._refuse(408)
            return False
        complete = http.request_is_complete()
        # an app that refused without reading the whole body leaves the stream out of step: close it
        http.respond(int(status[:3]), status[4:], headers, body, close=not complete or self.server.draining or self._over_share)
        if self.server.access_log:
            sys.stderr.write(access_line(self._client(), request.method.decode("latin-1"),
                                         request.target.decode("latin-1"), status))
        if not complete:
            http.linger()
        return http.keeps_alive

    @contextmanager
    def park(self):
        """Hold this connection outside the connection cap while its request waits for a change."""
        parked = self.server.park(self.request)
        try:
            yield
        finally:
            if parked:
                self._over_share = self.server.unpark(self.request)

    def _refuse(self, status: int) -> None:
        """This layer's own answer, then the close: after lingering for what the client still sends,
        unless it was refused for being too slow (408), which is not waited for again."""
        self.http.refuse(status)
        if status != 408:
            self.http.linger()

    def _client(self) -> str:
        return self.client_address[0] if isinstance(self.client_address, tuple) and self.client_address else "unix"

    def _environ(self, request: h11.Request) -> dict[str, Any]:
        target = request.target.decode("latin-1")
        path, _, query = target.partition("?")
        method, version = request.method, request.http_version
        environ = {
            **self._connection_environ,
            "REQUEST_METHOD": _METHODS.get(method) or method.decode("latin-1"),
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1") if "%" in path else path,  # PEP 3333: decoded, as latin-1
            "QUERY_STRING": query,
            "SERVER_PROTOCOL": _PROTOCOLS.get(version) or "HTTP/" + version.decode("latin-1"),
        }
        for name, value in request.headers.raw_items():  # one list comprehension, where iterating Headers calls Python per header
            key = _ENVIRON_KEYS.get(name) or _environ_key(name)
            text = value.decode("latin-1")
            previous = environ.get(key)
            environ[key] = f"{previous},{text}" if previous else text
        return environ


_METHODS = {method.encode(): method for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")}
_PROTOCOLS = {b"1.1": "HTTP/1.1", b"1.0": "HTTP/1.0"}
_ENVIRON_KEYS: dict[bytes, str] = {}
"""Each header name (as the client wrote it) as its environ key, for the names seen first:
the few a client sends are worked out once per process, not once per request."""
MAX_ENVIRON_KEYS = 512


def _environ_key(name: bytes) -> str:
    key = name.decode("latin-1").upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = "HTTP_" + key
    if len(_ENVIRON_KEYS) < MAX_ENVIRON_KEYS:  # names are the client's to choose: the table stays bounded
        _ENVIRON_KEYS[name] = key
    return key


class _Tracking:
    """Connection bookkeeping shared by the TCP and unix servers: how many are open, which are
    mid-request (finished on shutdown) and which idle (closed on shutdown)."""

    app: WSGIApp
    tls = False
    access_log = False
    draining = False
    timeouts = Timeouts()
    max_connections = MAX_CONNECTIONS
    max_per_peer = MAX_CONNECTIONS
    max_waiting = MAX_WAITING
    max_turning_away = MAX_TURNING_AWAY
    base_environ: dict[str, Any] = {}
    balance: Any = None  # see `WSGIServer.share`
    _declined = 0

    def get_request(self) -> Any:
        if self.balance is not None:
            if self.balance.may_accept():
                self._declined = 0
            elif self._declined < MAX_DECLINES:
                self._declined += 1
                time.sleep(DECLINE_SECONDS)  # the listening socket stays readable: do not spin on it
                raise BlockingIOError("another worker holds fewer connections: it takes this one")
        return super().get_request()  # type: ignore[misc]

    def _held(self) -> None:
        """Publish how many connections this worker holds (call with `_lock` held)."""
        if self.balance is not None:
            self.balance.hold(len(self._idle) + len(self._busy))

    def _init_tracking(self) -> None:
        self._lock = threading.Lock()
        self._idle: set[socket.socket] = set()  # connections between requests
        self._busy: set[socket.socket] = set()  # connections mid-request
        self._waiting: set[socket.socket] = set()  # connections whose request waits for a change (uncounted)
        self._turning_away = 0  # connections over the cap still receiving their 503
        self._peer_of: dict[socket.socket, Any] = {}  # the peer of each connection whose socket names one
        self._per_peer: Counter = Counter()  # each peer's connections in the cap's count (see `PEER_SHARE`)

    def peer(self, request: Any) -> Any:
        """Who is connecting, as far as the socket tells (None: it does not); see `PEER_SHARE`."""
        return None

    def _count(self, connection: socket.socket, step: int) -> None:
        peer = self._peer_of.get(connection)
        if peer is not None:
            self._per_peer[peer] += step

    def _room_for(self, peer: Any, held: int, held_by_peer: int) -> bool:
        """Whether one more connection of `peer` fits beside `held` ones (`held_by_peer` of them its
        own). Past its share, a user is still let in while a share's worth of places stays free for
        the others: where every tenant connects as one user (a shared `www-data`), that user keeps
        most of the cap, and where tenants are users of their own, none can take the last share."""
        if held >= self.max_connections:
            return False
        return peer is None or held_by_peer < self.max_per_peer or held < self.max_connections - self.max_per_peer

    def process_request(self, request: Any, client_address: Any) -> None:
        peer = self.peer(request)
        with self._lock:
            admitted = self._room_for(peer, len(self._idle) + len(self._busy), self._per_peer[peer] if peer is not None else 0)
            if admitted:
                self._idle.add(request)
                if peer is not None:
                    self._peer_of[request] = peer
                    self._per_peer[peer] += 1
                self._held()
            else:
                answered = self._turning_away < self.max_turning_away
                self._turning_away += answered
        if admitted:
            try:
                super().process_request(request, client_address)  # type: ignore[misc]
            except BaseException:  # no thread for it (the process is out of them): socketserver closes it
                self._release(request)
                raise
        elif answered:
            threading.Thread(target=self._turn_away, args=(request,), name="turn-away", daemon=True).start()
        else:
            self.shutdown_request(request)  # type: ignore[attr-defined]

    def _turn_away(self, request: Any) -> None:
        """503 and a close for a connection over the cap, in a thread of its own that lives briefly."""
        try:
            request.settimeout(TURN_AWAY_SECONDS)
            if isinstance(request, ssl.SSLSocket):
                request.do_handshake()
            http = HTTPConnection(request, Timeouts(TURN_AWAY_SECONDS, TURN_AWAY_SECONDS, TURN_AWAY_SECONDS))
            http.refuse(503)
            http.linger(TURN_AWAY_SECONDS)
        except (OSError, h11.LocalProtocolError):
            pass
        finally:
            self.shutdown_request(request)  # type: ignore[attr-defined]
            with self._lock:
                self._turning_away -= 1

    def begin(self, connection: socket.socket) -> bool:
        with self._lock:
            if self.draining:
                return False
            self._idle.discard(connection)
            self._busy.add(connection)
            return True

    def end(self, connection: socket.socket) -> bool:
        """Mark the connection idle; True when it should close because the server is draining."""
        with self._lock:
            self._busy.discard(connection)
            self._idle.add(connection)
            return self.draining

    def park(self, connection: socket.socket) -> bool:
        """Take a busy connection out of the cap's count while it waits; False when too many wait."""
        with self._lock:
            if len(self._waiting) >= self.max_waiting or connection not in self._busy:
                return False
            self._busy.discard(connection)
            self._waiting.add(connection)
            self._count(connection, -1)
            return True

    def unpark(self, connection: socket.socket) -> bool:
        """Count a connection back in once its wait is over; True when that puts it over the cap or
        its peer's share (others were let in while it waited): it closes after its answer, or one
        user could hold every place by waiting on many connections and keeping them alive after."""
        with self._lock:
            if connection not in self._waiting:
                return False
            self._waiting.discard(connection)
            self._busy.add(connection)
            self._count(connection, +1)
            peer = self._peer_of.get(connection)
            others = len(self._idle) + len(self._busy) - 1  # the room it needs, as if it were new
            return not self._room_for(peer, others, self._per_peer[peer] - 1 if peer is not None else 0)

    def start_draining(self) -> None:
        stop_waiting = getattr(self.app, "stop_waiting", None)
        if stop_waiting is not None:  # waiting requests answer now rather than hold the shutdown up
            stop_waiting()
        with self._lock:
            self.draining = True
            idle = list(self._idle)
        for connection in idle:  # wake threads waiting for a next request that will not come
            try:
                connection.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            super().finish_request(request, client_address)  # type: ignore[misc]
        finally:
            self._release(request)

    def _release(self, request: Any) -> None:
        """Give back the place a connection took in the cap's count and in its peer's."""
        with self._lock:
            if request not in self._waiting:  # a waiting one is out of its peer's count already
                self._count(request, -1)
            self._peer_of.pop(request, None)
            self._idle.discard(request)
            self._busy.discard(request)
            self._waiting.discard(request)
            self._held()

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

    def peer(self, request: Any) -> int | None:
        """The connecting process's user id, from the kernel (SO_PEERCRED): it cannot be forged."""
        try:
            _pid, uid, _gid = _CREDENTIALS.unpack(request.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size))
        except OSError:
            return None
        return uid


_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


class WSGIServer:
    """Serve `app` on host:port (port 0 picks one) or on a unix socket, optionally with TLS.

    The socket is bound here; `app` may be None and set later with `set_app`, which is how
    `serve --workers N` binds once in the parent and gives each forked worker an app of its own."""

    def __init__(self, app: WSGIApp | None, host: str = "127.0.0.1", port: int = 8716, *, unix_socket: Path | None = None,
                 tls_cert: Path | None = None, tls_key: Path | None = None, access_log: bool = False,
                 read_timeout: float = READ_TIMEOUT_SECONDS, head_timeout: float = HEAD_TIMEOUT_SECONDS,
                 idle_timeout: float = IDLE_TIMEOUT_SECONDS, max_connections: int = MAX_CONNECTIONS,
                 max_waiting: int = MAX_WAITING, max_turning_away: int = MAX_TURNING_AWAY,
                 max_per_peer: int | None = None) -> None:
        self._socket_file: tuple[int, int] | None = None
        context = None if tls_cert is None else _tls_context(tls_cert, tls_key)  # before the socket is made
        try:
            if unix_socket is not None:
                unix_socket = Path(unix_socket)
                self._httpd: Any = self._bind_unix(unix_socket)
            else:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                _TCPServer.address_family = family
                self._httpd = _TCPServer((host, port), _Handler, bind_and_activate=True)
        except OSError as error:
            if error.filename:  # says what and where already (`_remove_stale_socket`)
                raise
            where = unix_socket if unix_socket is not None else f"{'[' + host + ']' if ':' in host else host}:{port}"
            raise ServeError(f"cannot listen on {where}: {error.strerror or error}") from None
        httpd = self._httpd
        httpd._init_tracking()
        httpd.app, httpd.access_log, httpd.max_connections, httpd.max_waiting = app, access_log, max_connections, max_waiting
        httpd.max_turning_away = max_turning_away
        httpd.max_per_peer = max_per_peer if max_per_peer is not None else max(1, max_connections // PEER_SHARE)
        httpd.timeouts = Timeouts(read=read_timeout, head=head_timeout, idle=idle_timeout)
        if context is not None:
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
            httpd.tls = True
        self.unix_socket = unix_socket
        self._owns_path = True
        httpd.base_environ = self._base_environ()

    def set_app(self, app: WSGIApp) -> None:
        self._httpd.app = app

    def share(self, balance: Any = None) -> None:
        """Make the listening socket one of several processes' (forked workers; call it before the
        fork). Every worker's accept loop wakes for a new connection and one wins it: non-blocking,
        the others' accept fails at once instead of blocking their loop (and their shutdown) until
        the next connection. A worker's shutdown leaves a unix socket's file to `close()`.
        `balance` (a `workers.Balance`): a worker holding more connections than another lets it
        take the next one."""
        self._httpd.balance = balance
        self._httpd.socket.setblocking(False)
        self._httpd.base_environ["wsgi.multiprocess"] = True
        self._owns_path = False

    def close(self) -> None:
        """Release the listening socket without serving (the parent of forked workers, at the end)."""
        self._httpd.socket.close()
        self._unlink()

    def _base_environ(self) -> dict[str, Any]:
        """What every request's environ holds, built once."""
        address = self._httpd.server_address
        host, port = address[:2] if isinstance(address, tuple) else ("localhost", "0")
        return {
            "SCRIPT_NAME": "", "SERVER_NAME": str(host), "SERVER_PORT": str(port),
            "wsgi.version": (1, 0), "wsgi.url_scheme": "https" if self._httpd.tls else "http",
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False, "wsgi.input_terminated": True,
        }

    def _bind_unix(self, path: Path) -> _UnixServer:
        _remove_stale_socket(path)
        # Created 0660, never wider: its owner and its group may connect, which on a shared host is
        # the group of the directory it is made in (a setgid directory hands its group down).
        old_umask = os.umask(0o117)
        try:
            server = _UnixServer(str(path), _Handler)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o660)
        self._socket_file = _identity(path)
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
        if self._owns_path:
            self._unlink()

    def _unlink(self) -> None:
        """Remove the socket's file if it is still the one bound here (never what another server
        or anyone else has put at that path since)."""
        if self.unix_socket is not None and _identity(self.unix_socket) == self._socket_file:
            self.unix_socket.unlink()


class ServeError(Exception):
    """The server cannot listen or load its TLS certificate; the message says what, in one sentence."""


def _tls_context(cert: Path, key: Path | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2

    def passphrase() -> str:
        # asked only for an encrypted key; without a terminal (a service manager) nobody can type it
        if sys.stdin is None or not sys.stdin.isatty():
            raise ServeError(f"--tls-key {key or cert} is encrypted and there is no terminal to type its passphrase: "
                             "give the key unencrypted, in a file only the server's user may read (0600)")
        import getpass

        return getpass.getpass(f"passphrase of {key or cert}: ")

    _refuse_a_key_others_may_read("--tls-key" if key else "--tls-cert", key or cert)
    try:
        context.load_cert_chain(cert, key, password=passphrase)
    except ssl.SSLError as error:
        raise ServeError(f"cannot load --tls-cert {cert}" + (f" with --tls-key {key}" if key else "") +
                         f": not a PEM certificate chain and its private key ({error.reason or error})") from None
    except OSError as error:
        raise ServeError(f"cannot load --tls-cert {cert}" + (f" with --tls-key {key}" if key else "") +
                         f": {error.strerror or error}") from None
    return context


def _refuse_a_key_others_may_read(option: str, path: Path) -> None:
    """Refuse a private key every user of the machine may read or change: with it, any of them
    could pose as this server and collect the tokens sent to it. A group may read it (Debian's
    `ssl-cert` group, mode 0640), as the operator chose who is in that group. `option` is the one
    the file came by: a `--tls-cert` given alone holds the key as well, and is named as such."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # the load below says why it cannot be read
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        holding = "" if option == "--tls-key" else " holds a private key and"
        raise ServeError(f"{option} {path}{holding} can be read or changed by every user of this machine (mode {stat.S_IMODE(mode):04o}): "
                         f"chmod 600 it (or 640, with a group only the server's user is in)")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = path.lstat()
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _remove_stale_socket(path: Path) -> None:
    """Make way at `path` for a new unix socket: remove a socket nobody listens on any more (left
    by a server killed outright), refuse anything else. A typo'd path must never delete a file
    (`--unix-socket DATA/master.key`), and a second server must not take a live server's socket."""
    try:
        found = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(found.st_mode):
        raise OSError(errno.EEXIST, "--unix-socket names something that is not a socket; nothing was removed", str(path))
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except ConnectionRefusedError:
        path.unlink()  # nobody listens: a stale socket from a previous run
        return
    except OSError as error:
        raise OSError(error.errno, f"cannot tell whether a server listens on this socket ({error.strerror})", str(path)) from None
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, "a server already listens on this socket", str(path))
