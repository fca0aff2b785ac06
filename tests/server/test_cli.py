"""`sitesecrets-server` as an administrator runs it: real processes, real sockets, real files."""

from __future__ import annotations

import datetime
import os
import signal
import socket
import sqlite3
import ssl
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server import crypto, files, keys
from waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


class Served:
    """A `serve` process; `url` is what it printed on its first line."""

    def __init__(self, data_dir: Path, *extra: str, env: dict | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir), "--port", "0", *extra],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
        )
        line = self.proc.stdout.readline().strip()
        assert line.startswith("listening on "), line + self.proc.stderr.read()
        self.url = line.removeprefix("listening on ")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture
def initialised(tmp_path: Path) -> tuple[Path, str]:
    data_dir = tmp_path / "data"
    result = cli("init", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    return data_dir, result.stdout.strip()


def client(url: str, token: str, **kwargs) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)


def test_init_prints_an_admin_token_on_its_own_line_and_locks_down_its_files(initialised):
    data_dir, token = initialised
    assert token.startswith("ss_") and "\n" not in token
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for name in ("master.key", "secrets.db"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600


def _into_file(path: Path, mode: int, *args: str) -> subprocess.CompletedProcess:
    """`sitesecrets-server ARGS > path`, the file made `mode` first, as a shell's `>` under umask 022 makes it."""
    path.touch()
    path.chmod(mode)
    with path.open("wb") as out:
        result = subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO, stdout=out, stderr=subprocess.PIPE,
                                text=True, timeout=60)
    return result


def test_init_and_token_create_print_no_token_into_a_file_every_user_may_read(initialised, tmp_path):
    data_dir, _ = initialised
    out = tmp_path / "admin.token"
    fresh = tmp_path / "fresh"
    for args in (["init", "--data-dir", str(fresh)],
                 ["token", "create", "--data-dir", str(data_dir), "--name", "spilled", "--role", "admin"]):
        result = _into_file(out, 0o644, *args)
        assert result.returncode == 2, result.stderr
        assert result.stderr == (f"sitesecrets-server {args[0]}: standard output is {out}, a file every user of this "
                                 "host may read (mode 644), and the token would be written there: chmod 600 it first, "
                                 "or write it under umask 077, as in (umask 077; sitesecrets-server ... > FILE); "
                                 "nothing was done\n")
        assert out.read_bytes() == b""
    assert not fresh.exists()
    with sqlite3.connect(data_dir / "secrets.db") as db:
        assert db.execute("SELECT count(*) FROM tokens WHERE name = 'spilled'").fetchone() == (0,)
    assert _into_file(out, 0o600, "token", "create", "--data-dir", str(data_dir), "--name", "kept", "--role", "admin").returncode == 0
    assert out.read_text().startswith("ss_")


def test_init_refuses_a_directory_that_holds_a_database_and_changes_nothing(initialised):
    data_dir, _ = initialised
    before = {p.name: p.read_bytes() for p in data_dir.iterdir()}
    result = cli("init", "--data-dir", str(data_dir))
    assert result.returncode == 1
    assert "already holds a database" in result.stderr and "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in data_dir.iterdir()} == before


def test_serve_on_port_zero_prints_the_real_port_and_serves_the_api(initialised):
    data_dir, token = initialised
    served = Served(data_dir)
    try:
        port = int(served.url.rsplit(":", 1)[1])
        assert port > 0
        with client(served.url, token) as api:
            assert api.get("/v1/health").json()["status"] == "ok"
            assert api.post("/v1/sites/default/secrets", json={"name": "API_KEY", "value": "v1"}).status_code == 201
            assert api.post("/v1/sites/default/secrets/API_KEY/reveal").json()["value"] == "v1"
    finally:
        assert served.stop() == 0


def test_keep_alive_serves_many_requests_on_one_connection(initialised):
    data_dir, token = initialised
    served = Served(data_dir)
    try:
        host, port = served.url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port))) as sock:
            request = f"GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
            for _ in range(3):
                sock.sendall(request)
                reply = _read_response(sock)
                assert reply.startswith(b"HTTP/1.1 200") and b'"role":"admin"' in reply
    finally:
        served.stop()


def _read_head(sock: socket.socket) -> bytes:
    """One response head (an interim "100 Continue" has no body), read a byte at a time so
    nothing of the next response is consumed."""
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        assert byte, f"connection closed after {data!r}"
        data += byte
    return data.removesuffix(b"\r\n\r\n")


def _wait_until_refused(host: str, port: int, timeout: float = 30.0) -> None:
    """Wait until the server no longer accepts connections: it has begun shutting down."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=5).close()
        except ConnectionRefusedError:
            return
        except ConnectionResetError:  # queued just as the listening socket closed: ask again
            pass
        time.sleep(0.05)
    raise AssertionError(f"{host}:{port} still accepts connections {timeout}s after SIGTERM")


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int([line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")][0])
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_sigterm_lets_an_in_flight_request_finish_and_exits_zero(initialised):
    data_dir, token = initialised
    served = Served(data_dir)
    host, port = served.url.removeprefix("http://").rsplit(":", 1)
    body = b'{"name": "LATE", "value": "still stored"}'
    sock = socket.create_connection((host, int(port)))
    # send the headers, then hold the body back while the server is told to stop; its "100
    # Continue" proves the request has begun, refused connections that the shutdown has started
    sock.sendall(f"POST /v1/sites/default/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                 f"Expect: 100-continue\r\n\r\n".encode())
    assert _read_head(sock) == b"HTTP/1.1 100 Continue"
    served.proc.send_signal(signal.SIGTERM)
    _wait_until_refused(host, int(port))
    sock.sendall(body)
    reply = _read_response(sock)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 201")
    assert served.proc.wait(timeout=30) == 0
    again = Served(data_dir)
    try:
        with client(again.url, token) as api:
            assert api.post("/v1/sites/default/secrets/LATE/reveal").json()["value"] == "still stored"
    finally:
        again.stop()


def test_serve_refuses_a_wrong_master_key_with_one_sentence(initialised):
    data_dir, _ = initialised
    (data_dir / "master.key").unlink()
    files.write_private_file(data_dir / "master.key", keys.encode_key(crypto.new_key()) + "\n")
    result = cli("serve", "--data-dir", str(data_dir), "--port", "0")
    assert result.returncode == 1
    assert "is not the master key of this database" in result.stderr and "Traceback" not in result.stderr


def test_serve_takes_the_master_key_from_the_environment(initialised):
    data_dir, token = initialised
    key_text = (data_dir / "master.key").read_text().strip()
    (data_dir / "master.key").unlink()
    served = Served(data_dir, env={keys.ENV_VAR: key_text})
    try:
        with client(served.url, token) as api:
            assert api.get("/v1/whoami").status_code == 200
    finally:
        served.stop()
    missing = cli("serve", "--data-dir", str(data_dir), "--port", "0")
    assert missing.returncode == 1 and "no master key" in missing.stderr


def test_serve_refuses_a_key_file_others_can_read(initialised):
    data_dir, _ = initialised
    os.chmod(data_dir / "master.key", 0o644)
    result = cli("serve", "--data-dir", str(data_dir), "--port", "0")  # one worker per core: a worker refuses it
    assert result.returncode == 2 and "chmod 600" in result.stderr  # the set-up to change, not a crash


def test_rotate_master_key_keeps_every_value_and_retires_the_old_key(initialised):
    data_dir, token = initialised
    served = Served(data_dir)
    with client(served.url, token) as api:
        api.post("/v1/sites", json={"name": "shop"})
        api.post("/v1/sites/default/secrets", json={"name": "A", "value": "alpha"})
        api.post("/v1/sites/shop/secrets", json={"name": "B", "value": "beta"})
    served.stop()
    old_key = keys.decode_key((data_dir / "master.key").read_text(), "old")

    result = cli("rotate-master-key", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert not (data_dir / "master.key.new").exists()
    assert stat.S_IMODE((data_dir / "master.key").stat().st_mode) == 0o600
    import sqlite3

    with sqlite3.connect(data_dir / "secrets.db") as db:
        for name, wrapped in db.execute("SELECT name, wrapped_key FROM sites"):
            with pytest.raises(crypto.IntegrityError):
                crypto.unwrap_data_key(old_key, name, wrapped)

    served = Served(data_dir)
    try:
        with client(served.url, token) as api:
            assert api.post("/v1/sites/default/secrets/A/reveal").json()["value"] == "alpha"
            assert api.post("/v1/sites/shop/secrets/B/reveal").json()["value"] == "beta"
    finally:
        served.stop()


def test_offline_token_create_prints_a_working_token(initialised):
    data_dir, _ = initialised
    result = cli("token", "create", "--data-dir", str(data_dir), "--name", "ops", "--role", "viewer", "--site", "default")
    assert result.returncode == 0, result.stderr
    served = Served(data_dir)
    try:
        with client(served.url, result.stdout.strip()) as api:
            me = api.get("/v1/whoami").json()
            assert (me["name"], me["role"], me["site"]) == ("ops", "viewer", "default")
    finally:
        served.stop()


def test_every_command_has_help():
    for command in (["init"], ["serve"], ["token", "create"], ["rotate-master-key"]):
        result = cli(*command, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout


def test_unix_socket_admits_its_owner_and_group_only_and_serves(initialised, tmp_path):
    data_dir, token = initialised
    path = tmp_path / "s.sock"
    served = Served(data_dir, "--unix-socket", str(path))
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o660  # the directory's group: the shared-host set-up
        transport = httpx.HTTPTransport(uds=str(path))
        with client("http://localhost", token, transport=transport) as api:
            assert api.get("/v1/whoami").json()["role"] == "admin"
    finally:
        assert served.stop() == 0
    assert not path.exists()


def test_unix_socket_on_a_path_that_is_not_a_socket_is_refused_and_removes_nothing(initialised):
    data_dir, _ = initialised
    key = (data_dir / "master.key").read_bytes()
    result = cli("serve", "--data-dir", str(data_dir), "--unix-socket", str(data_dir / "master.key"), "--workers", "1")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is not a socket" in result.stderr
    assert (data_dir / "master.key").read_bytes() == key


def test_unix_socket_another_server_listens_on_is_refused_and_that_server_keeps_it(initialised, tmp_path):
    data_dir, token = initialised
    path = tmp_path / "s.sock"
    other = tmp_path / "other"
    assert cli("init", "--data-dir", str(other)).returncode == 0
    served = Served(data_dir, "--unix-socket", str(path), "--workers", "1")
    try:
        for workers in ("1", "2"):
            result = cli("serve", "--data-dir", str(other), "--unix-socket", str(path), "--workers", workers)
            assert result.returncode == 1 and "Traceback" not in result.stderr
            assert "a server already listens on" in result.stderr
        with client("http://localhost", token, transport=httpx.HTTPTransport(uds=str(path))) as api:
            assert api.get("/v1/whoami").json()["role"] == "admin"  # still the first server's
    finally:
        assert served.stop() == 0


def test_unix_socket_left_by_a_server_gone_is_replaced(initialised, tmp_path):
    data_dir, token = initialised
    path = tmp_path / "s.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: as after a kill -9
    served = Served(data_dir, "--unix-socket", str(path), "--workers", "1")
    try:
        with client("http://localhost", token, transport=httpx.HTTPTransport(uds=str(path))) as api:
            assert api.get("/v1/whoami").status_code == 200
    finally:
        assert served.stop() == 0


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def test_tls_serves_https(initialised, tmp_path):
    data_dir, token = initialised
    cert, key = _self_signed(tmp_path)
    served = Served(data_dir, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert served.url.startswith("https://")
        url = served.url.replace("127.0.0.1", "localhost")
        with client(url, token, verify=ssl.create_default_context(cafile=str(cert))) as api:
            assert api.get("/v1/whoami").status_code == 200
    finally:
        assert served.stop() == 0


def test_backup_while_serving_then_restore_brings_every_value_back(initialised, tmp_path):
    data_dir, token = initialised
    served = Served(data_dir)
    try:
        with client(served.url, token) as api:
            for i in range(20):
                api.post("/v1/sites/default/secrets", json={"name": f"S{i}", "value": f"value-{i}"})
            result = cli("backup", "--data-dir", str(data_dir), "--to", str(tmp_path / "backup.db"))
            assert result.returncode == 0, result.stderr
            api.post("/v1/sites/default/secrets", json={"name": "AFTER", "value": "not in the backup"})
    finally:
        served.stop()
    assert stat.S_IMODE((tmp_path / "backup.db").stat().st_mode) == 0o600

    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    refused = cli("restore", "--data-dir", str(restored), "--from", str(tmp_path / "backup.db"))
    assert refused.returncode == 1 and "master key" in refused.stderr  # the key is never in a backup
    os.link(data_dir / "master.key", restored / "master.key")
    result = cli("restore", "--data-dir", str(restored), "--from", str(tmp_path / "backup.db"))
    assert result.returncode == 0, result.stderr
    served = Served(restored)
    try:
        with client(served.url, token) as api:
            assert [api.post(f"/v1/sites/default/secrets/S{i}/reveal").json()["value"] for i in range(20)] == [f"value-{i}" for i in range(20)]
            assert api.get("/v1/sites/default/secrets/AFTER").status_code == 404
    finally:
        served.stop()


def test_restore_from_a_missing_file_or_a_directory_is_one_sentence(initialised, tmp_path):
    data_dir, _ = initialised
    target = tmp_path / "restored"
    target.mkdir(mode=0o700)
    os.link(data_dir / "master.key", target / "master.key")
    for source, said in ((tmp_path / "typo.db", "no such file"), (tmp_path, "not a file")):
        result = cli("restore", "--data-dir", str(target), "--from", str(source))
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert said in result.stderr and str(source) in result.stderr
        assert sorted(p.name for p in target.iterdir()) == ["master.key"]


def test_backup_of_a_replicas_data_directory_says_how_to_back_up_postgresql_and_writes_nothing(initialised, tmp_path):
    data_dir, _ = initialised  # as a replica's holds it: the master key, its database elsewhere
    for path in data_dir.glob("secrets.db*"):
        path.unlink()

    result = cli("backup", "--data-dir", str(data_dir), "--to", str(tmp_path / "b.db"))

    assert result.returncode == 1
    assert result.stderr == (f"sitesecrets-server: {data_dir} holds no SQLite database to back up; back up a PostgreSQL "
                             f"database with pg_dump, or with sitesecrets-server copy --from postgresql://... --to sqlite:///FILE\n")
    assert not (tmp_path / "b.db").exists()


def test_backup_and_copy_into_a_directory_that_does_not_exist_name_it_not_a_temporary_file(initialised, tmp_path):
    data_dir, _ = initialised
    missing = tmp_path / "no-such-dir"
    for args in (("backup", "--data-dir", str(data_dir), "--to", str(missing / "b.db")),
                 ("copy", "--from", f"sqlite:///{data_dir}/secrets.db", "--to", f"sqlite:///{missing}/c.db")):
        result = cli(*args)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert str(missing) in result.stderr and ".new" not in result.stderr, result.stderr
    assert not missing.exists()


def test_rotation_warns_that_earlier_backups_need_the_retired_key_and_restore_says_why_it_refuses(initialised, tmp_path):
    data_dir, _ = initialised
    assert cli("backup", "--data-dir", str(data_dir), "--to", str(tmp_path / "before.db")).returncode == 0
    rotated = cli("rotate-master-key", "--data-dir", str(data_dir))
    assert rotated.returncode == 0, rotated.stderr
    assert "backups made before" in rotated.stderr and "backup" in rotated.stderr.split("backups made before")[1]
    target = tmp_path / "restored"
    target.mkdir(mode=0o700)
    os.link(data_dir / "master.key", target / "master.key")
    refused = cli("restore", "--data-dir", str(target), "--from", str(tmp_path / "before.db"))
    assert refused.returncode == 1
    assert "is not the master key of this database" in refused.stderr
    assert "a backup made before a rotation of the master key opens only with the key of its time" in refused.stderr


def test_a_second_stop_signal_during_the_first_starts_the_shutdown_once():
    """systemd's stop sends SIGTERM to every process of the unit, and the parent of the workers
    forwards its own: a worker's second handler may run while the first is inside `Thread.start`.
    It started the same thread twice ("KeyError" from threading's bootstrap on stderr)."""
    from server.cli import _stopper

    runs, entered = [], []

    class Shutdown(threading.Thread):
        def start(self) -> None:
            if not entered:
                entered.append(1)
                handler(signal.SIGTERM, None)  # the second signal, before the thread says it started
            super().start()

    shutdown = Shutdown(target=lambda: runs.append(1))
    handler = _stopper(shutdown)
    handler(signal.SIGTERM, None)
    shutdown.join()
    assert runs == [1]


def test_workers_with_stdout_closed_serve_and_stop_without_a_traceback(initialised, tmp_path):
    """As under a service manager that gives no stdout (`>&-`)."""
    data_dir, token = initialised
    path = tmp_path / "s.sock"
    argv = ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir),
            "--unix-socket", str(path), "--workers", "2"]
    proc = subprocess.Popen(argv, cwd=REPO, stderr=subprocess.PIPE, text=True)
    def serving() -> bool:
        assert proc.poll() is None, proc.stderr.read()
        try:
            with client("http://localhost", token, transport=httpx.HTTPTransport(uds=str(path))) as api:
                return api.get("/v1/whoami").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(serving, "the workers to serve")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err, err


@pytest.mark.parametrize("extra, said", [
    (["--port", "70000"], "0 to 65535"),
    (["--port", "-1"], "0 to 65535"),
    (["--tls-key", "/etc/hostname"], "--tls-key needs --tls-cert"),
])
def test_serve_refuses_options_that_make_no_sense_before_serving(initialised, extra, said):
    data_dir, _ = initialised
    result = subprocess.run([sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir), "--workers", "1", *extra],
                            cwd=REPO, capture_output=True, text=True, timeout=30)  # never serving: plain http for --tls-key
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert said in result.stderr and "listening" not in result.stdout


def test_serve_names_what_it_cannot_listen_on_or_load(initialised, tmp_path):
    data_dir, _ = initialised
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    path = tmp_path / "s.sock"
    try:
        for workers in ("1", "2"):
            taken = cli("serve", "--data-dir", str(data_dir), "--port", str(port), "--workers", workers)
            assert taken.returncode == 1 and "Traceback" not in taken.stderr, taken.stderr
            assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in taken.stderr
    finally:
        holder.close()
    missing = cli("serve", "--data-dir", str(data_dir), "--unix-socket", str(path), "--workers", "1",
                  "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem"))
    assert missing.returncode == 1 and "cannot load --tls-cert" in missing.stderr and "cert.pem" in missing.stderr
    (tmp_path / "cert.pem").write_text("not a certificate\n")
    (tmp_path / "key.pem").write_text("not a key\n")
    (tmp_path / "key.pem").chmod(0o600)
    bad = cli("serve", "--data-dir", str(data_dir), "--unix-socket", str(path), "--workers", "1",
              "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem"))
    assert bad.returncode == 1 and "cannot load --tls-cert" in bad.stderr and "Traceback" not in bad.stderr
    assert not path.exists()  # refused before the socket was made


@pytest.mark.parametrize("name", ["", "n" * 500])
def test_token_create_with_a_name_the_api_refuses_is_one_sentence_and_mints_nothing(initialised, name):
    data_dir, _ = initialised
    result = cli("token", "create", "--data-dir", str(data_dir), "--name", name, "--role", "admin")
    assert result.returncode == 1 and "Traceback" not in result.stderr and "pydantic" not in result.stderr, result.stderr
    assert result.stderr.startswith("sitesecrets-server: --name ") and len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


@pytest.mark.parametrize("mode", [0o644, 0o606, 0o602])
def test_a_tls_key_every_user_may_read_or_change_is_refused(initialised, tmp_path, mode):
    """Any local user who can read the key can pose as the server and collect its tokens."""
    data_dir, _ = initialised
    cert, key = _self_signed(tmp_path)
    key.chmod(mode)
    result = cli("serve", "--data-dir", str(data_dir), "--workers", "1", "--port", "0", "--tls-cert", str(cert), "--tls-key", str(key))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"can be read or changed by every user of this machine (mode {mode:04o})" in result.stderr


def test_a_certificate_file_holding_its_key_is_refused_by_the_option_it_came_by(initialised, tmp_path):
    """--tls-cert alone, with the key in the same PEM: the refusal names --tls-cert, the option
    the user gave, not a --tls-key they never passed."""
    data_dir, _ = initialised
    cert, key = _self_signed(tmp_path)
    combined = tmp_path / "combined.pem"
    combined.write_bytes(cert.read_bytes() + key.read_bytes())
    combined.chmod(0o644)
    result = cli("serve", "--data-dir", str(data_dir), "--workers", "1", "--port", "0", "--tls-cert", str(combined))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"--tls-cert {combined} holds a private key" in result.stderr and "--tls-key" not in result.stderr


def test_a_tls_key_its_group_may_read_is_served(initialised, tmp_path):
    """Debian's ssl-cert set-up: root:ssl-cert 0640, the server's user in that group."""
    data_dir, token = initialised
    cert, key = _self_signed(tmp_path)
    key.chmod(0o640)
    served = Served(data_dir, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        url = served.url.replace("127.0.0.1", "localhost")
        with client(url, token, verify=ssl.create_default_context(cafile=str(cert))) as api:
            assert api.get("/v1/health").status_code == 200
    finally:
        assert served.stop() == 0


def test_an_encrypted_tls_key_without_a_terminal_says_so(initialised, tmp_path):
    """Under a service manager there is no terminal for OpenSSL's passphrase prompt: it printed
    "Enter PEM pass phrase:" twice and the refusal said only "Invalid argument"."""
    data_dir, _ = initialised
    cert, _ = _self_signed(tmp_path)
    key = ec.generate_private_key(ec.SECP256R1())
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"passphrase")))
    encrypted.chmod(0o600)
    result = subprocess.run([sys.executable, "-m", "server", "serve", "--data-dir", str(data_dir), "--workers", "1",
                             "--port", "0", "--tls-cert", str(cert), "--tls-key", str(encrypted)],
                            cwd=REPO, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                            start_new_session=True)  # no controlling terminal, as under systemd
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "is encrypted" in result.stderr and "pass phrase" not in result.stderr.lower()
