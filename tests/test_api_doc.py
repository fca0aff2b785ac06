"""docs/API.md describes the API the server serves: its paths table holds exactly the routing
table's routes, each with the permission and success status the router gives it, and its error
table is `shared.models.ERROR_STATUS`. A route added, removed or changed without the page fails
here."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from server.handlers import ROUTES
from server.routing import SCOPES
from shared import limits
from shared.models import ERROR_STATUS

DOC = (Path(__file__).resolve().parents[1] / "docs" / "API.md").read_text(encoding="utf-8")
_ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| (\w+) \|[^|]*\| (\d{3})\b", re.M)


def section(title: str) -> str:
    start = DOC.index(f"\n## {title}\n")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end if end > 0 else len(DOC)]


def documented_routes() -> dict[tuple[str, str], tuple[str, int]]:
    """(method, path) -> (permission, status) of each row of the Paths table, `{scope}` expanded."""
    routes: dict[tuple[str, str], tuple[str, int]] = {}
    for method, path, permission, status in _ROW.findall(section("Paths")):
        paths = [path.replace("{scope}", scope) for scope in SCOPES] if "{scope}" in path else [path]
        for expanded in paths:
            assert (method, expanded) not in routes, f"{method} {expanded} is listed twice"
            routes[(method, expanded)] = (permission, int(status))
    return routes


def served_routes() -> dict[tuple[str, str], tuple[str, int]]:
    return {(r.method, r.path): (r.permission.value, r.status) for r in ROUTES}


def test_the_paths_table_lists_exactly_the_routes_served():
    documented, served = set(documented_routes()), set(served_routes())
    assert not served - documented, f"served but not in docs/API.md: {sorted(served - documented)}"
    assert not documented - served, f"in docs/API.md but not served: {sorted(documented - served)}"


def test_each_documented_route_has_the_permission_and_status_it_is_served_with():
    served = served_routes()
    wrong = {key: (doc, served[key]) for key, doc in documented_routes().items() if key in served and doc != served[key]}
    assert not wrong, f"docs/API.md (permission, status) differs from the routing table: {wrong}"


def test_the_error_table_is_every_code_with_its_status():
    documented: dict[int, set[str]] = defaultdict(set)
    for status, codes in re.findall(r"^\| (\d{3}) \| (.+) \|$", section("Conventions"), re.M):
        documented[int(status)] |= set(re.findall(r"`(\w+)`", codes))
    served: dict[int, set[str]] = defaultdict(set)
    for code, status in ERROR_STATUS.items():
        served[status].add(code.value)
    assert documented == served


@pytest.mark.parametrize("pattern", [limits.SLUG_PATTERN, limits.SECRET_NAME_PATTERN, limits.TYPE_KEY_PATTERN])
def test_the_name_rules_are_the_patterns_of_shared_limits(pattern):
    assert f"`{pattern}`" in section("Names and limits")


@pytest.mark.parametrize("figure", [
    f"{limits.DEFAULT_LIMITS.max_name_length}", f"{limits.DEFAULT_LIMITS.max_value_bytes:,}",
    f"{limits.DEFAULT_LIMITS.max_secrets}", f"{limits.MAX_NAME_LENGTH_CEILING:,}", f"{limits.MAX_DESCRIPTION_CHARS:,}",
])
def test_the_limits_are_the_figures_of_shared_limits(figure):
    assert figure in section("Names and limits")


def test_the_request_cap_is_the_one_enforced():
    assert f"{limits.MAX_REQUEST_BYTES:,} bytes" in section("Conventions")
