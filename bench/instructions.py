"""Instructions per env fetch: the price of one request that no other work on the machine moves.

`.venv/bin/python -m bench.instructions [TREE ...]` (valgrind installed): for this tree, and for
each other TREE given (a copy of another version, as `BENCH_BASELINE` of row 12 is), a real
`serve --workers 1` under callgrind with instrumentation off, site `bench` loaded over the API,
then instrumentation on for `REQUESTS` env fetches back to back on one keep-alive connection
(the client is this process, not traced), then a dump. Printed: the server's instructions per
fetch, every thread of it (connection threads, the SQLite writer) in user space; the kernel's
share (syscalls, the fsync of each commit) is not counted, nor is time spent waiting. Then h11's
own share: one server-side cycle (take an env GET's head, frame a 420-byte JSON answer with our
five headers, start the next cycle) in a loop under callgrind, the difference of two loop lengths.

CPU time per request (row 12) moves by half with the load on a shared 2-core machine; this count
repeats to within a percent, so it is the figure to compare two versions by. Each server takes
about two minutes. Written to `bench/results-instructions.json`.
"""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from . import fixtures
from .fixtures import PYTHON, ROOT

REQUESTS = 300
WARMUP = 50
RESULTS = Path(__file__).resolve().parent / "results-instructions.json"


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def _fetches(server_url: str, small: fixtures.Small, count: int) -> None:
    host, port = server_url.split("://", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    headers = {"Authorization": f"Bearer {small.service_token}"}
    try:
        for _ in range(count):
            conn.request("GET", small.env_path, headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
    finally:
        conn.close()


def _total(dump: Path) -> int:
    """The instruction total of one callgrind dump."""
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"{dump} holds no total")


def measure(tree: Path, base: Path) -> float:
    """The server of `tree`'s instructions per env fetch."""
    data, out = base / "data", base / "callgrind.out"
    admin = subprocess.run([PYTHON, "-m", "server", "init", "--data-dir", str(data)], cwd=tree,
                           capture_output=True, text=True, check=True).stdout.strip()
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
               PYTHON, "-m", "server", "serve", "--data-dir", str(data), "--port", "0", "--workers", "1"]
    with open(base / "server.log", "ab") as log:
        proc = subprocess.Popen(command, cwd=tree, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        url = fixtures.start_line(proc, "the server under callgrind")
        small = fixtures.load_small(url, admin)
        _fetches(url, small, WARMUP)
        _control(proc.pid, "--instr=on")
        _fetches(url, small, REQUESTS)
        _control(proc.pid, "--dump=measured")
        _control(proc.pid, "--instr=off")
        dumps = sorted(base.glob("callgrind.out.*"))
        return _total(dumps[-1]) / REQUESTS
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_H11_HEAD = (b"GET /v1/sites/bench/services/fn/env HTTP/1.1\r\nHost: 127.0.0.1:8716\r\n"
             b"Accept-Encoding: identity\r\nAuthorization: Bearer ss_" + b"x" * 43 + b"\r\n\r\n")


def h11_cycles(count: int) -> None:
    """`count` server-side h11 cycles of an env fetch, as `httpconn.HTTPConnection` drives them."""
    import h11

    conn = h11.Connection(h11.SERVER)
    body = b"x" * 420
    headers = [(b"Cache-Control", b"no-store"), (b"X-Content-Type-Options", b"nosniff"), (b"Content-Type", b"application/json"),
               (b"ETag", b'"0123456789abcdef0123456789abcdef"'), (b"Content-Length", str(len(body)).encode())]
    # built once, as httpconn keeps the heads it built and its one EndOfMessage
    response, end = h11.Response(status_code=200, headers=headers, reason=b"OK"), h11.EndOfMessage()
    for _ in range(count):
        conn.receive_data(_H11_HEAD)
        assert type(conn.next_event()) is h11.Request
        conn.next_event()  # EndOfMessage
        parts = conn.send_with_data_passthrough(response)
        parts += conn.send_with_data_passthrough(h11.Data(data=body))
        parts += conn.send_with_data_passthrough(end)
        b"".join(parts)
        conn.start_next_cycle()


def h11_instructions() -> float:
    """h11's instructions per cycle: two loop lengths under callgrind, differenced (start-up cancels)."""
    totals = []
    for count in (200, 1200):
        out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", PYTHON, "-m",
                              "bench.instructions", "--h11-cycles", str(count)], cwd=ROOT, capture_output=True, text=True)
        totals.append(int(next(line for line in out.stderr.splitlines() if "Collected" in line).split()[-1]))
    return (totals[1] - totals[0]) / 1000


def main(argv: list[str]) -> int:
    if argv[:1] == ["--h11-cycles"]:
        h11_cycles(int(argv[1]))
        return 0
    if not shutil.which("valgrind"):
        print("valgrind is not installed (Debian package valgrind)", file=sys.stderr)
        return 2
    trees = {"this tree": ROOT, **{str(Path(t)): Path(t).resolve() for t in argv}}
    figures = {}
    for name, tree in trees.items():
        with tempfile.TemporaryDirectory(prefix="sitesecrets-instructions-") as base:
            figures[name] = measure(tree, Path(base))
        print(f"{name}: {figures[name]:,.0f} instructions per env fetch", flush=True)
    h11_cost = h11_instructions()
    print(f"h11 alone: {h11_cost:,.0f} instructions per request cycle", flush=True)
    RESULTS.write_text(json.dumps({"requests": REQUESTS, "instructions_per_fetch": figures,
                                   "h11_instructions_per_cycle": h11_cost}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
