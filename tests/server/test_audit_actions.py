"""shared.audit_actions is the exact set of actions the server records: every route's action (a
refused attempt is recorded as it) and every event the server's code builds by name, no more."""

from __future__ import annotations

import re
from pathlib import Path

import server
from server.auth import Permission
from server.handlers import ROUTES
from shared.audit_actions import AUDIT_ACTIONS, action_groups

RECORDED = re.compile(r"""(?:\.event|offline_event|AuditRecord\.of)\(\s*["']([a-z_]+\.[a-z_]+)["']""")


def _named_in_server_code() -> set[str]:
    root = Path(server.__file__).parent
    return {name for path in root.rglob("*.py") for name in RECORDED.findall(path.read_text())}


def test_every_action_the_server_records_is_listed():
    route_actions = {route.action for route in ROUTES if route.permission != Permission.public}
    recorded = route_actions | _named_in_server_code()
    assert recorded - set(AUDIT_ACTIONS) == set()


def test_no_action_is_listed_that_the_server_never_records():
    route_actions = {route.action for route in ROUTES}
    assert set(AUDIT_ACTIONS) - route_actions - _named_in_server_code() == set()


def test_actions_are_sorted_and_grouped_by_object():
    assert list(AUDIT_ACTIONS) == sorted(set(AUDIT_ACTIONS))
    assert "secret" in action_groups() and "service" in action_groups()
