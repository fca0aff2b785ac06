"""Limits at their exact edge (a name or value of exactly the limit is accepted, one more is
refused), and JSON text the rules never see: a lone surrogate is not Unicode, so the body is
refused whole and nothing changes."""

from __future__ import annotations

import pytest

from apihelpers import SITE, expect_error
from shared.limits import MAX_NAME_LENGTH_CEILING, MAX_STORED_NAME_LENGTH, secret_name_problem

SECRETS = f"{SITE}/secrets"
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("limit", [1, 8, 256, MAX_NAME_LENGTH_CEILING])
def test_a_name_of_exactly_the_limit_is_a_name(limit):
    assert secret_name_problem("N" * limit, limit) is None


@pytest.mark.parametrize("limit", [1, 8, 256, MAX_NAME_LENGTH_CEILING])
def test_a_name_one_past_the_limit_says_both_lengths(limit):
    assert secret_name_problem("N" * (limit + 1), limit) == f"must be at most {limit} characters (it has {limit + 1})"


def test_the_default_name_limit_is_256():
    assert secret_name_problem("N" * 256) is None and secret_name_problem("N" * 257) is not None


def test_a_name_of_the_ceiling_is_stored_and_read_back_by_its_path(api):
    assert api.patch(SITE, json={"limits": {"max_name_length": MAX_NAME_LENGTH_CEILING}}).status_code == 200
    name = "N" * MAX_NAME_LENGTH_CEILING
    assert api.post(SECRETS, json={"name": name, "value": "v"}).status_code == 201
    assert api.get(f"{SECRETS}/{name}").json()["name"] == name


def test_a_path_name_past_the_ceiling_is_404_naming_the_parameter(api):
    # paths are looked up up to the longest name any version stored, so those stay reachable
    details = expect_error(api.get(f"{SECRETS}/{'N' * (MAX_STORED_NAME_LENGTH + 1)}"), 404, "not_found")
    assert details == {"parameter": "name", "max_length": MAX_STORED_NAME_LENGTH}


def test_the_name_limit_cannot_be_raised_past_the_ceiling(api):
    response = api.patch(SITE, json={"limits": {"max_name_length": MAX_NAME_LENGTH_CEILING + 1}})
    expect_error(response, 422, "validation_error")


def test_a_value_of_exactly_the_limit_in_utf8_bytes_is_stored(api):
    value = "é" * (65_536 // 2)  # two bytes each
    assert api.post(SECRETS, json={"name": "FULL", "value": value}).status_code == 201
    assert api.post(f"{SECRETS}/FULL/reveal").json()["value"] == value


def test_a_value_one_byte_past_the_limit_is_413(api):
    details = expect_error(api.post(SECRETS, json={"name": "OVER", "value": "é" * 32_768 + "x"}), 413, "value_too_large")
    assert details["limit_bytes"] == 65_536


@pytest.mark.parametrize("body", [
    '{"name": "LONE", "value": "a\\ud800b"}',
    '{"name": "LONE", "value": "\\udfff"}',
    '{"name": "LONE\\ud800", "value": "v"}',
    '{"name": "LONE", "value": "v", "description": "\\udc00"}',
])
def test_a_lone_surrogate_in_a_body_is_invalid_json_and_changes_nothing(api, db_rows, body):
    before = db_rows()
    expect_error(api.post(SECRETS, content=body.encode(), headers=JSON), 400, "invalid_json")
    assert db_rows() == before


def test_a_lone_surrogate_in_a_token_name_is_invalid_json(api, db_rows):
    before = db_rows()
    response = api.post("/v1/tokens", content=b'{"name": "\\ud800", "role": "viewer"}', headers=JSON)
    expect_error(response, 400, "invalid_json")
    assert db_rows() == before


def test_an_escaped_surrogate_pair_is_the_character_it_encodes(api):
    body = b'{"name": "PAIR", "value": "\\ud83d\\ude00"}'
    assert api.post(SECRETS, content=body, headers=JSON).status_code == 201
    assert api.post(f"{SECRETS}/PAIR/reveal").json()["value"] == "\U0001F600"
