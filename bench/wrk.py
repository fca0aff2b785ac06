"""The second load generator: `wrk` (C, epoll, Debian package `wrk`), for the HTTP rows 1 and 2.

Our own closed-loop client is Python and shares the 2 cores with the server, so it may measure
itself; wrk costs the machine far less per request, so a figure that holds under both is the
server's. wrk runs `min(2, c)` threads and `c` keep-alive connections, each sending its next
request when the last one answered (closed loop, like ours). Each run is a discarded warm-up run
then a counted run. The token goes to wrk in a Lua script written 0600 into the bench directory,
never on its command line; the script cycles over the load's paths, as ours does, and prints
wrk's own figures: requests, errors, and the 50th and 99th latency percentiles (wrk keeps an HDR
histogram of every request, so they are exact to its 1 µs resolution).

`ensure()` finds wrk, or installs it with apt-get when run as root; without it the bench says so
and prints its HTTP rows from our client alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .load import Load

_SCRIPT = """
local paths = {paths}
local counter = 0
wrk.method = "{method}"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
{body}
request = function()
  counter = counter + 1
  return wrk.format(nil, paths[(counter % #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK {{\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d, "
    .. "\\"status\\": %d, \\"connect\\": %d, \\"read\\": %d, \\"write\\": %d, \\"timeout\\": %d}}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
"""


def ensure() -> str | None:
    """The path of `wrk`, installing the Debian package if it is missing and we may; else None."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True)
    return shutil.which("wrk")


@dataclass
class WrkSample:
    """One counted wrk run, in the shape `summarise` reads."""

    count: int
    duration: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.duration if self.duration else 0.0


class Wrk:
    def __init__(self, path: str, scripts: Path) -> None:
        self.path = path
        self._scripts = scripts

    def describe(self) -> str:
        return "wrk, min(2, c) threads, c keep-alive connections"

    def _script(self, load: Load) -> Path:
        method = {"get": "GET", "post": "POST", "patch": "PATCH"}[load.kind]
        body = f"wrk.body = {json.dumps(json.dumps(load.body))}" if load.body is not None else ""
        paths = "{" + ", ".join(json.dumps(p) for p in load.paths) + "}"
        text = _SCRIPT.format(paths=paths, method=method, token=load.token, body=body)
        script = self._scripts / f"wrk-{abs(hash(text))}.lua"
        if not script.exists():
            fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds a token
            with os.fdopen(fd, "w") as out:
                out.write(text)
        return script

    def _once(self, load: Load, concurrency: int, seconds: float) -> dict:
        command = [self.path, "-t", str(min(2, concurrency)), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s",
                   "--timeout", "30s", "-s", str(self._script(load)), f"http://{load.host}:{load.port}"]
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
        line = next(line for line in out.splitlines() if line.startswith("WRK "))
        return json.loads(line.removeprefix("WRK "))

    def run(self, load: Load, concurrency: int, duration: float, warmup: float) -> WrkSample:
        if warmup > 0:
            self._once(load, concurrency, warmup)
        figures = self._once(load, concurrency, duration)
        statuses = {kind: figures[kind] for kind in ("status", "connect", "read", "write", "timeout") if figures[kind]}
        return WrkSample(count=figures["requests"] - figures["status"], duration=figures["duration_us"] / 1e6,
                         p50_ms=figures["p50_us"] / 1000, p99_ms=figures["p99_us"] / 1000,
                         errors=sum(statuses.values()), statuses={f"wrk {k}": n for k, n in statuses.items()})
