"""Requests, responses and API errors: the WSGI edge of the application.

`Request` wraps a WSGI environ and reads the body at most once, under the 1 MiB cap, before
anything parses it. `ApiError` is the one way a handler refuses a request; `error_response`
turns it into API.md's error shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ValidationError

from shared.fielderrors import field_errors
from shared.limits import MAX_REQUEST_BYTES
from shared.models import ERROR_STATUS, ErrorBody, ErrorCode, ErrorDetail

M = TypeVar("M", bound=BaseModel)

BASE_HEADERS = [
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
]


MAX_LOGGED_PATH = 200
"""How much of a request's path an audit event or a log line keeps (a path may be 64 KB)."""


_TOKEN_IN_TEXT = re.compile(r"(?:s|%73)(?:s|%73)(?:_|%5[Ff])(?:[A-Za-z0-9_-]|%[0-9A-Fa-f]{2}){43}")
"""A token as the server mints them (`auth.TOKEN_PREFIX` and 32 bytes of base64url), any of its
characters percent-encoded or not: the access log keeps a request's target as it was sent, where
a client may have encoded them (`ss%5F...`)."""


def without_tokens(text: str) -> str:
    """`text` with anything shaped like a token masked as `ss_***`: what a path holds when a token
    is pasted where its id belongs (`DELETE /v1/tokens/ss_...`, `token revoke ss_...`), for the
    audit events and log lines that name the path."""
    return _TOKEN_IN_TEXT.sub("ss_***", text)


def bounded(path: str) -> str:
    """`path` as an audit event or a log line keeps it: `without_tokens`, then cut to
    `MAX_LOGGED_PATH` characters, saying how much was left out."""
    path = without_tokens(path)
    if len(path) <= MAX_LOGGED_PATH:
        return path
    return f"{path[:MAX_LOGGED_PATH]}...({len(path) - MAX_LOGGED_PATH} more characters)"


def quoted(text: str) -> str:
    """`text` as a log line may hold it: bounded, then quoted with every newline, escape, C1
    control or bidirectional mark written as an escape, so that no request can forge a log line
    or drive the terminal of whoever reads the log."""
    return repr(bounded(text))


class ApiError(Exception):
    """A refusal with a machine code, one human sentence, and details that never hold a value."""

    def __init__(self, code: ErrorCode, message: str, details: dict[str, Any] | None = None,
                 headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or []

    @property
    def status(self) -> int:
        return ERROR_STATUS[self.code]


def not_found(kind: str, name: str) -> ApiError:
    """404 naming what is missing; `details.resource` lets a client tell a missing app from a missing secret."""
    return ApiError(ErrorCode.not_found, f"{kind} {name!r} does not exist", {"resource": kind, "name": name})


def too_long(parameter: str, max_length: int) -> ApiError:
    """404 for a name longer than any of its kind could be, saying which parameter and how long
    one may be, never echoing it: a hostile name must not grow the answer (nor a log line) by its size."""
    return ApiError(ErrorCode.not_found, f"no {parameter} is that long; nothing by that name exists",
                    {"parameter": parameter, "max_length": max_length})


def validation_error(errors: list[dict[str, str]], message: str = "the request is not valid") -> ApiError:
    return ApiError(ErrorCode.validation_error, message, {"errors": errors})


def pointer(location: Iterable[Any]) -> str:
    """A JSON Pointer (RFC 6901) for a pydantic or jsonschema location."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in location]
    return "".join("/" + p for p in parts)


def from_validation_error(error: ValidationError) -> ApiError:
    """A 422 listing each problem by JSON Pointer; pydantic's input values are left out on purpose."""
    if any(item["type"] == "json_invalid" for item in error.errors(include_input=False, include_url=False)):
        return ApiError(ErrorCode.invalid_json, "the request body is not valid JSON")
    return validation_error(field_errors(error))  # as the client spells its own check of the same model


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> "Response":
        if isinstance(payload, BaseModel):
            # what model_dump_json does, as bytes, without its wrapper's keyword handling and the
            # round trip through str
            body = payload.__pydantic_serializer__.to_json(payload, by_alias=True)
        else:
            body = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, body, [("Content-Type", "application/json")])

    @classmethod
    def empty(cls, status: int = 204) -> "Response":
        return cls(status, b"", [])


def error_response(error: ApiError) -> Response:
    payload = ErrorBody(error=ErrorDetail(code=error.code, message=error.message, details=error.details))
    response = Response.json(payload, error.status)
    response.headers.extend(error.headers)
    return response


class Request:
    """One HTTP request. The body is read lazily, once, and never past the cap."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method: str = environ.get("REQUEST_METHOD", "GET").upper()
        self.path: str = environ.get("PATH_INFO", "") or "/"
        query = environ.get("QUERY_STRING")
        # most requests (an env fetch among them) carry none, and parse_qsl costs even for ""
        self.query: dict[str, str] = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
        self.remote_addr: str = environ.get("REMOTE_ADDR") or "local"
        self._body: bytes | None = None

    def header(self, name: str) -> str | None:
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            return self.environ.get(key) or None
        return self.environ.get(f"HTTP_{key}")

    def body(self) -> bytes:
        if self._body is None:
            self._body = self._read_body()
        return self._body

    def _read_body(self) -> bytes:
        try:
            return self._read_body_within_cap()
        except OSError:
            # the server's wsgi.input raises when the body breaks off, times out or is malformed
            # (ours and gunicorn's alike): a partial body is never acted on
            raise ApiError(ErrorCode.invalid_json, "the request body did not arrive whole") from None

    def _read_body_within_cap(self) -> bytes:
        length_text = self.environ.get("CONTENT_LENGTH") or ""
        stream = self.environ["wsgi.input"]
        if length_text:
            try:
                length = int(length_text)
            except ValueError:
                raise ApiError(ErrorCode.invalid_json, "Content-Length is not a number") from None
            if length > MAX_REQUEST_BYTES:
                raise ApiError(ErrorCode.payload_too_large, f"the request body is over {MAX_REQUEST_BYTES} bytes",
                               {"limit_bytes": MAX_REQUEST_BYTES})
            data = stream.read(length) if length > 0 else b""
            if len(data) < length:  # the client stopped (or stalled) before sending what it announced
                raise ApiError(ErrorCode.invalid_json, "the request body is shorter than its Content-Length")
            return data
        if self.environ.get("wsgi.input_terminated"):
            data = stream.read(MAX_REQUEST_BYTES + 1)
            if len(data) > MAX_REQUEST_BYTES:
                raise ApiError(ErrorCode.payload_too_large, f"the request body is over {MAX_REQUEST_BYTES} bytes",
                               {"limit_bytes": MAX_REQUEST_BYTES})
            return data
        return b""

    def parse_optional(self, model: type[M]) -> M | None:
        """`parse` for a body that may be left out: None for an empty one (whatever its Content-Type says,
        since clients that always send one must keep working)."""
        if not self.body():
            return None
        return self.parse(model)

    def parse(self, model: type[M]) -> M:
        """The body as `model`: JSON content type required, unknown fields and wrong types refused."""
        content_type = (self.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise ApiError(ErrorCode.unsupported_media_type, "send the body as application/json")
        body = self.body()
        document = parse_json(body)  # the strict checks pydantic's parser lacks; it then parses in JSON mode (enums from strings)
        try:
            parsed = model.model_validate_json(body)
        except ValidationError as error:
            raise from_validation_error(error) from None
        refuse_nul(document)
        return parsed


_Place = Any
"""None for the whole document, else `(parent's place, key or index)`."""


def refuse_nul(document: Any) -> None:
    """422 for a NUL anywhere in a parsed body's strings, keys included.

    No field may hold one (a value becomes an environment variable; names, labels and
    descriptions refuse controls), and PostgreSQL's text cannot: this one rule keeps any string
    a field's own rule lets through from failing there, or working on SQLite alone. It walks
    with a list, not recursion, since the body may nest as deep as `json` allowed; each item
    keeps a link to its parent's place, so a deep, wide body costs no copies of long paths."""
    pending: list[tuple[_Place, Any]] = [(None, document)]
    while pending:
        place, item = pending.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in key:
                    raise _nul_error(place)
                pending.append(((place, key), inner))
        elif isinstance(item, list):
            pending.extend(((place, i), inner) for i, inner in enumerate(item))
        elif isinstance(item, str) and "\x00" in item:
            raise _nul_error(place)


def _nul_error(place: _Place) -> ApiError:
    location: list[Any] = []
    while place is not None:
        place, step = place
        location.append(step)
    return validation_error([{"path": pointer(reversed(location)), "message": "must not contain NUL characters"}])


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no duplicate keys (which would make the body mean two things), no NaN."""
    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except (RecursionError, UnicodeDecodeError, ValueError):
        raise ApiError(ErrorCode.invalid_json, "the request body is not valid JSON (UTF-8, no duplicate keys)") from None
