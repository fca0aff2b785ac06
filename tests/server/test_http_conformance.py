"""Issue 12, part 1: the server's HTTP framing, driven through raw sockets as a load balancer, a
health check or an attacker would drive it. Each test is one rule of RFC 9110/9112 that the
hand-written parser broke; the interop with real clients is in test_http_interop.py.
"""

from __future__ import annotations

import json
import select
import socket
import socketserver
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import pytest

from server import wsgiserver
from server.wsgiserver import WSGIServer
from waiting import wait_until

SECRETS = "/v1/sites/default/secrets"
MIB = 1024 * 1024
CEILING = 20  # seconds: the most any answer may take on a busy machine; never waited for a pass


@pytest.fixture
def serve(app):
    """`serve(**options)`: the app on a loopback port of a WSGIServer built with `options`."""
    servers: list[tuple[WSGIServer, threading.Thread]] = []

    def start(**options) -> WSGIServer:
        server = WSGIServer(app, "127.0.0.1", 0, **options)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return server

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(CEILING)


@pytest.fixture
def server(serve) -> WSGIServer:
    return serve()


def connect(server: WSGIServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=CEILING)


@contextmanager
def connection(server: WSGIServer) -> Iterator[socket.socket]:
    with connect(server) as conn:
        yield conn


class Reader:
    """Responses off a raw socket, one at a time, framed by Content-Length (as ours all are)."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn, self.buffer = conn, b""

    def _fill(self) -> bool:
        chunk = self.conn.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def response(self, head_only: bool = False) -> tuple[bytes, dict[str, str], bytes]:
        """(status line, headers with lower-case names, body) of the next response."""
        while b"\r\n\r\n" not in self.buffer:
            assert self._fill(), f"closed before a whole response head: {self.buffer[:300]!r}"
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
        length = 0 if head_only else int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            assert self._fill(), "closed mid-body"
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status.encode(), headers, body

    def rest(self) -> bytes:
        """Everything else the server sends, until it closes the connection."""
        while self._fill():
            pass
        return self.buffer


def request(method: str, path: str, *, version: str = "1.1", headers: dict[str, str] | None = None,
            body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/{version}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def host(**more: str) -> dict[str, str]:
    return {"Host": "x", **more}


def secret_post(token: str, name: str, extra: dict[str, str] | None = None) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"name": name, "value": "v"}).encode()
    headers = host(**{"Authorization": f"Bearer {token}", "Content-Type": "application/json", **(extra or {})})
    return headers, body


def chunked(body: bytes, size: int = 7) -> bytes:
    pieces = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


# ------------------------------------------------------------------ HEAD


def test_head_is_answered_like_get_without_a_body(server) -> None:
    with connection(server) as conn:
        reader = Reader(conn)
        conn.sendall(request("GET", "/v1/health", headers=host()))
        _, _, get_body = reader.response()
        conn.sendall(request("HEAD", "/v1/health", headers=host()))
        status, headers, _ = reader.response(head_only=True)
        assert status == b"HTTP/1.1 200 OK"
        assert int(headers["content-length"]) == len(get_body)


def test_head_then_get_on_one_connection_stays_in_step(server) -> None:
    """The GET's answer follows the HEAD's head directly: no body bytes were sent in between."""
    with connection(server) as conn:
        reader = Reader(conn)
        conn.sendall(request("HEAD", "/v1/health", headers=host()) + request("GET", "/v1/health", headers=host()))
        reader.response(head_only=True)
        status, _, body = reader.response()
        assert status == b"HTTP/1.1 200 OK"
        assert json.loads(body)["status"] == "ok"


def test_head_of_a_protected_path_is_401_like_its_get(server) -> None:
    with connection(server) as conn:
        reader = Reader(conn)
        conn.sendall(request("HEAD", SECRETS, headers=host()) + request("GET", "/v1/health", headers=host()))
        status, headers, _ = reader.response(head_only=True)
        assert status.startswith(b"HTTP/1.1 401") and int(headers["content-length"]) > 0
        assert reader.response()[0] == b"HTTP/1.1 200 OK"


# ------------------------------------------------------------------ HTTP/1.0 and versions


def test_http10_keep_alive_is_answered_and_then_closed(server) -> None:
    """h11 keeps no HTTP/1.0 connection open: it says so (`Connection: close`) and closes, so a
    client such as `ab -k` never waits for an answer that will not come."""
    with connection(server) as conn:
        reader = Reader(conn)
        conn.sendall(request("GET", "/v1/health", version="1.0", headers={"Connection": "keep-alive"}))
        status, headers, body = reader.response()
        assert status == b"HTTP/1.1 200 OK" and headers["connection"] == "close"
        assert json.loads(body)["status"] == "ok"
        assert reader.rest() == b""  # closed by the server, long before any read timeout


def test_http11_without_host_is_400(server) -> None:
    with connection(server) as conn:
        conn.sendall(request("GET", "/v1/health"))
        reader = Reader(conn)
        status, headers, _ = reader.response()
        assert status.startswith(b"HTTP/1.1 400") and headers["connection"] == "close"
        assert reader.rest() == b""


@pytest.mark.parametrize("version", ["1.9", "2.0", "0.9"])
def test_other_http_versions_are_505_and_never_echoed(server, version) -> None:
    with connection(server) as conn:
        conn.sendall(request("GET", "/v1/health", version=version, headers=host()))
        status, _, _ = Reader(conn).response()
    assert status.startswith(b"HTTP/1.1 505")


def test_status_line_is_http11_for_an_http10_request(server) -> None:
    with connection(server) as conn:
        conn.sendall(request("GET", "/v1/health", version="1.0"))
        assert Reader(conn).response()[0] == b"HTTP/1.1 200 OK"


# ------------------------------------------------------------------ chunked bodies


def test_chunked_request_body_is_accepted(server, admin_token, api) -> None:
    headers, body = secret_post(admin_token, "CHUNKED", {"Transfer-Encoding": "chunked"})
    with connection(server) as conn:
        conn.sendall(request("POST", SECRETS, headers=headers, body=chunked(body)))
        status, _, answer = Reader(conn).response()
    assert status.startswith(b"HTTP/1.1 201"), answer
    assert api.post(f"{SECRETS}/CHUNKED/reveal").json()["value"] == "v"


def test_chunked_request_body_over_the_cap_is_413(server, admin_token, db_rows) -> None:
    before = db_rows()
    body = json.dumps({"name": "BIG", "value": "x" * MIB}).encode()
    headers, _ = secret_post(admin_token, "BIG", {"Transfer-Encoding": "chunked"})
    with connection(server) as conn:
        conn.sendall(request("POST", SECRETS, headers=headers, body=chunked(body, 65536)))
        status, _, answer = Reader(conn).response()
    assert status.startswith(b"HTTP/1.1 413") and b"payload_too_large" in answer
    assert db_rows() == before


def test_malformed_chunk_framing_is_refused_and_changes_nothing(server, admin_token, db_rows) -> None:
    before = db_rows()
    headers, body = secret_post(admin_token, "BROKEN", {"Transfer-Encoding": "chunked"})
    framed = b"%x\r\n%s\r\nzz\r\n" % (len(body), body)  # a whole JSON body, then a chunk size that is no number
    with connection(server) as conn:
        conn.sendall(request("POST", SECRETS, headers=headers, body=framed))
        status, headers, _ = Reader(conn).response()
    assert status.startswith(b"HTTP/1.1 400") and headers["connection"] == "close"
    assert db_rows() == before


# ------------------------------------------------------------------ ambiguous framing


SMUGGLED = request("GET", "/v1/sites", headers=host())


def assert_one_refusal_then_close(server, raw: bytes, status_prefix: bytes = b"HTTP/1.1 4") -> None:
    """`raw` gets one error and a close: whatever followed it is never read as a next request."""
    with connection(server) as conn:
        conn.sendall(raw)
        reader = Reader(conn)
        status, headers, _ = reader.response()
        assert status.startswith(status_prefix) or status.startswith(b"HTTP/1.1 501"), status
        assert headers["connection"] == "close"
        assert b"HTTP/1.1" not in reader.rest()


def test_content_length_with_transfer_encoding_is_400_and_a_close(server) -> None:
    headers = host(**{"Content-Length": "5", "Transfer-Encoding": "chunked"})
    assert_one_refusal_then_close(server, request("POST", "/v1/sites", headers=headers, body=b"0\r\n\r\n" + SMUGGLED),
                                  b"HTTP/1.1 400")


def test_repeated_transfer_encoding_is_refused_and_closed(server) -> None:
    raw = (b"POST /v1/sites HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"0\r\n\r\n" + SMUGGLED)
    assert_one_refusal_then_close(server, raw)


def test_transfer_encoding_other_than_chunked_is_refused_and_closed(server) -> None:
    raw = request("POST", "/v1/sites", headers=host(**{"Transfer-Encoding": "gzip, chunked"}), body=b"0\r\n\r\n" + SMUGGLED)
    assert_one_refusal_then_close(server, raw)


@pytest.mark.parametrize("length", ["+4", "0_4", "-2", "4 4", "0x4", "4, 5"])
def test_content_length_that_is_not_plain_digits_is_400_and_a_close(server, length) -> None:
    raw = request("POST", "/v1/sites", headers=host(**{"Content-Length": length}), body=b"{}{}" + SMUGGLED)
    assert_one_refusal_then_close(server, raw, b"HTTP/1.1 400")


def test_differing_content_lengths_are_400_and_a_close(server) -> None:
    raw = b"POST /v1/sites HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n{}{}" + SMUGGLED
    assert_one_refusal_then_close(server, raw, b"HTTP/1.1 400")


# ------------------------------------------------------------------ Expect: 100-continue


def test_expect_continue_with_a_bad_token_gets_401_and_no_100(server) -> None:
    headers = host(**{"Authorization": "Bearer ss_wrong", "Content-Type": "application/json",
                      "Content-Length": str(3 * MIB), "Expect": "100-continue"})
    with connection(server) as conn:
        conn.sendall(request("POST", SECRETS, headers=headers))
        status, headers, _ = Reader(conn).response()
    assert status.startswith(b"HTTP/1.1 401")
    assert headers["connection"] == "close"  # the body never came: the connection cannot be reused


def test_expect_continue_over_the_cap_gets_413_and_no_100(server, admin_token) -> None:
    headers = host(**{"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json",
                      "Content-Length": str(3 * MIB), "Expect": "100-continue"})
    with connection(server) as conn:
        conn.sendall(request("POST", SECRETS, headers=headers))
        status, _, body = Reader(conn).response()
    assert status.startswith(b"HTTP/1.1 413") and b"payload_too_large" in body


def test_expect_continue_accepted_gets_100_then_the_answer(server, admin_token) -> None:
    headers, body = secret_post(admin_token, "CONTINUED", {"Expect": "100-continue"})
    headers["Content-Length"] = str(len(body))
    with connection(server) as conn:
        reader = Reader(conn)
        conn.sendall(request("POST", SECRETS, headers=headers))
        while b"\r\n\r\n" not in reader.buffer:
            assert reader._fill()
        assert reader.buffer == b"HTTP/1.1 100 Continue\r\n\r\n"
        reader.buffer = b""
        conn.sendall(body)
        assert reader.response()[0].startswith(b"HTTP/1.1 201")


def test_expect_continue_is_never_answered_to_http10(server, admin_token) -> None:
    headers, body = secret_post(admin_token, "OLDCLIENT", {"Expect": "100-continue"})
    headers["Content-Length"] = str(len(body))
    with connection(server) as conn:
        conn.sendall(request("POST", SECRETS, version="1.0", headers=headers))
        conn.sendall(body)
        answer = Reader(conn).rest()
    assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
    assert b" 100 " not in answer


# ------------------------------------------------------------------ deadlines and the connection cap


def test_trickled_request_heads_are_cut_off_at_the_head_deadline(serve) -> None:
    """20 connections each send a head one byte every 0.1 s, every byte far within the read
    timeout: each is answered 408 and closed once its head is a second old."""
    server = serve(head_timeout=1, read_timeout=30, idle_timeout=30)
    head = request("GET", "/v1/health", headers=host(**{"X-Padding": "p" * 200}))
    open_ = [connect(server) for _ in range(20)]
    started = time.monotonic()
    try:
        for byte in head:
            for conn in select.select(open_, [], [], 0)[0]:  # the server spoke: it must be a 408 and a close
                answer = Reader(conn).rest()
                assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
                open_.remove(conn)
                conn.close()
            if not open_ or time.monotonic() - started > CEILING:
                break
            for conn in open_:
                conn.sendall(bytes([byte]))
            time.sleep(0.1)
    finally:
        for conn in open_:
            conn.close()
    assert not open_, f"{len(open_)} connections still held after {time.monotonic() - started:.1f} s"


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(serve) -> None:
    server = serve(idle_timeout=1, read_timeout=60)
    with connection(server) as conn:
        reader = Reader(conn)
        conn.sendall(request("GET", "/v1/health", headers=host()))
        assert reader.response()[0] == b"HTTP/1.1 200 OK"
        started = time.monotonic()
        assert reader.rest() == b""
    assert time.monotonic() - started < CEILING < 60


def test_a_connection_that_never_speaks_is_closed_after_the_idle_timeout(serve) -> None:
    server = serve(idle_timeout=1, read_timeout=60)
    with connection(server) as conn:
        started = time.monotonic()
        assert Reader(conn).rest() == b""
    assert time.monotonic() - started < CEILING < 60


def test_connections_over_the_cap_get_503_and_a_close(serve) -> None:
    server = serve(max_connections=2)
    held = [connect(server) for _ in range(2)]
    try:
        for conn in held:  # both admitted and served
            conn.sendall(request("GET", "/v1/health", headers=host()))
            assert Reader(conn).response()[0] == b"HTTP/1.1 200 OK"
        with connection(server) as extra:
            extra.sendall(request("GET", "/v1/health", headers=host()))
            reader = Reader(extra)
            status, headers, _ = reader.response()
            assert status.startswith(b"HTTP/1.1 503") and headers["connection"] == "close"
            assert reader.rest() == b""
    finally:
        for conn in held:
            conn.close()
    deadline = time.monotonic() + CEILING
    while True:  # once a held connection's thread has ended, a new one is served again
        with connection(server) as conn:
            conn.sendall(request("GET", "/v1/health", headers=host()))
            if Reader(conn).response()[0] == b"HTTP/1.1 200 OK":
                break
        assert time.monotonic() < deadline
        time.sleep(0.05)


def connect_unix(server: WSGIServer) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(CEILING)
    conn.connect(str(server.unix_socket))
    return conn


def health(conn: socket.socket) -> bytes:
    conn.sendall(request("GET", "/v1/health", headers=host()))
    return Reader(conn).response()[0]


def test_on_a_unix_socket_one_user_past_its_share_leaves_the_last_share_to_others(serve, tmp_path) -> None:
    """The kernel names each connecting user (SO_PEERCRED): past its share of 2, this process is
    let in while 2 places stay free for other users (6 of the cap's 8); its 7th gets the cap's 503."""
    server = serve(unix_socket=tmp_path / "s.sock", max_connections=8, max_per_peer=2)
    held = [connect_unix(server) for _ in range(6)]
    try:
        assert [health(conn) for conn in held] == [b"HTTP/1.1 200 OK"] * 6
        with connect_unix(server) as extra:
            extra.sendall(request("GET", "/v1/health", headers=host()))
            status, headers, body = Reader(extra).response()
            assert status.startswith(b"HTTP/1.1 503") and headers["connection"] == "close"
            assert json.loads(body)["error"]["code"] == "server_busy"
    finally:
        for conn in held:
            conn.close()

    def served_again() -> bool:  # once a closed connection's thread has ended, its place is the user's again
        with connect_unix(server) as conn:
            return health(conn) == b"HTTP/1.1 200 OK"

    wait_until(served_again, "the user's places freed by its closed connections")


def test_the_last_share_is_another_users(serve, tmp_path, monkeypatch) -> None:
    """Another tenant, another user: it gets in where the first one, past its share, is refused.
    (A second user id is the one thing a test not run as root cannot make, so the kernel's answer
    is given here.)"""
    users = iter([1001] * 7 + [1002, 1002, 1002])
    monkeypatch.setattr(wsgiserver._UnixServer, "peer", lambda self, request: next(users))
    server = serve(unix_socket=tmp_path / "s.sock", max_connections=8, max_per_peer=2)
    held = [connect_unix(server) for _ in range(6)]  # the first user: its share, then all but the last share
    try:
        assert [health(conn) for conn in held] == [b"HTTP/1.1 200 OK"] * 6
        with connect_unix(server) as over:
            assert health(over).startswith(b"HTTP/1.1 503")
        others = [connect_unix(server) for _ in range(2)]
        assert [health(conn) for conn in others] == [b"HTTP/1.1 200 OK"] * 2  # the cap is full now
        with connect_unix(server) as full:
            assert health(full).startswith(b"HTTP/1.1 503")
        for conn in others:
            conn.close()
    finally:
        for conn in held:
            conn.close()


def test_a_tcp_listener_has_no_per_user_share(serve) -> None:
    """A TCP peer is an address, which every local user (or a proxy's clients) shares: only the cap holds."""
    server = serve(max_connections=4)
    held = [connect(server) for _ in range(4)]
    try:
        assert [health(conn) for conn in held] == [b"HTTP/1.1 200 OK"] * 4
    finally:
        for conn in held:
            conn.close()


def test_a_connection_given_no_thread_frees_its_place(serve, tmp_path, monkeypatch) -> None:
    """A process out of threads (a flood's very aim) cannot serve the connection it accepted: it
    closes it, and the place it took in the cap and in its user's share is free again at once."""
    server = serve(unix_socket=tmp_path / "s.sock", max_connections=1, max_per_peer=1)
    serve_in_a_thread = socketserver.ThreadingMixIn.process_request
    failures = iter([RuntimeError("can't start new thread")])  # the kernel's refusal, once

    def out_of_threads_once(self, request, client_address) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        serve_in_a_thread(self, request, client_address)

    monkeypatch.setattr(socketserver.ThreadingMixIn, "process_request", out_of_threads_once)
    with connect_unix(server) as unserved:
        assert unserved.recv(1) == b""  # closed unanswered
    with connect_unix(server) as conn:
        assert health(conn) == b"HTTP/1.1 200 OK"


def turning_away() -> int:
    """Threads answering a connection over the cap with its 503."""
    return sum(thread.name == "turn-away" for thread in threading.enumerate())


def test_a_flood_over_the_cap_costs_a_bounded_number_of_threads(serve, monkeypatch) -> None:
    """Each 503 takes a short-lived thread; past `max_turning_away` of them at once, the connection
    is closed unanswered, so a flood of connections cannot make the server start thread after thread."""
    monkeypatch.setattr(wsgiserver, "TURN_AWAY_SECONDS", CEILING)  # refusals last until their client closes
    server = serve(max_connections=1, max_turning_away=2)
    held = connect(server)
    flood: list[socket.socket] = []
    try:
        held.sendall(request("GET", "/v1/health", headers=host()))
        assert Reader(held).response()[0] == b"HTTP/1.1 200 OK"
        flood = [connect(server) for _ in range(2)]  # silent: their 503 threads wait out the linger
        wait_until(lambda: turning_away() == 2, "two refusals under way")
        with connection(server) as extra:  # the third at once is closed without an answer
            assert Reader(extra).rest() == b""
        assert turning_away() == 2
    finally:
        for conn in [held, *flood]:
            conn.close()
    wait_until(lambda: turning_away() == 0, "the refusals' threads to end")  # each refusal's thread ends and gives its place back


# ------------------------------------------------------------------ bodies over the limit


@pytest.mark.parametrize("size", [3 * MIB, 30 * MIB], ids=["3MB", "30MB"])
def test_a_body_over_the_limit_gets_its_413_read_not_a_reset(server, admin_token, size) -> None:
    """The client sends its whole body before reading (as requests does); the server answers
    without reading it, and must not close in a way that destroys the answer."""
    headers = host(**{"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json",
                      "Content-Length": str(size)})
    with connection(server) as conn:
        conn.sendall(request("POST", SECRETS, headers=headers))
        try:
            conn.sendall(b"x" * size)
        except OSError:
            pass  # the server may stop reading once it has the answer out; the answer must still be there
        status, _, body = Reader(conn).response()
    assert status.startswith(b"HTTP/1.1 413") and b"payload_too_large" in body


def test_a_small_refused_body_already_received_keeps_the_connection(server) -> None:
    """A 401 to a POST whose small body came with its head: the body is dropped, the connection kept."""
    headers = host(**{"Authorization": "Bearer ss_wrong", "Content-Type": "application/json", "Content-Length": "2"})
    with connection(server) as conn:
        reader = Reader(conn)
        conn.sendall(request("POST", SECRETS, headers=headers, body=b"{}") + request("GET", "/v1/health", headers=host()))
        status, headers, _ = reader.response()
        assert status.startswith(b"HTTP/1.1 401") and "connection" not in headers
        assert reader.response()[0] == b"HTTP/1.1 200 OK"


# ------------------------------------------------------------------ this layer's refusals: the one error shape


REFUSED = {
    "no Host": (request("GET", "/v1/health"), 400, "bad_request"),
    "HTTP/2.0": (request("GET", "/v1/health", version="2.0", headers=host()), 505, "http_version_not_supported"),
    "gzip": (request("POST", "/v1/sites", headers=host(**{"Transfer-Encoding": "gzip, chunked"})), 501, "not_implemented"),
    "a 70 KiB header": (request("GET", "/v1/health", headers=host(**{"X-Big": "b" * 70 * 1024})), 431, "headers_too_large"),
}


@pytest.mark.parametrize("raw, status, code", REFUSED.values(), ids=REFUSED.keys())
def test_a_request_refused_before_the_application_gets_the_contracts_error_body(server, raw, status, code) -> None:
    # "every error has one shape": a client parsing the error (ours, a script with jq) reads why,
    # not "HTTP 400" with a line of plain text
    from shared.models import ErrorBody

    with connection(server) as conn:
        conn.sendall(raw)
        line, headers, body = Reader(conn).response()
    assert line.startswith(b"HTTP/1.1 %d" % status) and headers["content-type"] == "application/json"
    # docs/API.md: "Every response carries Cache-Control: no-store and X-Content-Type-Options: nosniff"
    assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"
    error = ErrorBody.model_validate_json(body).error
    assert error.code == code and error.message.endswith(".")


def test_the_503_over_the_cap_says_why_and_when_to_try_again(serve) -> None:
    from shared.models import ErrorBody

    server = serve(max_connections=1)
    with connection(server) as held:
        held.sendall(request("GET", "/v1/health", headers=host()))
        assert Reader(held).response()[0] == b"HTTP/1.1 200 OK"
        with connection(server) as extra:
            extra.sendall(request("GET", "/v1/health", headers=host()))
            line, headers, body = Reader(extra).response()
    assert line.startswith(b"HTTP/1.1 503") and headers["retry-after"] == "1"
    assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"
    assert ErrorBody.model_validate_json(body).error.code == "server_busy"


def test_a_head_too_slow_gets_the_408_error_body(serve) -> None:
    from shared.models import ErrorBody

    server = serve(head_timeout=0.5, read_timeout=30, idle_timeout=30)
    with connection(server) as conn:
        conn.sendall(b"GET /v1/health HTTP/1.1\r\n")
        line, _, body = Reader(conn).response()
    assert line.startswith(b"HTTP/1.1 408") and ErrorBody.model_validate_json(body).error.code == "request_timeout"
