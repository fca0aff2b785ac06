"""`make bench` reads its options from the environment (bench/README.md). A misspelt one must say
so at once: `BENCH_ONLY=isolaton` used to run the whole eight-minute bench instead of row 11."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def bench(tmp_path: Path, **options: str) -> subprocess.CompletedProcess:
    """`python -m bench` with `options` and nothing installed or measured (wrk off); its process
    group is killed if it has not answered within the minute, so a bench that started anyway
    fails the test instead of running on."""
    env = {**os.environ, "BENCH_WRK": "0", "BENCH_DIR": str(tmp_path), **options}
    child = subprocess.Popen([sys.executable, "-m", "bench"], cwd=REPO, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        out, err = child.communicate()
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def test_an_unknown_bench_only_is_refused_with_the_rows_it_could_name(tmp_path):
    result = bench(tmp_path, BENCH_ONLY="isolaton")
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "BENCH_ONLY=isolaton" in result.stderr
    for row in ("isolation", "http", "serving", "replicas", "watch", "audit", "startup"):
        assert row in result.stderr
    assert list(tmp_path.iterdir()) == []  # no data directory made, no server started
