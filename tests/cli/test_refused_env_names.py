"""The names `sitesecrets run` refuses, from the one list the README shows and `tui/envpolicy.py`
enforces: the README's table is exactly envpolicy's, every name in it is refused, and names that
merely resemble one (a letter short, a letter more, lowercase) are not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tui.envpolicy import GROUPS, is_dangerous, refused

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"<!-- refused-env-names:[^>]*-->\n(.*?)\n<!-- /refused-env-names -->", re.S)


def rendered_table() -> str:
    """The README's table as envpolicy's groups render it (paste this when the test says they differ)."""
    rows = ["| group | names | and every name starting with |", "| --- | --- | --- |"]
    for group, (names, prefixes) in GROUPS.items():
        rows.append(f"| {group} | {', '.join(f'`{n}`' for n in sorted(names))} | {', '.join(f'`{p}`' for p in prefixes)} |")
    return "\n".join(rows)


def readme_table() -> str:
    found = _BLOCK.search(README.read_text(encoding="utf-8"))
    assert found, "README.md lost its refused-env-names block"
    return found.group(1)


def readme_groups() -> dict[str, tuple[list[str], list[str]]]:
    """Group -> (names, prefixes), read from the README's table."""
    groups = {}
    for row in readme_table().splitlines()[2:]:
        group, names, prefixes = (cell.strip() for cell in row.strip("|").split("|"))
        groups[group] = (re.findall(r"`([^`]+)`", names), re.findall(r"`([^`]+)`", prefixes))
    return groups


README_NAMES = [name for names, _ in readme_groups().values() for name in names]
README_PREFIXES = [prefix for _, prefixes in readme_groups().values() for prefix in prefixes]


def test_the_readme_table_is_envpolicys_list():
    assert readme_table() == rendered_table(), "README.md's refused names differ from tui/envpolicy.py; the table should read:\n" + rendered_table()


def test_the_readme_names_every_group_name_and_prefix_once():
    expected = {group: (sorted(names), list(prefixes)) for group, (names, prefixes) in GROUPS.items()}
    assert {group: (sorted(names), prefixes) for group, (names, prefixes) in readme_groups().items()} == expected
    assert len(README_NAMES) == len(set(README_NAMES)) and len(README_PREFIXES) == len(set(README_PREFIXES))


@pytest.mark.parametrize("name", README_NAMES)
def test_each_listed_name_is_refused(name):
    assert refused([name, "SAFE_NAME"], set()) == [name]


@pytest.mark.parametrize("name", README_NAMES)
def test_each_listed_name_passes_once_allowed(name):
    assert refused([name], {name}) == []


@pytest.mark.parametrize("prefix", README_PREFIXES)
def test_each_listed_prefix_refuses_what_it_starts(prefix):
    assert is_dangerous(prefix + "X")
    assert is_dangerous(prefix)


@pytest.mark.parametrize("name", README_NAMES)
def test_a_name_a_letter_short_or_longer_passes(name):
    assert not is_dangerous(name[:-1]) and not is_dangerous("X" + name) and not is_dangerous(name + "X")


@pytest.mark.parametrize("prefix", [p for p in README_PREFIXES if p != "NPM_CONFIG_"])
def test_a_name_short_of_a_prefix_passes(prefix):
    assert not is_dangerous(prefix[:-1])


@pytest.mark.parametrize("name", README_NAMES)
def test_a_lowercase_name_is_another_variable_and_passes(name):
    assert not is_dangerous(name.lower())


@pytest.mark.parametrize("prefix", [p for p in README_PREFIXES if p != "NPM_CONFIG_"])
def test_a_lowercase_prefix_is_another_variable_and_passes(prefix):
    assert not is_dangerous(prefix.lower() + "x")


@pytest.mark.parametrize("name", ["npm_config_script_shell", "Npm_Config_Node_Options", "NPM_CONFIG_GLOBALCONFIG"])
def test_npm_config_is_refused_in_any_case_because_npm_reads_it_so(name):
    assert is_dangerous(name)


def test_npm_config_needs_its_underscore():
    assert not is_dangerous("npm_config") and not is_dangerous("NPM_CONFIGURED")


def test_the_refusal_of_one_name_says_it_and_of_several_they():
    from tui.envpolicy import refusal

    assert refusal("set", ["PATH"]) == "refusing to set PATH: it changes how programs load"
    assert refusal("export", ["LD_PRELOAD", "PATH"]) == "refusing to export LD_PRELOAD, PATH: they change how programs load"
