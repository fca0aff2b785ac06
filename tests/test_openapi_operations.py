"""The OpenAPI document is valid OpenAPI 3.1 (openapi-spec-validator), and every operation has a
readable camelCase operationId, unique in the document, and one tag from the document's tag list,
so generators (openapi-python-client, openapi-generator) group and name the calls well. A route
added without a tag or with a name the rule can't make fails here: give it `tag=` or `operation=`."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from openapi_spec_validator import validate

from server.handlers import ROUTES
from server.openapi import document

DOC = json.loads(document(tuple(ROUTES)))
OPERATIONS = {(method.upper(), path): op for path, ops in DOC["paths"].items() for method, op in ops.items()}


def test_the_document_is_valid_openapi_3_1():
    validate(DOC)


def test_every_route_is_an_operation():
    assert set(OPERATIONS) == {(r.method, r.path) for r in ROUTES}


def test_operation_ids_are_camel_case_and_unique():
    ids = [op["operationId"] for op in OPERATIONS.values()]
    assert [i for i in ids if not re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)*", i)] == []
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_every_operation_has_one_tag_from_the_tag_list():
    listed = [t["name"] for t in DOC["tags"]]
    assert len(listed) == len(set(listed))
    untagged = [key for key, op in OPERATIONS.items() if len(op.get("tags", [])) != 1 or op["tags"][0] not in listed]
    assert untagged == []
    assert {"sites", "apps", "secrets", "types", "services", "audit", "tokens", "meta"} <= set(listed)


@pytest.mark.parametrize("method,path,operation_id,tag", [
    ("POST", "/v1/sites/{site}/secrets/{name}/reveal", "revealSecret", "secrets"),
    ("POST", "/v1/sites/{site}/apps/{app}/secrets/{name}/reveal", "revealAppSecret", "secrets"),
    ("GET", "/v1/sites/{site}/secrets/{name}/versions", "listSecretVersions", "secrets"),
    ("GET", "/v1/sites/{site}/secrets", "listSecrets", "secrets"),
    ("POST", "/v1/sites/{site}/services", "createService", "services"),
    ("GET", "/v1/sites/{site}/services/{name}/env", "getServiceEnv", "services"),
    ("POST", "/v1/sites/{site}/secret-types", "createSecretType", "types"),
    ("GET", "/v1/sites/{site}/audit", "listSiteAudit", "audit"),
    ("POST", "/v1/tokens", "createToken", "tokens"),
    ("GET", "/v1/sites", "listSites", "sites"),
    ("DELETE", "/v1/sites/{site}/apps/{app}", "deleteApp", "apps"),
    ("GET", "/v1/health", "getHealth", "meta"),
])
def test_operations_are_named_and_grouped_for_what_they_do(method, path, operation_id, tag):
    op = OPERATIONS[(method, path)]
    assert (op["operationId"], op["tags"]) == (operation_id, [tag])


def test_links_name_existing_operations():
    ids = {op["operationId"] for op in OPERATIONS.values()}
    linked = {link["operationId"] for op in OPERATIONS.values() for response in op["responses"].values()
              for link in response.get("links", {}).values()}
    assert linked and linked <= ids
