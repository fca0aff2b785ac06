"""A server inside another process: `sitesecrets local` and the tests start one on a loopback port
(or a unix socket) over a data directory, initialising it on first use. With `settings.database_url`
the database must already be initialised (`sitesecrets-server init --database-url`)."""

from __future__ import annotations

import threading
from pathlib import Path

from . import files
from .app import Application, create_app
from .config import DB_FILE, Settings
from .datadir import init_data_dir, open_state
from .sweeper import Sweeper
from .wsgiserver import WSGIServer

LOCAL_TOKEN_FILE = "local-admin.token"


class EmbeddedServer:
    """A running server in this process. Use as a context manager, or call `stop()`."""

    def __init__(self, server: WSGIServer, state, thread: threading.Thread, admin_token: str, sweeper: Sweeper,
                 app: Application) -> None:
        self._server, self.state, self._thread, self.sweeper, self._app = server, state, thread, sweeper, app
        self._stopped = False
        self.admin_token = admin_token
        self.url = server.url

    @classmethod
    def start(cls, data_dir: Path, host: str = "127.0.0.1", port: int = 0, *, unix_socket: Path | None = None,
              settings: Settings | None = None) -> "EmbeddedServer":
        data_dir = Path(data_dir)
        token_file = data_dir / LOCAL_TOKEN_FILE
        database_url = settings.database_url if settings else None
        if database_url is None and not (data_dir / DB_FILE).exists():
            token = init_data_dir(data_dir)
            files.write_private_file(token_file, token + "\n")
        state = open_state(settings or Settings(data_dir=data_dir))
        if not token_file.exists():
            from .datadir import create_token_offline
            from shared.models import Role

            token = create_token_offline(data_dir, "local-admin", Role.admin, None, database_url=database_url)
            files.write_private_file(token_file, token + "\n")
        app = create_app(state)
        server = WSGIServer(app, host, port, unix_socket=unix_socket)
        thread = threading.Thread(target=server.serve_forever, name="sitesecrets-server", daemon=True)
        thread.start()
        sweeper = Sweeper(state.store, audit_retention_days=state.settings.limits.audit_retention_days).start()
        return cls(server, state, thread, token_file.read_text().strip(), sweeper, app)

    def stop(self) -> None:
        """Drain the requests, write what the application holds, close the store; once."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._thread.join()
        self._app.close()
        self.sweeper.stop()
        self.state.store.close()

    def __enter__(self) -> "EmbeddedServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
