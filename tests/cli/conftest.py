"""Fixtures for the command-line tests: one real server per module on a unix socket (the shared-host
set-up the README recommends), a fresh
site per test (so tests sharing that server stay independent), and `cli(...)`, which runs
`sitesecrets` as a real child process with `SITESECRETS_URL`/`SITESECRETS_TOKEN` in its environment
(forked from a zygote that has imported the command line already: `forkserver.py`).

Nothing is mocked: every command goes through the real client, the real socket and the real server.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Callable, Iterator

import pytest

from cli_helpers import Live, base_env, http_client, run_on_terminal, run_text, start_embedded


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    """A real server on a unix socket, shared by the tests of one module (each uses its own site)."""
    where = tmp_path_factory.mktemp("server")
    server = start_embedded(where / "data", where / "api.sock")
    admin = http_client(server.url, headers={"Authorization": f"Bearer {server.admin_token}"})
    live = Live(server, admin, where / "data", where / "api.sock")
    yield live
    admin.close()
    live.server.stop()


@pytest.fixture
def site(live: Live) -> str:
    """A new, empty site of the module's server."""
    return live.new_site()


CliRunner = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def cli(live: Live) -> CliRunner:
    """`cli(*args, token=admin, site=None, input=None, env=None)`: run `sitesecrets ARGS` as a child
    process against the module's server; returns the CompletedProcess (text, stdout/stderr captured)."""

    def run(*args: str, token: str | None = None, site: str | None = None, input: str | None = None,
            env: dict[str, str] | None = None, url: str | None = None) -> subprocess.CompletedProcess:
        child_env = base_env(SITESECRETS_URL=url or live.url, SITESECRETS_TOKEN=token or live.admin_token)
        if site:
            child_env["SITESECRETS_SITE"] = site
        child_env.update(env or {})
        return run_text([sys.executable, "-m", "tui.cli", *args], env=child_env, input=input)

    return run


@pytest.fixture
def terminal(live: Live) -> CliRunner:
    """`terminal(*args, site=...)`: run `sitesecrets ARGS` as the admin with stdout on a
    pseudo-terminal, as at a shell (`cli_helpers.run_on_terminal`)."""

    def run(*args: str, site: str) -> subprocess.CompletedProcess:
        env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=live.admin_token, SITESECRETS_SITE=site)
        return run_on_terminal([sys.executable, "-m", "tui.cli", *args], env)

    return run
