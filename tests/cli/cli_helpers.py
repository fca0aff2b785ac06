"""Helpers of the command-line tests: a running server with an admin client (`Live`), the small
known environment every child process starts from (`base_env`), and `run_text`, which runs a child
(`python -m tui.cli` forked from a zygote, `forkserver.py`, when it can)."""

from __future__ import annotations

import atexit
import itertools
import os
import select
import subprocess
import sys
import tempfile
import termios
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from forkserver import ForkServer
from server.embedded import EmbeddedServer
from server.keys import ENV_VAR

REPO = Path(__file__).resolve().parents[2]
_site_numbers = itertools.count(1)


def base_env(**extra: str) -> dict[str, str]:
    """A small, known environment for child processes (no developer SITESECRETS_* or login leaks in)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": os.environ.get("HOME", "/tmp"),
           "XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"]}  # tests/conftest.py: no stored credentials
    env.update(extra)
    return env


def start_embedded(data_dir: Path, unix_socket: Path | None) -> EmbeddedServer:
    """The server over `data_dir` on `unix_socket` (initialised on first use), keyed by its own key
    file: a developer's master key in the environment must not be picked up."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(ENV_VAR, raising=False)
        return EmbeddedServer.start(data_dir, unix_socket=unix_socket)


def http_client(url: str, **kwargs: Any) -> httpx.Client:
    """An httpx client of the test server at `url`, a unix:///path URL or an http(s) one."""
    if url.startswith("unix://"):
        kwargs["transport"] = httpx.HTTPTransport(uds=url.removeprefix("unix://"))
        url = "http://sitesecrets"
    return httpx.Client(base_url=url, timeout=10, **kwargs)


def run_text(argv: list[str], env: dict[str, str], input: str | None = None, cwd: Path = REPO,
             timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a child process; stdout and stderr as UTF-8 text exactly as written (no newline
    translation, so a value's `\\r\\n` survives), stdin empty unless `input` is given.

    `python -m tui.cli ...` is forked from this process's zygote (`forkserver.py`): a real process
    with these descriptors, environment and directory, without the interpreter's start; any other
    command, or one the zygote cannot take, is started as usual."""
    data = None if input is None else input.encode("utf-8")
    result = None
    if argv[:3] == [sys.executable, "-m", "tui.cli"] and not os.environ.get(NO_FORKSERVER):
        result = zygote().run(argv[3:], env, cwd, data, timeout)
    if result is None:
        result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=timeout, input=data,
                                stdin=subprocess.DEVNULL if input is None else None)
    result.stdout, result.stderr = result.stdout.decode("utf-8"), result.stderr.decode("utf-8")
    return result


NO_FORKSERVER = "SITESECRETS_TEST_NO_FORKSERVER"
"""Set (non-empty), `run_text` starts every child as a new interpreter: to compare, or to rule the
zygote out."""
_zygote: ForkServer | None = None
_zygote_lock = threading.Lock()


def zygote() -> ForkServer:
    """This process's fork server (its process starts on first use), stopped at exit."""
    global _zygote
    with _zygote_lock:
        if _zygote is None:
            _zygote = ForkServer(REPO)
            atexit.register(_zygote.stop)
    return _zygote


def run_on_terminal(argv: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a child whose stdout is a pseudo-terminal (so `isatty()` is true) and return every byte
    it wrote there as `stdout`, untranslated (output post-processing off: no `\\n` to `\\r\\n`);
    stderr goes to a file, stdin is empty."""
    master, slave = os.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=err)
        os.close(slave)
        out = bytearray()
        try:
            while select.select([master], [], [], timeout)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child exited and its side of the pty is closed
                    break
                if not chunk:
                    break
                out += chunk
            else:
                proc.kill()
                raise AssertionError(f"{argv} wrote nothing for {timeout} s; output so far {bytes(out)!r}")
            returncode = proc.wait(timeout)
        finally:
            os.close(master)
        err.seek(0)
        stderr = err.read().decode("utf-8")
    return subprocess.CompletedProcess(argv, returncode, stdout=out.decode("utf-8"), stderr=stderr)


@dataclass
class Live:
    """One running server and an admin client of it; `stop_server` and `start_server` restart it
    on the same data directory and unix socket, as an operator's restart would."""

    server: EmbeddedServer
    admin: httpx.Client
    data_dir: Path | None = None
    unix_socket: Path | None = None

    def stop_server(self) -> None:
        self.server.stop()

    def start_server(self) -> None:
        assert self.data_dir is not None, "this Live was not given its data directory"
        self.server = start_embedded(self.data_dir, self.unix_socket)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def admin_token(self) -> str:
        return self.server.admin_token

    def client(self, token: str) -> httpx.Client:
        return http_client(self.url, headers={"Authorization": f"Bearer {token}"})

    def ok(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        response = self.admin.request(method, path, **kwargs)
        assert response.status_code == expected, response.text
        return response.json() if response.content else None

    def new_site(self, prefix: str = "t", **limits: int) -> str:
        name = f"{prefix}-{next(_site_numbers)}"
        self.ok("POST", "/v1/sites", 201, json={"name": name})
        if limits:
            self.ok("PATCH", f"/v1/sites/{name}", json={"limits": limits})
        return name

    def new_app(self, site: str, app: str, site_secrets: bool = True) -> None:
        self.ok("POST", f"/v1/sites/{site}/apps", 201, json={"name": app, "site_secrets": site_secrets})

    def put_secret(self, site: str, name: str, value: str, app: str | None = None) -> dict:
        scope = f"/v1/sites/{site}" + (f"/apps/{app}" if app else "")
        return self.ok("POST", f"{scope}/secrets", 201, json={"name": name, "value": value})

    def secret(self, site: str, name: str, app: str | None = None) -> httpx.Response:
        scope = f"/v1/sites/{site}" + (f"/apps/{app}" if app else "")
        return self.admin.get(f"{scope}/secrets/{name}")

    def reveal(self, site: str, name: str, app: str | None = None) -> str:
        scope = f"/v1/sites/{site}" + (f"/apps/{app}" if app else "")
        return self.ok("POST", f"{scope}/secrets/{name}/reveal")["value"]

    def new_service(self, site: str, name: str, app: str | None, refs: list[dict]) -> dict:
        return self.ok("POST", f"/v1/sites/{site}/services", 201, json={"name": name, "app": app, "secrets": refs})

    def service(self, site: str, name: str) -> dict:
        return self.ok("GET", f"/v1/sites/{site}/services/{name}")

    def mint(self, role: str, site: str | None = None, service: str | None = None) -> str:
        body: dict[str, Any] = {"name": f"{role}-{site or 'all'}-{service or ''}", "role": role}
        if site:
            body["site"] = site
        if service:
            body["service"] = service
        return self.ok("POST", "/v1/tokens", 201, json=body)["token"]

    def audit(self, site: str, **filters: str) -> list[dict]:
        return self.ok("GET", f"/v1/sites/{site}/audit", params={"limit": 200, **filters})["items"]


class RecordingProxy:
    """A loopback HTTP proxy in front of the real server that records every request it forwards
    (method, path, body size), so a test can prove what a command did or did not send.

    `unavailable(n, code)` has it answer the next n requests (of one method, if given) itself, 503 `code` with `Retry-After`,
    as a server whose database is out of reach does (a real one takes a PostgreSQL outage); those
    are recorded too."""

    def __init__(self, upstream: str) -> None:
        import http.server
        import json
        import threading

        self.requests: list[tuple[str, str, int]] = []
        self.canned: list[tuple[str | None, int | None, bytes, str | None]] = []
        upstream_client = http_client(upstream)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.requests.append((self.command, self.path, len(body)))
                canned = next((c for c in proxy.canned if c[0] in (None, self.command)), None)
                if canned is not None:
                    proxy.canned.remove(canned)
                    if canned[1] is not None:  # None: one to let through before the answers canned after it
                        self._answer(*canned[1:])
                        return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
                answer = upstream_client.request(self.command, self.path, headers=headers, content=body or None)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(answer.content)

            def _answer(self, status: int, body: bytes, retry_after: str | None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._upstream = upstream_client
        self._json = json

    def unavailable(self, times: int, code: str = "database_unavailable", retry_after: str | None = "1",
                    method: str | None = None, after: int = 0) -> None:
        """Answer the next `times` requests (of `method`, else any) 503 `code` (with `Retry-After` unless None),
        once `after` such requests have gone through to the server."""
        body = self._json.dumps({"error": {"code": code, "message": "the server cannot serve just now", "details": {}}})
        self.canned += [(method, None, b"", None)] * after + [(method, 503, body.encode(), retry_after)] * times

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._upstream.close()
