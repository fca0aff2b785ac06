"""The master key and the ciphertexts under it: nonces never repeat, key files are refused in
every broken state with one sentence, and a rotation killed at any moment leaves every value
readable with the key the files name."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server import crypto, files, keys
from server.config import Settings
from server.datadir import DataDirError, init_data_dir, open_state, rotate_master_key

REPO = Path(__file__).resolve().parents[2]


def test_a_thousand_encryptions_of_one_value_never_repeat_a_nonce_or_ciphertext():
    key = crypto.new_key()
    blobs = [crypto.seal(key, b"the same value", b"aad") for _ in range(1000)]
    assert len({b[1:13] for b in blobs}) == 1000
    assert len(set(blobs)) == 1000


@pytest.mark.parametrize("breakage, message, status", [
    (lambda p: p.write_text(""), "is empty", 1),
    (lambda p: p.write_text(p.read_text()[:20]), "bytes; a master key is 32 bytes", 1),
    (lambda p: p.write_text("not base64 at all!!"), "is not valid base64", 1),
    (lambda p: p.write_text(keys.encode_key(crypto.new_key())), "is not the master key of this database", 1),
    # exposed: the operator's set-up to change (chmod 600), a usage error
    (lambda p: os.chmod(p, 0o640), "accessible by group or others", 2),
    (lambda p: os.chmod(p, 0o604), "accessible by group or others", 2),
    (lambda p: p.unlink(), "no master key", 1),
])
def test_serve_refuses_a_broken_key_file_with_one_sentence(tmp_path, breakage, message, status):
    data_dir = tmp_path / "data"
    init_data_dir(data_dir, environ={})
    breakage(data_dir / "master.key")
    result = subprocess.run([sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir), "--port", "0"],
                            cwd=REPO, capture_output=True, text=True, timeout=30,
                            env={k: v for k, v in os.environ.items() if k != keys.ENV_VAR})
    assert result.returncode == status
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def _values(data_dir: Path) -> dict[str, str]:
    state = open_state(Settings(data_dir=data_dir), environ={})
    try:
        def read(tx):
            site = tx.get_site("default")
            return {r.name: state.keyring.open_value(site, None, r.name, r.version, r.ciphertext)
                    for r in tx.list_secrets(site.id, None)}
        return state.store.read(read)
    finally:
        state.store.close()


@pytest.fixture
def filled(tmp_path) -> Path:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir, environ={})
    state = open_state(Settings(data_dir=data_dir), environ={})

    def write(tx):
        site = tx.get_site("default")
        for i in range(10):
            tx.insert_secret({"site_id": site.id, "app_id": None, "name": f"K{i}", "type_id": None, "description": "",
                              "version": 1, "ciphertext": state.keyring.seal_value(site, None, f"K{i}", 1, f"value {i}"),
                              "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
                              "created_by": "t", "updated_by": "t"})

    state.store.write(write)
    state.store.close()
    return data_dir


EXPECTED = {f"K{i}": f"value {i}" for i in range(10)}


def test_a_rotation_that_never_committed_leaves_the_old_key_in_charge(filled):
    files.write_private_file(filled / keys.NEW_KEY_FILE, keys.encode_key(crypto.new_key()) + "\n")
    assert _values(filled) == EXPECTED
    assert not (filled / keys.NEW_KEY_FILE).exists()


@pytest.mark.parametrize("torn", ["", "c2l0ZXNl"])
def test_a_rotation_killed_while_writing_its_new_key_file_leaves_the_old_key_in_charge(filled, torn):
    # the state a kill between creating master.key.new and its write (or mid-write) leaves behind
    (filled / keys.NEW_KEY_FILE).write_text(torn)
    os.chmod(filled / keys.NEW_KEY_FILE, 0o600)
    assert _values(filled) == EXPECTED
    assert not (filled / keys.NEW_KEY_FILE).exists()


def test_a_rotation_killed_after_its_commit_is_finished_at_the_next_start(filled):
    old = (filled / keys.KEY_FILE).read_text()
    rotate_master_key(filled, environ={})
    new = (filled / keys.KEY_FILE).read_text()
    # the state a kill between the commit and the rename leaves behind
    os.replace(filled / keys.KEY_FILE, filled / keys.NEW_KEY_FILE)
    files.write_private_file(filled / keys.KEY_FILE, old)
    assert _values(filled) == EXPECTED
    assert (filled / keys.KEY_FILE).read_text() == new and not (filled / keys.NEW_KEY_FILE).exists()


def test_kill_9_at_random_moments_of_rotate_master_key_never_loses_a_value(filled):
    rng = random.Random(7)
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-m", "server", "rotate-master-key", "--data-dir", str(filled)],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={k: v for k, v in os.environ.items() if k != keys.ENV_VAR})
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _values(filled) == EXPECTED


def test_rotation_refuses_when_the_key_comes_from_the_environment(filled):
    key = (filled / keys.KEY_FILE).read_text().strip()
    with pytest.raises(DataDirError, match="SITESECRETS_MASTER_KEY"):
        rotate_master_key(filled, environ={keys.ENV_VAR: key})
