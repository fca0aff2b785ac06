"""The WSGI application for a WSGI server of your own, such as gunicorn:

    SITESECRETS_DATA_DIR=/var/lib/sitesecrets SITESECRETS_DATABASE_URL=postgresql://... \\
        gunicorn --workers 4 --threads 8 --bind 127.0.0.1:8716 'server.wsgi:create()'

`create()` reads `SITESECRETS_DATA_DIR` (where the master key is; required) and
`SITESECRETS_DATABASE_URL`, or `SITESECRETS_DATABASE_URL_FILE` naming a file that holds it
(optional; without either, the SQLite file in the data directory),
and the key may come from `SITESECRETS_MASTER_KEY` instead of the key file, as for `serve`.
Each worker process calls it once and opens its own store; do not use gunicorn's `--preload`,
which would open it before the fork. With SQLite, the workers' writers take turns at the data
directory's `write.lock`, as those of `serve --workers` do.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path

from .app import Application, create_app
from .config import DATA_DIR_ENV, Settings
from .coredumps import forbid_core_dumps
from .datadir import DataDirError, open_state
from .dburl import DatabaseUrlError, database_url_from_environment
from .sweeper import Sweeper


def create(environ: dict[str, str] | None = None) -> Application:
    """The application over the store and key the environment names; raises `DataDirError` if they
    cannot be opened (a wrong key, no database), so the worker fails to boot with that sentence."""
    forbid_core_dumps()  # before the master key is loaded
    environ = os.environ if environ is None else environ
    data_dir = environ.get(DATA_DIR_ENV)
    if not data_dir:
        raise RuntimeError(f"set {DATA_DIR_ENV} to the data directory that holds the master key")
    try:
        database_url = database_url_from_environment(environ)
    except DatabaseUrlError as error:
        raise DataDirError(str(error)) from None
    state = open_state(Settings(data_dir=Path(data_dir), database_url=database_url), environ)
    sweeper = Sweeper(state.store, audit_retention_days=state.settings.limits.audit_retention_days).start()
    app = create_app(state)
    atexit.register(state.store.close)
    atexit.register(sweeper.stop)
    atexit.register(app.close)  # run first (last registered): the counts it holds are written before the store closes
    return app
