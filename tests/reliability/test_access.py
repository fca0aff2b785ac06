"""Guessing tokens gets slow, and every kind of bad token is one 401 that says nothing more."""

from __future__ import annotations

import httpx
import pytest

from server.app import create_app
from server.ratelimit import FailureLimiter


@pytest.fixture
def limited(state):
    app = create_app(state)
    app.limiter = FailureLimiter(threshold=5, window_seconds=60)
    return app


def client_of(app, token: str) -> httpx.Client:
    transport = httpx.WSGITransport(app=app, raise_app_exceptions=False, remote_addr="203.0.113.9")
    return httpx.Client(transport=transport, base_url="http://testserver", headers={"Authorization": f"Bearer {token}"})


def test_repeated_bad_tokens_from_one_address_get_429_with_retry_after_audited_once(limited, admin_token):
    guesser = client_of(limited, "ss_" + "A" * 43)
    statuses = [guesser.get("/v1/whoami").status_code for _ in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    refused = guesser.get("/v1/whoami")
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "rate_limited"
    # the admin shares the guesser's address, yet a valid token is never throttled
    items = client_of(limited, admin_token).get("/v1/audit", params={"action": "auth.rate_limited"}).json()["items"]
    assert len(items) == 1 and items[0]["source"] == "203.0.113.9" and items[0]["outcome"] == "denied"


def test_failures_of_other_addresses_do_not_count(limited, admin_token):
    for n in range(10):
        client_of_address = httpx.Client(transport=httpx.WSGITransport(app=limited, remote_addr=f"192.0.2.{n}"),
                                         base_url="http://testserver", headers={"Authorization": "Bearer ss_nope"})
        assert client_of_address.get("/v1/whoami").status_code == 401
    assert client_of(limited, admin_token).get("/v1/whoami").status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-token",
                                    "Bearer ss_" + "x" * 300, "bearer ss_unknown"])
def test_every_malformed_or_unknown_token_is_the_same_401(client, header):
    api = client(None)
    response = api.get("/v1/sites", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["message"] == "a valid bearer token is required"
