"""Which `Authorization` headers carry a token (the Bearer scheme, in any case, and nothing else),
and the format of the tokens and token ids the server hands out."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from apihelpers import expect_error
from server.auth import TOKEN_PREFIX, bearer_token, new_token, new_token_id

TOKEN_FORMAT = re.compile(r"ss_[A-Za-z0-9_-]{43}")
"""`ss_` and 32 random bytes in unpadded base64url."""
TOKEN_ID_FORMAT = re.compile(r"tok_[0-9a-f]{16}")


@pytest.fixture
def raw(app):
    """A client that sends exactly the `Authorization` header each request names."""
    with httpx.Client(transport=httpx.WSGITransport(app=app, raise_app_exceptions=False), base_url="http://testserver") as c:
        yield lambda authorization: c.get("/v1/whoami", headers={"Authorization": authorization})


def test_basic_scheme_with_a_valid_token_is_401(raw, admin_token):
    response = raw(f"Basic {admin_token}")
    expect_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_basic_credentials_holding_a_valid_token_are_401(raw, admin_token):
    encoded = base64.b64encode(f"admin:{admin_token}".encode()).decode()
    expect_error(raw(f"Basic {encoded}"), 401, "unauthorized")


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(raw, admin_token, scheme):
    assert raw(f"{scheme} {admin_token}").status_code == 200


def test_a_token_alone_without_a_scheme_is_401(raw, admin_token):
    expect_error(raw(admin_token), 401, "unauthorized")


def test_spaces_around_the_token_are_ignored(raw, admin_token):
    assert raw(f"  Bearer   {admin_token}  ").status_code == 200


def test_a_valid_token_with_a_character_more_is_401(raw, admin_token):
    expect_error(raw(f"Bearer {admin_token}x"), 401, "unauthorized")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Token ss_abc", "Bearer abc", "Bearer SS_abc"])
def test_headers_without_a_bearer_ss_token_carry_no_token(header):
    assert bearer_token(header) is None


def test_a_token_over_200_characters_is_not_looked_up():
    assert bearer_token("Bearer ss_" + "a" * 197) == "ss_" + "a" * 197
    assert bearer_token("Bearer ss_" + "a" * 198) is None


def test_new_tokens_are_ss_and_32_random_bytes():
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert TOKEN_FORMAT.fullmatch(token), token
        assert len(base64.urlsafe_b64decode(token.removeprefix(TOKEN_PREFIX) + "=")) == 32


def test_new_token_ids_are_tok_and_16_hex_digits():
    ids = {new_token_id() for _ in range(50)}
    assert len(ids) == 50 and all(TOKEN_ID_FORMAT.fullmatch(i) for i in ids)


def test_created_tokens_and_their_ids_have_those_formats(api):
    created = api.post("/v1/tokens", json={"name": "formats", "role": "viewer"}).json()
    assert TOKEN_FORMAT.fullmatch(created["token"]) and TOKEN_ID_FORMAT.fullmatch(created["id"])
    listed = api.get("/v1/tokens").json()["items"]
    assert created["id"] in {t["id"] for t in listed} and all("token" not in t for t in listed)


def test_the_first_admin_token_has_the_token_format(admin_token):
    assert TOKEN_FORMAT.fullmatch(admin_token)
