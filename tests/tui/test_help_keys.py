"""The help screen (`?` or F1) tells the truth about keys: every key a tab or a dialog binds is
named in that tab's or dialog's line of the help, so no key does something undocumented."""

from __future__ import annotations

import importlib
import re

import pytest

from tui.ui.dialogs.help import DIALOGS, KEYS, TABS

SHOWN_AS = {"slash": "/", "question_mark": "?", "f1": "F1"}
"""How a Textual key name is written in the help."""

BOUND = {
    ("tui.ui.widgets.secrets_pane", "SecretsPane"): (TABS, "Secrets"),
    ("tui.ui.widgets.types_pane", "TypesPane"): (TABS, "Secret Types"),
    ("tui.ui.widgets.audit_pane", "AuditPane"): (TABS, "Audit"),
    ("tui.ui.widgets.services_pane", "ServicesPane"): (TABS, "Services"),
    ("tui.ui.widgets.sites_pane", "SitesPane"): (TABS, "Sites"),
    ("tui.ui.widgets.tokens_pane", "TokensPane"): (TABS, "Tokens"),
    ("tui.ui.dialogs.secret_form", "SecretFormDialog"): (DIALOGS, "Forms"),
    ("tui.ui.dialogs.type_form", "TypeFormDialog"): (DIALOGS, "Forms"),
    ("tui.ui.dialogs.service_form", "ServiceFormDialog"): (DIALOGS, "Forms"),
    ("tui.ui.dialogs.site_form", "SiteLimitsDialog"): (DIALOGS, "Forms"),
    ("tui.ui.dialogs.site_form", "NewSiteDialog"): (DIALOGS, "New site, token"),
    ("tui.ui.dialogs.token_form", "TokenFormDialog"): (DIALOGS, "New site, token"),
    ("tui.ui.dialogs.confirm", "ConfirmDialog"): (DIALOGS, "Confirm"),
    ("tui.ui.dialogs.history", "HistoryDialog"): (DIALOGS, "History"),
    ("tui.ui.dialogs.trash", "TrashDialog"): (DIALOGS, "Trash"),
    ("tui.ui.dialogs.apps", "AppsDialog"): (DIALOGS, "Apps"),
    ("tui.ui.dialogs.site_picker", "SitePicker"): (DIALOGS, "Switch site"),
    ("tui.ui.dialogs.site_delete", "DeleteSiteDialog"): (DIALOGS, "Delete site"),
    ("tui.ui.dialogs.message", "MessageDialog"): (DIALOGS, "Messages"),
    ("tui.ui.dialogs.help", "HelpDialog"): (DIALOGS, "Help"),
}


def line_of(rows, label: str) -> str:
    """The help's words for `label`: its row and the rows continuing it (no title of their own)."""
    said, inside = [], False
    for title, what in rows:
        inside = title == label or (inside and title == "")
        if inside:
            said.append(what)
    return " ".join(said)


def _keys(where) -> list[str]:
    return [SHOWN_AS.get(key, key) for binding in where.BINDINGS for key in binding.key.split(",")]


@pytest.mark.parametrize("module, name", list(BOUND), ids=[name for _, name in BOUND])
def test_every_key_of_each_tab_and_dialog_is_in_its_line_of_the_help(module, name):
    rows, label = BOUND[(module, name)]
    said = line_of(rows, label)
    if rows is TABS:  # and the keys every tab has
        said += " " + " ".join(f"{key} {what}" for key, what in KEYS)
    assert said, f"no help line for {label}"
    for key in _keys(getattr(importlib.import_module(module), name)):
        assert re.search(rf"(^|[\s·(]){re.escape(key)}($|[\s·,)])", said), f"{name}: {key} not in {said!r}"


def test_help_opens_with_question_mark_or_f1():
    from tui.ui.screens.main import MainScreen

    assert {"question_mark", "f1"} <= set(_keys_of_action(MainScreen, "help"))


def _keys_of_action(where, action: str) -> list[str]:
    return [key for binding in where.BINDINGS if binding.action == action for key in binding.key.split(",")]
