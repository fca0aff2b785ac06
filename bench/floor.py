"""Row 2's floor: the same read path without our server.

A bare standard-library `ThreadingHTTPServer` (HTTP/1.1 keep-alive, Nagle off, one write per
response) that per request does one indexed SQLite SELECT and one AES-GCM decrypt and answers
`{"value": ...}`. No auth, no audit, no routing: the least any Python server on this stack does
for a read, so our server's throughput is reported as a ratio of it.

Run as `python -m bench.floor DB_PATH` (creates the database if missing): prints
`listening on http://127.0.0.1:PORT` and serves until killed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY = bytes(range(32))
ROWS = 100
SITE = "floor"


def create_db(path: str) -> None:
    """100 sealed values in an indexed table, as our own store lays them out."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE secrets (id INTEGER PRIMARY KEY, site TEXT, name TEXT, ciphertext BLOB)")
    conn.execute("CREATE UNIQUE INDEX secrets_name ON secrets (site, name)")
    aead = AESGCM(KEY)
    conn.execute("BEGIN")
    for n in range(ROWS):
        nonce = os.urandom(12)
        blob = nonce + aead.encrypt(nonce, f"value-{n}-{'x' * 32}".encode(), f"{SITE}/S{n}".encode())
        conn.execute("INSERT INTO secrets (site, name, ciphertext) VALUES (?, ?, ?)", (SITE, f"S{n}", blob))
    conn.execute("COMMIT")
    conn.close()


class FloorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    db_path = ""
    _local = threading.local()

    def log_message(self, format: str, *args: object) -> None:  # quiet, like our server by default
        pass

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(self.db_path, isolation_level=None)
        return conn

    def do_GET(self) -> None:  # GET /S{n}
        name = self.path.lstrip("/")
        row = self._conn().execute("SELECT ciphertext FROM secrets WHERE site = ? AND name = ?", (SITE, name)).fetchone()
        if row is None:
            body, status = b'{"error": "not found"}', 404
        else:
            blob = row[0]
            value = AESGCM(KEY).decrypt(blob[:12], blob[12:], f"{SITE}/{name}".encode()).decode()
            body, status = json.dumps({"value": value}).encode(), 200
        head = (f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.wfile.write(head + body)  # one write per response


class FloorServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A load generator resets its kept-alive connections when a run ends: not an error worth
        a traceback in the bench's output. Anything else is printed as the stdlib does."""
        if not isinstance(sys.exc_info()[1], ConnectionResetError):
            super().handle_error(request, client_address)


def main(argv: list[str]) -> int:
    path = argv[0]
    if not os.path.exists(path):
        create_db(path)
    FloorHandler.db_path = path
    server = FloorServer(("127.0.0.1", 0), FloorHandler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
