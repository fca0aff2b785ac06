"""A crashing server writes no core file: its memory holds the master key, every site's data key
and the values in flight, and a core file is written wherever the host's `core_pattern` says, to
be read by whoever may read there (or collected by systemd-coredump or ABRT for the admins)."""

from __future__ import annotations

import base64
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _allowing_core_dumps() -> None:
    """The crash test's `preexec_fn`: the most a host lets a process dump (`LimitCORE=infinity` in a
    systemd unit, `ulimit -c unlimited` in an operator's shell), so only the server can say no."""
    hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


def _core_limit(pid: int) -> list[str]:
    """The soft and hard core file size limits of process `pid`, as /proc lists them."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            return line.split()[4:6]
    raise AssertionError("no core limit listed")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "server", "init", "--data-dir", str(data)], cwd=REPO,
                   capture_output=True, check=True, timeout=60)
    return data


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="needs Linux's /proc")
def test_a_server_that_crashes_leaves_no_core_file_holding_its_keys(data_dir: Path, tmp_path: Path):
    cwd = tmp_path / "cwd"  # where a core_pattern of "core" (the kernel's default) puts the file
    cwd.mkdir()
    served = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir), "--port", "0", "--workers", "1"],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_allowing_core_dumps,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert served.stdout.readline().startswith(b"listening on ")  # the key is loaded by now
        assert _core_limit(served.pid) == ["0", "0"]
        served.send_signal(signal.SIGABRT)  # what a C extension's abort() or a failed assertion does
        assert served.wait(timeout=60) == -signal.SIGABRT
    finally:
        if served.poll() is None:
            served.kill()
            served.wait(timeout=60)
    key = base64.b64decode((data_dir / "master.key").read_text())
    left = [path for path in cwd.iterdir() if key in path.read_bytes()]
    assert left == [] and not any(path.name.startswith("core") for path in cwd.iterdir())


def test_the_wsgi_factory_turns_core_dumps_off_before_it_loads_the_key(data_dir: Path):
    # gunicorn's workers call `server.wsgi:create()`; no `serve` ran in them. Process 0 of
    # PR_GET_DUMPABLE also keeps other processes of the user from reading the worker's memory.
    code = ("import ctypes, os, resource; from server import wsgi; wsgi.create(); "
            "print(resource.getrlimit(resource.RLIMIT_CORE), ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)); os._exit(0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "SITESECRETS_DATA_DIR": str(data_dir)})
    assert result.stdout.strip() == "(0, 0) 0", result.stderr
