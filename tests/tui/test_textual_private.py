"""The Textual private API we use still exists and behaves as tui/ui/textual_private.py expects.

Each test names the fenced class or function it protects: after a Textual upgrade a failure here
says which one to rework, instead of a crash report or a blank field turning up in use. The last
tests keep the fence closed: no other module overrides or reads a Textual private name.
"""

from __future__ import annotations

import inspect
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from textual.app import App
from textual.widgets import Input

from tui.ui import textual_private
from tui.ui.textual_private import (
    TESTED_TEXTUAL, CrashWithoutLocals, full_screen_update, notification_messages,
)
from tui.ui.widgets.safe_input import SafeInput
from tui_helpers import screen_text

ROOT = Path(__file__).resolve().parents[2]


def _fenced(name: str, what: str) -> str:
    return f"Textual {version('textual')} changed {what}: rework tui.ui.textual_private.{name}"


def test_installed_textual_is_in_the_tested_range():
    assert version("textual") in SpecifierSet(TESTED_TEXTUAL), \
        f"Textual {version('textual')} is outside {TESTED_TEXTUAL}: check every use in tui.ui.textual_private"


def test_pyproject_pins_the_tested_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    textual = [Requirement(line) for line in project["dependencies"] if line.startswith("textual")]
    assert [r.specifier for r in textual] == [SpecifierSet(TESTED_TEXTUAL)]


# ------------------------------------------------------------ CrashWithoutLocals

def test_app_still_routes_unhandled_exceptions_through_handle_exception():
    hook = inspect.getattr_static(App, "_handle_exception", None)
    assert callable(hook) and list(inspect.signature(hook).parameters) == ["self", "error"], \
        _fenced("CrashWithoutLocals", "App._handle_exception(error)")


def test_app_still_has_the_exit_state_the_crash_hook_sets():
    app = App()
    assert app._return_code is None and app._exception is None, \
        _fenced("CrashWithoutLocals", "App._return_code / App._exception")
    assert callable(getattr(app._exception_event, "set", None)), \
        _fenced("CrashWithoutLocals", "App._exception_event")
    assert isinstance(app._exit_renderables, list), _fenced("CrashWithoutLocals", "App._exit_renderables")
    assert list(inspect.signature(app._close_messages_no_wait).parameters) == [], \
        _fenced("CrashWithoutLocals", "App._close_messages_no_wait()")


class _CrashOnMount(CrashWithoutLocals, App[None]):
    def on_mount(self) -> None:
        secret_local = "crash-hook-local"  # what a traceback with locals would print
        raise RuntimeError(f"boom {len(secret_local)}")


async def test_crash_hook_ends_the_app_with_our_report_and_code_1(capsys):
    app = _CrashOnMount()
    with pytest.raises(RuntimeError):
        async with app.run_test(size=(80, 24)):
            pass
    printed = capsys.readouterr().err
    assert app.return_code == 1, _fenced("CrashWithoutLocals", "how App sets its exit code")
    assert "sitesecrets stopped on an internal error (RuntimeError)" in printed, \
        _fenced("CrashWithoutLocals", "when App prints _exit_renderables")
    assert "crash-hook-local" not in printed and "Traceback" not in printed


# ------------------------------------------------------------ InputDrawsText

def test_input_still_draws_its_private_value_property():
    assert isinstance(inspect.getattr_static(Input, "_value", None), property), \
        _fenced("InputDrawsText", "Input._value")
    assert "self._value" in inspect.getsource(Input.render_line), \
        _fenced("InputDrawsText", "what Input.render_line draws")


class _OneInput(App[None]):
    def compose(self):
        yield SafeInput("a\x1bb\u202ec", id="plain")
        yield SafeInput("hidden", password=True, id="password")


async def test_input_draws_the_drawn_text_and_keeps_the_value():
    app = _OneInput()
    async with app.run_test(size=(40, 8)) as pilot:
        await pilot.pause()
        shown = screen_text(app)
        assert "a␛b�c" in shown, _fenced("InputDrawsText", "what Input.render_line draws")
        assert app.query_one("#plain", SafeInput).value == "a\x1bb\u202ec"
        assert "hidden" not in shown and "••••••" in shown, _fenced("InputDrawsText", "how a password Input draws")


# ------------------------------------------------------------ full_screen_update, notification_messages

class _Notifying(App[None]):
    def compose(self):
        from textual.widgets import Static

        yield Static("underneath")


async def test_full_screen_update_draws_the_whole_screen():
    app = _Notifying()
    async with app.run_test(size=(40, 6)) as pilot:
        await pilot.pause()
        assert "underneath" in screen_text(app), _fenced("full_screen_update", "Screen._compositor.render_update")
        assert inspect.getattr_static(App, "_background_screens", None) is not None, \
            _fenced("full_screen_update", "App._background_screens")
        assert full_screen_update(app) is not None


async def test_notification_messages_lists_what_was_notified():
    app = _Notifying()
    async with app.run_test(size=(40, 6)) as pilot:
        app.notify("first", markup=False)
        app.notify("second", markup=False)
        await pilot.pause()
        assert notification_messages(app) == ["first", "second"], \
            _fenced("notification_messages", "App._notifications")


# ------------------------------------------------------------ redraw_at_new_widths

def test_data_table_still_has_the_caches_and_flags_a_width_change_resets():
    from textual.widgets import DataTable

    table = DataTable()
    assert callable(getattr(table, "_clear_caches", None)), _fenced("redraw_at_new_widths", "DataTable._clear_caches")
    assert isinstance(table._update_count, int), _fenced("redraw_at_new_widths", "DataTable._update_count")
    assert isinstance(table._require_update_dimensions, bool), \
        _fenced("redraw_at_new_widths", "DataTable._require_update_dimensions")
    assert "_require_update_dimensions" in inspect.getsource(DataTable._on_idle), \
        _fenced("redraw_at_new_widths", "when DataTable recomputes its dimensions")


# ------------------------------------------------------------ the fence stays closed

def _private_names_in_textual_bases(cls: type) -> set[str]:
    """Private names `cls` itself defines that a Textual base class defines too, leaving out
    those Textual's metaclass writes into every class."""
    generated = set(vars(type(cls)("Probe", (cls,), {})))
    own = {name for name in vars(cls) if name.startswith("_") and not name.startswith("__")} - generated
    return {name for name in own for base in cls.__mro__[1:]
            if base.__module__.startswith("textual") and name in vars(base)}


def _ui_classes() -> list[type]:
    import importlib
    import pkgutil

    import tui.ui

    classes = []
    for module_info in pkgutil.walk_packages(tui.ui.__path__, "tui.ui."):
        module = importlib.import_module(module_info.name)
        classes += [value for value in vars(module).values()
                    if isinstance(value, type) and value.__module__ == module.__name__]
    return classes


def test_only_the_fence_overrides_textual_private_members():
    """The fence's mixins have no Textual base, so any override found is one outside it."""
    overrides = sorted(f"{cls.__module__}.{cls.__name__}.{name}"
                       for cls in _ui_classes() for name in _private_names_in_textual_bases(cls))
    assert overrides == [], f"move these into tui.ui.textual_private: {overrides}"


FENCED_NAMES = ("_handle_exception", "_return_code", "_exception_event", "_exit_renderables",
                "_close_messages_no_wait", "_compositor", "_background_screens", "_notifications",
                "_clear_caches", "_require_update_dimensions", "_update_count")


def test_no_other_module_names_a_fenced_private():
    allowed = {Path(textual_private.__file__).resolve(), Path(__file__).resolve()}
    pattern = re.compile(r"\.(" + "|".join(FENCED_NAMES) + r")\b")
    offenders = [str(path.relative_to(ROOT)) for folder in ("tui", "tests")
                 for path in (ROOT / folder).rglob("*.py")
                 if path.resolve() not in allowed and pattern.search(path.read_text())]
    assert offenders == [], f"Textual private names used outside tui.ui.textual_private: {offenders}"
