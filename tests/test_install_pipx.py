"""The README's install commands work as written: `pipx install .` and `pipx install '.[postgres]'`
from a copy of the checkout give working `sitesecrets` and `sitesecrets-server` commands (and the
PostgreSQL driver with the extra). Each install builds a fresh virtual environment from the
package index (some 40 s on a busy 2-core machine), so this runs in `make test-long` only."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PIPX = Path(sys.executable).with_name("pipx")

pytestmark = [
    pytest.mark.skipif(os.environ.get("SITESECRETS_LONG") != "1", reason="installs from the package index: make test-long"),
    pytest.mark.skipif(not PIPX.exists(), reason="pipx is not installed (it is a dev dependency)"),
]


def checkout_copy(where: Path) -> Path:
    """The files git tracks (as a fresh clone has them), without this tree's build leftovers."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        if (REPO / name).is_file():
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, where / name)
    return where


@pytest.mark.timeout(900)
@pytest.mark.parametrize("spec", [".", ".[postgres]"])
def test_pipx_install_from_the_checkout_gives_working_commands(spec, tmp_path):
    source = checkout_copy(tmp_path / "checkout")
    home = tmp_path / "pipx"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("SITESECRETS_", "VIRTUAL_ENV"))},
           "PIPX_HOME": str(home), "PIPX_BIN_DIR": str(home / "bin"), "PIPX_MAN_DIR": str(home / "man")}
    installed = subprocess.run([str(PIPX), "install", spec], cwd=source, env=env, capture_output=True, text=True, timeout=850)
    assert installed.returncode == 0, installed.stderr[-2000:]
    for command in ("sitesecrets", "sitesecrets-server"):
        helped = subprocess.run([str(home / "bin" / command), "--help"], env=env, capture_output=True, text=True, timeout=60)
        assert helped.returncode == 0 and "usage:" in helped.stdout, helped.stderr
    data = tmp_path / "data"
    init = subprocess.run([str(home / "bin" / "sitesecrets-server"), "init", "--data-dir", str(data)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert init.returncode == 0 and init.stdout.startswith("ss_"), init.stderr
    python = home / "venvs" / "sitesecrets" / "bin" / "python"
    driver = subprocess.run([str(python), "-c", "import psycopg"], capture_output=True, timeout=60)
    assert (driver.returncode == 0) == (spec == ".[postgres]")
