"""The TUI's options (`--read-only`, `--reveal-seconds`, `--clipboard-seconds`, `--refresh-seconds`)
given before `local` apply to it, as they do after it; given on both sides with different values
they are a usage error in one sentence, never one of them silently dropped."""

from __future__ import annotations

import pytest

from tui import cli
from tui.exitstatus import USAGE
from tui.siteoption import SiteOptionError

GIVEN = [pytest.param(option, dest, value, id=option[0]) for option, dest, value in [
    (["--read-only"], "read_only", True),
    (["--reveal-seconds", "3"], "reveal_seconds", 3.0),
    (["--clipboard-seconds", "7.5"], "clipboard_seconds", 7.5),
    (["--refresh-seconds", "0"], "refresh_seconds", 0.0),
]]
DEFAULTS = {"read_only": False, "reveal_seconds": 15.0, "clipboard_seconds": 30.0, "refresh_seconds": 5.0}


@pytest.mark.parametrize(("option", "dest", "value"), GIVEN)
@pytest.mark.parametrize("where", ["before local", "after local", "without a command"])
def test_a_ui_option_applies_wherever_it_is_given(option, dest, value, where):
    argv = {"before local": [*option, "local"], "after local": ["local", *option], "without a command": option}[where]
    args = cli.parse_args(argv)
    assert {name: getattr(args, name) for name in DEFAULTS} == {**DEFAULTS, dest: value}


@pytest.mark.parametrize("argv", [[], ["local"]], ids=["tui", "local"])
def test_ui_options_not_given_take_their_defaults(argv):
    args = cli.parse_args(argv)
    assert {name: getattr(args, name) for name in DEFAULTS} == DEFAULTS


def test_the_same_value_before_and_after_local_is_fine():
    args = cli.parse_args(["--reveal-seconds", "3", "local", "--reveal-seconds", "3.0", "--read-only"])
    assert (args.reveal_seconds, args.read_only) == (3.0, True)


@pytest.mark.parametrize("option", ["--reveal-seconds", "--clipboard-seconds", "--refresh-seconds"])
def test_different_values_before_and_after_local_are_a_usage_error(option, capsys):
    assert cli.run_argv([option, "3", "local", option, "4"]) == USAGE
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "", f"sitesecrets: {option} 3 before the command and 4 after it differ; give one\n")


def test_the_settings_local_opens_with_carry_an_option_given_before_it(tmp_path, monkeypatch):
    opened = {}

    def fake_run_tui(client, settings) -> int:
        opened["settings"] = settings
        return 0

    monkeypatch.setattr(cli, "run_tui", fake_run_tui)
    argv = ["--read-only", "--reveal-seconds", "2", "--clipboard-seconds", "4", "--refresh-seconds", "0",
            "local", "--data-dir", str(tmp_path / "data")]
    assert cli.run_argv(argv) == 0
    settings = opened["settings"]
    assert (settings.read_only, settings.reveal_seconds, settings.clipboard_seconds, settings.refresh_seconds) == \
        (True, 2.0, 4.0, 0.0)


@pytest.mark.parametrize(("argv", "said"), [pytest.param(argv, said, id=" ".join(argv)) for argv, said in [
    (["--read-only", "ls"], "ls takes no --read-only; leave it out"),
    (["--reveal-seconds", "3", "sites", "ls"], "sites ls takes no --reveal-seconds; leave it out"),
    (["--refresh-seconds", "0", "logout"], "logout takes no --refresh-seconds; leave it out"),
]])
def test_a_ui_option_before_a_command_that_opens_no_tui_is_a_usage_error(argv, said):
    """`sitesecrets --read-only ls` would read as a promise that ls changes nothing; the option
    means nothing there, so it is refused (exit 2, as the errors above) rather than dropped, as
    --site is."""
    with pytest.raises(SiteOptionError) as refused:
        cli.parse_args(argv)
    assert str(refused.value) == said


def test_the_usage_names_the_site_option_as_site(capsys):
    """Not by where the parser keeps it (`site_before_command`)."""
    with pytest.raises(SystemExit):
        cli.parse_args(["--help"])
    assert "[--site SITE]" in capsys.readouterr().out
