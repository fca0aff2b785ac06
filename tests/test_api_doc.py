"""docs/API.md describes the API the server serves: its paths table holds exactly the routing
table's routes, each with the permission and success status the router gives it, and its error
table is `shared.models.ERROR_STATUS`, with every `details.reason` the server answers. A route
added, removed or changed without the page fails here, and so does a figure of the fair share or
the denial budgets that the page no longer states."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

from server import admission, denialbudget, denials
from server.handlers import ROUTES
from server.routing import SCOPES
from shared import limits
from shared.models import ERROR_STATUS

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
_ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| (\w+) \|[^|]*\| (\d{3})\b", re.M)


def section(title: str) -> str:
    start = DOC.index(f"\n## {title}\n")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end if end > 0 else len(DOC)]


def item(anchor: str) -> str:
    """The text of the list item that holds `<a id="ANCHOR">`, up to the next item, its lines joined."""
    start = DOC.index(f'<a id="{anchor}"></a>')
    return " ".join(DOC[start:DOC.index("\n- **", start)].split())


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
        while (inner := re.sub(r"\([^()]*\)", "", codes)) != codes:  # what a code means, in parentheses
            codes = inner  # (links in it included) names no code
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


def answered_reasons() -> set[str]:
    """Every `details.reason` the server's errors carry: the `"reason"` of each dict written in an
    `ApiError(...)` under server/."""
    reasons = set()
    for path in (ROOT / "server").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ApiError":
                for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
                    if isinstance(argument, ast.Dict):
                        reasons |= {constant.value for key, value in zip(argument.keys, argument.values)
                                    if isinstance(key, ast.Constant) and key.value == "reason"
                                    for constant in ast.walk(value)  # `"a" if ... else "b"` names both
                                    if isinstance(constant, ast.Constant) and isinstance(constant.value, str)}
    return reasons


def test_the_error_table_names_every_reason_the_server_answers():
    reasons = answered_reasons()
    assert {"site_share", "control_character", "denied", "site_denied"} <= reasons  # the scan finds what it should
    table = "\n".join(re.findall(r"^\| \d{3} \| .+ \|$", section("Conventions"), re.M))
    assert not {reason for reason in reasons if f"`{reason}`" not in table}


@pytest.mark.parametrize("figure", [
    f"handles up to {admission.SLOTS} of their requests", f"{admission.SLOTS} divided by the number of sites sending", f"Past {admission.MAX_QUEUED} requests",
    f"waited {admission.MAX_WAIT_SECONDS:.0f} seconds", f"within the last {admission.LINGER_SECONDS * 1000:.0f} ms",
    f"`Retry-After: {admission.RETRY_AFTER_SECONDS}`",
])
def test_the_fair_share_is_described_with_the_gates_figures(figure):
    assert figure in item("fair-share")


@pytest.mark.parametrize("figure", [
    f"once {denialbudget.PER_TOKEN} denials of a", f"wrote {denialbudget.PER_SITE} events for denials",
    f"within {denialbudget.WINDOW_SECONDS:.0f} seconds", f"opens a {denials.WINDOW_SECONDS}-second window",
    f"at most {denials.MAX_PENDING:,} windows", f"tried again every {denials.RETRY_SECONDS:.0f} seconds",
])
def test_repeated_denials_are_described_with_the_budgets_figures(figure):
    assert figure in item("repeated-denials")
