"""One HTTP/1.1 connection, framed by h11: request heads in, bodies in, responses out, with deadlines.

h11 (the state machine of httpx and uvicorn) does the parsing and framing: Content-Length and
chunked bodies, keep-alive, HEAD answered without a body, `Expect: 100-continue`, and it refuses
what could be read two ways (a `Content-Length` of `+4`, a repeated `Transfer-Encoding`). This
module adds what h11 leaves to its caller: the socket reads and their deadlines, the few checks
it does not make, and a close that lets the client read the answer it was sent.
"""

from __future__ import annotations

import json
import mmap
import re
import socket
import time
from dataclasses import dataclass

import h11

from shared.models import ErrorCode

HEAD_TIMEOUT_SECONDS = 10
"""A request's head must arrive whole within this long of its first byte, however it trickles."""
IDLE_TIMEOUT_SECONDS = 30
"""How long a connection may wait for the first byte of its next request before it is closed."""
READ_TIMEOUT_SECONDS = 30
"""Each read and write on the socket, and a whole request body from its first read."""
MAX_HEAD_BYTES = 64 * 1024 + 4096
"""A request head larger than this is 431: a 64 KiB path and the usual headers fit."""
LINGER_BYTES = 64 * 1024 * 1024
LINGER_SECONDS = 5
"""After answering a request whose body was not read, at most this much of it is read and
dropped, so the client (which may still be sending) reads the answer instead of a reset."""
RECEIVE_SIZE = 65536

REASONS = {100: "Continue", 400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large",
           501: "Not Implemented", 503: "Service Unavailable", 505: "HTTP Version Not Supported"}
REFUSALS = {
    400: (ErrorCode.bad_request, "The request is not well-formed HTTP/1.1 (RFC 9112)."),
    408: (ErrorCode.request_timeout, "The request did not arrive in time."),
    431: (ErrorCode.headers_too_large, f"The request's head is larger than {MAX_HEAD_BYTES // 1024} KiB."),
    501: (ErrorCode.not_implemented, "No transfer coding but chunked is taken: send a Content-Length or a chunked body."),
    503: (ErrorCode.server_busy, "The server is serving as many connections as it may; try again shortly."),
    505: (ErrorCode.http_version_not_supported, "Only HTTP/1.1 and HTTP/1.0 are served."),
}
"""This layer's own refusals, in the one shape every error has (`shared.models.ErrorBody`)."""
_REFUSAL_BODIES = {status: json.dumps({"error": {"code": code.value, "message": message, "details": {}}}).encode()
                   for status, (code, message) in REFUSALS.items()}


@dataclass(frozen=True)
class Timeouts:
    read: float = READ_TIMEOUT_SECONDS
    head: float = HEAD_TIMEOUT_SECONDS
    idle: float = IDLE_TIMEOUT_SECONDS


class Refused(Exception):
    """A request this layer answers itself (400, 408, 431, 501, 505), then closes the connection."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class BodyCutOff(ConnectionAbortedError):
    """The request body ended before its framing said it would, or was malformed. An OSError, as
    gunicorn's own `NoMoreData` is, so the application can refuse the request without acting on it."""


class BodyTimedOut(TimeoutError):
    """The request body did not arrive within the read timeout of its first read."""


class HTTPConnection:
    """h11 over one connected socket (plain, TLS or unix). Not thread-safe: one thread per connection."""

    def __init__(self, sock: socket.socket, timeouts: Timeouts) -> None:
        self.sock = sock
        self.timeouts = timeouts
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        # anonymous pages, resident only once a read reaches them: a bytearray is zeroed (so touched)
        # whole, 64 KiB per connection even for the small heads that most requests are; 1,000
        # connections waiting for a change (`Prefer: wait`) would hold 64 MiB for nothing
        self._buffer = mmap.mmap(-1, RECEIVE_SIZE)
        self._view = memoryview(self._buffer)
        self._method = b""
        self._pending = b""  # body bytes h11 handed over beyond what the application asked for
        self._body_deadline: float | None = None
        self.body_timed_out = False
        self._received = 0  # bytes read since the current request head was asked for

    # ------------------------------------------------------------------ reading

    def _receive(self, deadline: float, timeout: float | None = None) -> None:
        """One read into h11 (an empty one is the client's end of stream); TimeoutError at the deadline.
        `timeout`: the time left to the deadline when the caller knows it exactly (it just set it)."""
        if timeout is None:
            timeout = deadline - time.monotonic()
        if timeout <= 0:
            raise TimeoutError
        self._set_timeout(timeout)
        try:
            count = self.sock.recv_into(self._buffer)
        except TimeoutError:
            raise
        except OSError:
            count = 0  # reset by the peer: the same as its end of stream for what follows
        self._received += count
        self.h11.receive_data(self._view[:count] if count else b"")

    def _set_timeout(self, timeout: float) -> None:
        # a system call each time; a keep-alive connection asks for the same idle and read
        # timeouts (both 30 s by default) request after request, so most calls change nothing
        if self.sock.gettimeout() != timeout:
            self.sock.settimeout(timeout)

    def next_request(self) -> h11.Request | None:
        """The next request's head, or None once the client has closed or stayed idle too long.

        Raises `Refused` for a head h11 rejects, one that does not arrive whole within the head
        deadline (408), an HTTP version other than 1.0 and 1.1 (505), and a request framed by
        both `Content-Length` and `Transfer-Encoding` (400: RFC 9112 6.3 lets a server refuse it,
        and that leaves no way for a proxy in front of us to read it differently).
        """
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
        self._method, self._pending, self._body_deadline, self.body_timed_out = b"", b"", None, False
        self._received = 0
        idle = self.timeouts.idle
        deadline, started = time.monotonic() + idle, False
        # with nothing buffered (no pipelined request, no end of stream) h11 could only answer
        # NEED_DATA: read first, then ask it once
        waiting = self.h11.their_state is h11.IDLE and self.h11.trailing_data == (b"", False)
        while True:
            if waiting:
                try:
                    self._receive(deadline, None if started else idle)
                except TimeoutError:
                    if started:
                        raise Refused(408) from None
                    return None
                if not started:
                    started, deadline = True, time.monotonic() + self.timeouts.head
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as error:
                raise Refused(error.error_status_hint) from None
            if type(event) is h11.Request:
                self._method = event.method
                _check(event)
                # h11 bounds only a head still incomplete: one that arrives whole in a read or two
                # may be nearly twice MAX_HEAD_BYTES. What h11 held from before this call is at most
                # one read, so a head that came with fewer new bytes than this is within the cap.
                if self._received > MAX_HEAD_BYTES - RECEIVE_SIZE:
                    _check_head_size(event)
                return event
            if event is not h11.NEED_DATA:
                return None  # ConnectionClosed
            waiting = True

    def read_body(self, size: int) -> bytes:
        """Up to `size` bytes of the request body: fewer only at its end.

        The first read that has to wait for the client sends `100 Continue` if it asked for one:
        the application reads the body only once it has accepted the token and the size, so the
        100 says exactly that. Raises `BodyTimedOut` past the body deadline and `BodyCutOff` if
        the body breaks off or its chunked framing is malformed.
        """
        out = bytearray()
        while len(out) < size:
            if self._pending:
                take = size - len(out)
                out += self._pending[:take]
                self._pending = self._pending[take:]
                continue
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError:
                raise BodyCutOff("the request body broke off or is malformed") from None
            if type(event) is h11.Data:
                self._pending = event.data
            elif event is h11.NEED_DATA:
                self._wait_for_body()
            else:
                break  # EndOfMessage
        return bytes(out)

    def _wait_for_body(self) -> None:
        if self.h11.they_are_waiting_for_100_continue:
            self._send(self.h11.send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")))
        if self._body_deadline is None:
            self._body_deadline = time.monotonic() + self.timeouts.read
        try:
            self._receive(self._body_deadline)
        except TimeoutError:
            self.body_timed_out = True
            raise BodyTimedOut("the request body did not arrive in time") from None

    def request_is_complete(self) -> bool:
        """Whether the whole request has been read, dropping body bytes already received but never
        asked for (an application may refuse before reading); no waiting on the socket."""
        self._pending = b""
        while self.h11.their_state is h11.SEND_BODY:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError:
                return False
            if event is h11.NEED_DATA:
                return False
        return self.h11.their_state is h11.DONE

    # ------------------------------------------------------------------ writing

    def _send(self, data: bytes) -> None:
        self._set_timeout(self.timeouts.read)
        self.sock.sendall(data)

    def respond(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes, *, close: bool) -> None:
        """Send one whole response in one write (headers and body together, so Nagle's algorithm
        and delayed ACKs never stall a keep-alive client); no body to a HEAD request."""
        parts = self.h11.send_with_data_passthrough(_response(status, reason, headers, close))
        if body and self._method != b"HEAD":
            parts += self.h11.send_with_data_passthrough(h11.Data(data=body))
        parts += self.h11.send_with_data_passthrough(_END)
        self._send(b"".join(parts))

    def refuse(self, status: int) -> None:
        """This layer's own answer to a request it will not pass on, ahead of a close."""
        status = status if status in REFUSALS else 400  # (h11's hint for what it refuses is 400, 431 or 501)
        body = _REFUSAL_BODIES[status]
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                   ("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store")]
        if status == 503:
            headers.append(("Retry-After", "1"))
        if self.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            self.respond(status, REASONS.get(status, ""), headers, body, close=True)

    @property
    def keeps_alive(self) -> bool:
        """Whether the connection can carry another request after this response."""
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE

    def linger(self, seconds: float = LINGER_SECONDS) -> None:
        """Stop sending, then read and drop what the client still sends, within bounds, before the
        close: closing with unread data makes the kernel send a reset, which can destroy the answer
        before the client reads it (a 413 to a client still uploading 30 MB)."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            deadline, left = time.monotonic() + seconds, LINGER_BYTES
            while left > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.sock.settimeout(remaining)
                count = self.sock.recv_into(self._buffer)
                if not count:
                    break
                left -= count
        except OSError:
            pass  # the client is gone: nothing left to protect


_END = h11.EndOfMessage()
"""Every response's end: an event is immutable, and building one costs a few thousand instructions."""
_MAX_RESPONSES = 1024
_responses: dict[tuple, h11.Response] = {}
"""h11 `Response` events already built, by what they were built from. Building one validates every
header against the RFC's grammar (callgrind: 77 k instructions, 44 k of them h11's regexes, per
env fetch); an event is immutable, and most answers repeat one of a few heads (an unchanged
environment: the same ETag and length), so a head seen before is handed to h11 as it was built."""


def _response(status: int, reason: str, headers: list[tuple[str, str]], close: bool) -> h11.Response:
    key = (status, reason, tuple(headers), close)
    response = _responses.get(key)
    if response is None:
        # h11 takes str or bytes and turns each str into bytes itself, one Python call per name and
        # per value; encoded here in one pass, as ASCII as h11 does, the same bytes cost less than half
        encoded = [(name.encode("ascii"), value.encode("ascii")) for name, value in headers]
        if close:
            encoded.append((b"Connection", b"close"))
        response = h11.Response(status_code=status, headers=encoded, reason=reason.encode("ascii"))
        if len(_responses) >= _MAX_RESPONSES:
            _responses.clear()  # bounded: heads that never repeat (a Location, a Retry-After) only churn it
        _responses[key] = response  # set whole: threads share it, and a lost race only builds one twice
    return response


_FRAMING = {b"content-length", b"transfer-encoding"}
_RAW_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
"""A request target holding one of these raw (not percent-encoded) is not a URI (RFC 3986)."""


def _check_head_size(request: h11.Request) -> None:
    if len(request.target) + sum(len(name) + len(value) for name, value in request.headers.raw_items()) > MAX_HEAD_BYTES:
        raise Refused(431)


def _check(request: h11.Request) -> None:
    """What h11 lets through and this server refuses (see `HTTPConnection.next_request`)."""
    if request.http_version not in (b"1.1", b"1.0"):
        raise Refused(505)
    # raw_items is one list comprehension; iterating h11's Headers is a Python call per header
    if len({name.lower() for name, _ in request.headers.raw_items()} & _FRAMING) > 1:
        raise Refused(400)
    if _RAW_CONTROL.search(request.target):  # h11 takes any byte but NUL and space
        raise Refused(400)
