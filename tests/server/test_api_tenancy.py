"""Tenants of one host stay apart: one tenant's mistakes or attacks never reach another's data,
limits, audit log or access (API.md, "Tenancy rules")."""

from __future__ import annotations

from apihelpers import SITE, expect_error

BAD_TOKEN = "ss_" + "A" * 43


def test_bad_tokens_from_a_shared_address_never_throttle_valid_tokens(app, client, api) -> None:
    guesser = client(BAD_TOKEN)  # every client here connects from 127.0.0.1, as a host's tenants do
    statuses = [guesser.get("/v1/whoami").status_code for _ in range(app.limiter.threshold + 1)]
    assert statuses == [401] * app.limiter.threshold + [429]
    assert api.get(f"{SITE}/secrets").status_code == 200
    expect_error(guesser.get("/v1/whoami"), 429, "rate_limited")
