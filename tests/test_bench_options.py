"""`make bench` reads its options from the environment (bench/README.md). A misspelt one must say
so at once: `BENCH_ONLY=isolaton` used to run the whole eight-minute bench instead of row 11.
`bench.denials_postgres` works in a schema of its own in the database it is given, and used to
leave it there after every run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import dbbackend

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



def _schemas(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return {name for (name,) in conn.execute("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, 'bench_denials_')")}


def _interruptible() -> None:
    """`preexec_fn`: SIGINT at its default, which Python then makes KeyboardInterrupt. A job a
    non-interactive shell starts with `&` (a CI runner's, say) has SIGINT ignored, exec keeps an
    ignored signal ignored, and Python leaves it so: ctrl+c would then never reach the bench."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _denials_postgres(tmp_path: Path, seconds: str) -> subprocess.Popen:
    """`python -m bench.denials_postgres` on the test database, its temporary files in `tmp_path`."""
    return subprocess.Popen([sys.executable, "-m", "bench.denials_postgres", dbbackend.base_url(), seconds], cwd=REPO,
                            env={**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=_interruptible)


def _its_schema(line: str) -> str:
    found = re.search(r"schema (bench_denials_\w+)", line)
    assert found, line
    return found.group(1)


needs_postgresql = pytest.mark.skipif(dbbackend.base_url() is None, reason=dbbackend.HOW_TO_RUN)


@needs_postgresql
def test_the_postgresql_denials_bench_drops_its_schema_and_data_directory(tmp_path):
    child = _denials_postgres(tmp_path, "0.02")
    try:
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 0, out[-2000:] + err[-2000:]
    schema = _its_schema(out.splitlines()[0])
    assert "16 threads, a site each record" in out  # every round ran
    assert out.splitlines()[-1] == f"schema {schema} dropped"
    assert schema not in _schemas(dbbackend.base_url())
    assert list(tmp_path.iterdir()) == []  # nor is its master key left behind


@needs_postgresql
def test_the_postgresql_denials_bench_interrupted_drops_its_schema_at_once(tmp_path):
    child = _denials_postgres(tmp_path, "600")  # rounds of ten minutes: only the interrupt ends it
    try:
        schema = _its_schema(child.stdout.readline())
        assert "lifetime read" in child.stdout.readline()  # the rounds of threads have begun
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode != 0
    assert "KeyboardInterrupt" in err
    assert out.splitlines()[-1] == f"schema {schema} dropped"
    assert schema not in _schemas(dbbackend.base_url())
    assert list(tmp_path.iterdir()) == []


def test_the_denials_bench_removes_its_data_directory(tmp_path):
    """Its data directory holds a master key and tokens: gone once the figures are printed."""
    result = subprocess.run([sys.executable, "-m", "bench.denials", "0.2", "1", "1"], cwd=REPO, text=True, capture_output=True,
                            env={**os.environ, "TMPDIR": str(tmp_path), "BENCH_KEEP": ""}, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "denied events written: 2 " in result.stdout  # a first and its count: the run was whole
    assert list(tmp_path.iterdir()) == []
