"""A PostgreSQL database that goes away under a running server (restarted, crashed, the network
cut) and comes back: every request meanwhile is a prompt 503 in one sentence, nothing is changed
that was not acknowledged, and the server serves again by itself soon after the database is back.

The database is taken away through a relay in front of it (`dbproxy.py`), so the PostgreSQL other
tests share is never restarted."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

import dbbackend
from dbproxy import DatabaseProxy
from server.app import create_app
from server.config import Settings
from server.datadir import open_state
from server.store.postgres import POOL_TIMEOUT, RECONNECT_TIMEOUT
from waiting import wait_until

pytestmark = pytest.mark.postgresql_only(reason="the database is a server that can go away")
LONG_OUTAGE = 40 if os.environ.get("SITESECRETS_LONG") == "1" else 8
"""Seconds of the long outage: 40 in `make test-long`, where attempts backing off without bound
(1, 2, 4 ... s) would by then be 16 s apart; 8 in `make test`, which still shows the server
trying on and serving again soon after."""

SITE = "/v1/sites/default"


@pytest.fixture
def proxy(data_dir: Path) -> Iterator[DatabaseProxy]:
    relay = DatabaseProxy(dbbackend.database_url(data_dir))
    yield relay
    relay.close()


@pytest.fixture
def api(data_dir: Path, proxy: DatabaseProxy, admin_token: str) -> Iterator[httpx.Client]:
    """The admin's client of a server whose database is reached through `proxy`."""
    # without the server lock, whose keeper would knock on the relay every second of its own accord
    state = open_state(Settings(data_dir=data_dir, database_url=proxy.url), environ={}, lock=False)
    transport = httpx.WSGITransport(app=create_app(state), raise_app_exceptions=False)
    with httpx.Client(transport=transport, base_url="http://testserver",
                      headers={"Authorization": f"Bearer {admin_token}"}) as client:
        yield client
    proxy.restore()
    state.store.close()


def timed(request) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


def unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {"error": {"code": "database_unavailable", "details": {},
                                         "message": "the server cannot reach its database just now; try again shortly"}}
    assert response.headers["Retry-After"] == "1"


def create_secret(api: httpx.Client, name: str, value: str) -> None:
    assert api.post(f"{SITE}/secrets", json={"name": name, "value": value}).status_code == 201


def test_a_request_whose_database_went_away_is_a_503_in_one_sentence(api, proxy) -> None:
    create_secret(api, "KEPT", "before")
    proxy.cut()
    unavailable(api.get(f"{SITE}/secrets"))
    unavailable(api.patch(f"{SITE}/secrets/KEPT", json={"value": "during"}))


def test_while_the_database_is_away_every_answer_comes_promptly(api, proxy) -> None:
    proxy.cut()
    for request in (lambda: api.get(f"{SITE}/secrets"), lambda: api.get(f"{SITE}/secrets"),
                    lambda: api.post(f"{SITE}/secrets", json={"name": "N", "value": "v"}), lambda: api.get("/v1/whoami")):
        response, seconds = timed(request)
        unavailable(response)
        assert seconds < POOL_TIMEOUT / 3, seconds


def outage_seconds(proxy: DatabaseProxy) -> float:
    return proxy.refusals[-1] - proxy.refusals[0] if proxy.refusals else 0.0


def test_through_a_long_outage_the_server_keeps_trying_and_serves_again_soon_after(api, proxy) -> None:
    create_secret(api, "KEPT", "before")
    proxy.cut()
    # (see LONG_OUTAGE) a server backing off without bound would serve again only long after its
    # database came back
    wait_until(lambda: api.get(f"{SITE}/secrets").status_code == 503 and outage_seconds(proxy) >= LONG_OUTAGE,
               f"{LONG_OUTAGE} seconds of refused reconnection attempts", timeout=LONG_OUTAGE + 60)
    gaps = [later - earlier for earlier, later in zip(proxy.refusals, proxy.refusals[1:])]
    assert max(gaps) <= 2 * RECONNECT_TIMEOUT, gaps
    unavailable(api.patch(f"{SITE}/secrets/KEPT", json={"value": "during"}))
    proxy.restore()
    back = time.monotonic()
    wait_until(lambda: api.get(f"{SITE}/secrets").status_code == 200, "the server to serve again", timeout=60)
    assert time.monotonic() - back < 10
    assert api.post(f"{SITE}/secrets/KEPT/reveal").json()["value"] == "before"  # the refused change changed nothing
    assert api.patch(f"{SITE}/secrets/KEPT", json={"value": "after"}).status_code == 200
