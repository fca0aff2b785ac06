"""The server URL and site defaults are written once (`tui.settings`), and the TUI, the scripting
commands and `run` all take them from there, so they can never disagree."""

from __future__ import annotations

import argparse

import pytest

from tui import cli, run, settings
from tui.credentials import Resolved
from tui.scripting.common import site_of, url_of


def defaults_seen() -> dict[str, tuple[str, str]]:
    """(url, site) each entry point would use with no option given, for a token bound to no site."""
    tui = cli.settings_from(cli.parse_args([]), "")
    runner = run.build_parser().parse_args(["--service", "api"])
    operators = Resolved("ss_operator", site="")  # as login records an operator's token
    nothing = argparse.Namespace(connection=object(), connection_found=operators)  # as `client_for` leaves them
    return {"tui": (cli.build_parser().parse_args([]).url, settings.opening_site(tui.site, None)), "scripting": (url_of(nothing), site_of(nothing)),
            "run": (runner.url, run.site_of(settings.named_site(runner.site), operators, runner.url, None))}


@pytest.fixture
def no_environment(monkeypatch):
    monkeypatch.delenv(settings.URL_VARIABLE, raising=False)
    monkeypatch.delenv(settings.SITE_VARIABLE, raising=False)


def test_every_entry_point_takes_the_url_and_site_defaults_from_settings(no_environment, monkeypatch):
    monkeypatch.setattr(settings, "DEFAULT_URL", "http://127.0.0.1:1")
    monkeypatch.setattr(settings, "DEFAULT_SITE", "elsewhere")
    assert set(defaults_seen().values()) == {("http://127.0.0.1:1", "elsewhere")}


def test_every_entry_point_reads_the_same_environment_variables(no_environment, monkeypatch):
    monkeypatch.setenv("SITESECRETS_URL", "unix:///run/sitesecrets/api.sock")
    monkeypatch.setenv("SITESECRETS_SITE", "shop")
    assert set(defaults_seen().values()) == {("unix:///run/sitesecrets/api.sock", "shop")}
