"""Rows 7 and 8: how long fresh processes take, timed from outside; row 8 next to a minimal
Textual app of the same shape, so the ratio says what our start-up adds to Textual's own.

Each probe is a new process. Wall time is taken in the harness around the child, from just before
it is spawned; for the TUI the child prints `time.monotonic()` when its first frame with the
table's rows is painted (CLOCK_MONOTONIC is one clock for every process on Linux), so the figure
runs from process start to that frame, interpreter start-up and imports included.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .fixtures import PYTHON, ROOT


def wall_times(argv: list[str], runs: int, env: dict[str, str] | None = None) -> list[float]:
    """Seconds per run of `argv` (after one discarded run that warms the page cache)."""
    times = []
    for i in range(runs + 1):
        began = time.monotonic()
        subprocess.run(argv, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        if i:
            times.append(time.monotonic() - began)
    return times


def run_command(url: str, token: str, site: str, service: str, runs: int = 20) -> dict:
    """Row 7: `sitesecrets run --service X -- /bin/true` next to `python -c pass`."""
    script = str(Path(PYTHON).parent / "sitesecrets")
    env = dict(os.environ, SITESECRETS_URL=url, SITESECRETS_TOKEN=token)
    run = wall_times([script, "run", "--service", service, "--site", site, "--", "/bin/true"], runs, env)
    bare = wall_times([PYTHON, "-c", "pass"], runs)
    return {"runs": runs, "run_ms": statistics.median(run) * 1000, "run_ms_min": min(run) * 1000,
            "run_ms_max": max(run) * 1000, "python_pass_ms": statistics.median(bare) * 1000}


def _probe(module: str, *args: str) -> tuple[float, int, int]:
    """One fresh process of `module`: seconds from spawning it to its first frame with the rows,
    the rows, and its peak RSS in KiB."""
    began = time.monotonic()
    out = subprocess.run([PYTHON, "-m", module, *args], cwd=ROOT, check=True, capture_output=True, text=True,
                         timeout=60)
    marks = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    if "FRAME" not in marks:
        raise RuntimeError(f"{module} painted no frame: {out.stdout[-300:]} {out.stderr[-300:]}")
    return float(marks["FRAME"]) - began, int(marks.get("ROWS", 0)), int(marks["MAXRSS_KIB"])


def tui_first_frame(url: str, token: str, site: str, runs: int = 7) -> dict:
    """Row 8: median ms from process start to the first frame with the site's 100 rows, next to a
    minimal Textual app of the same shape (bench.minimal_probe) started the same way, the two
    taking turns so both see the same machine; and peak RSS. One discarded round warms the cache."""
    # Our modules' bytecode, as an installed package has it (`make run` compiles it too): without
    # it, under PYTHONDONTWRITEBYTECODE every start compiled tui/ and shared/ from source.
    subprocess.run([PYTHON, "-m", "compileall", "-q", "shared", "tui", "bench"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    frames, bare, peaks = [], [], []
    for i in range(runs + 1):
        ours = _probe("bench.tui_probe", url, token, site)
        minimal = _probe("bench.minimal_probe")
        if i:
            frames.append(ours[0])
            bare.append(minimal[0])
            peaks.append(ours[2])
            rows = ours[1]
    ratios = [a / b for a, b in zip(frames, bare)]
    return {"runs": runs, "frame_ms": statistics.median(frames) * 1000, "frame_ms_min": min(frames) * 1000,
            "frame_ms_max": max(frames) * 1000, "rows": rows,
            "minimal_ms": statistics.median(bare) * 1000, "minimal_ms_min": min(bare) * 1000,
            "minimal_ms_max": max(bare) * 1000, "ratio": statistics.median(frames) / statistics.median(bare),
            "ratio_min": min(ratios), "ratio_max": max(ratios),
            "peak_rss_mib": statistics.median(peaks) / 1024, "peak_rss_mib_max": max(peaks) / 1024}


if __name__ == "__main__":
    sys.exit("run `python -m bench`")
