"""The other readers of `.env` files, for the tests that compare `import` and `export` with them:
python-dotenv (a dev dependency, so always here), node's dotenv (only where `node` is installed and
can load `dotenv`: `make node-dotenv` puts it in `.node/`; the tests skip otherwise, and never
fetch it themselves), and docker's `--env-file` reader, emulated from its documented rules: a
docker daemon and an image are not to be had here (nor on every machine), and without them the
CLI only says whether it accepts the file (test_export_readers.py asks it that), not what it read."""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / ".node" / "node_modules"
_NODE_PARSE = ("let s=[];process.stdin.on('data',d=>s.push(d)).on('end',()=>"
               "process.stdout.write(JSON.stringify(require('dotenv').parse(Buffer.concat(s)))))")


def python_dotenv(text: str) -> dict[str, str | None]:
    """What python-dotenv reads from `text` (as `dotenv_values(path)` does, newlines translated),
    without its `${VAR}` expansion, which `import` never does."""
    with io.StringIO(text, newline=None) as stream:
        return dict(dotenv_values(stream=stream, interpolate=False))


def _node_env() -> dict[str, str]:
    paths = [str(NODE_MODULES)] + [p for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p]
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NODE_PATH": os.pathsep.join(paths)}


@functools.cache
def node_dotenv_version() -> str | None:
    """The version of node's dotenv that `node` loads here, or None (no node, or no dotenv)."""
    if shutil.which("node") is None:
        return None
    found = subprocess.run(["node", "-e", "process.stdout.write(require('dotenv/package.json').version)"],
                           env=_node_env(), capture_output=True, text=True, timeout=60)
    return found.stdout if found.returncode == 0 else None


def node_dotenv(text: str) -> dict[str, str]:
    """What node's dotenv `parse` reads from `text`; skips the test where node or dotenv is missing."""
    if node_dotenv_version() is None:
        pytest.skip("node's dotenv is not installed (make node-dotenv installs it into .node/)")
    done = subprocess.run(["node", "-e", _NODE_PARSE], input=text.encode("utf-8"), env=_node_env(),
                          capture_output=True, timeout=60, check=True)
    return json.loads(done.stdout)


def docker_env_file(text: str) -> dict[str, str]:
    """`text` read as docker's `--env-file` reads it (docker CLI `opts/envfile.go`, documented under
    `docker run --env-file`): lines split on `\\n` with one trailing `\\r` dropped; leading whitespace
    dropped; blank lines and lines starting with `#` skipped; the name is what comes before the first
    `=` and may not hold whitespace; the value is the rest of the line, taken literally (quotes,
    backslashes, `#` and trailing spaces included)."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r").lstrip()
        if not line or line.startswith("#"):
            continue
        name, has_value, value = line.partition("=")
        assert has_value, f"line {number}: docker would take {name!r} from its own environment"
        assert name and not any(c.isspace() for c in name), f"line {number}: docker refuses the name"
        values[name] = value
    return values


AWKWARD = {
    "DOUBLE_QUOTES": 'he said "hi"', "SINGLE_QUOTES": "it's 'quoted'", "EQUALS": "a=b==c=",
    "DOLLAR": "$HOME $(id)", "BACKTICK": "`id`", "BACKSLASH": "C:\\path\\to\\n", "DOUBLE_BACKSLASH": "a\\\\b",
    "TRAILING_BACKSLASH": "ends\\", "UNICODE": "ünïcødé ✓ 日本語 🔑", "NEWLINES": "one\ntwo\n", "TABS": "a\tb\t",
    "HASH": "# not a comment #x", "SPACES": "  lead trail  ", "CRLF": "w\r\nline", "MIXED": "'\"'\"\\$`#=\n\t ",
    "JSON": '{"key": "value", "n": [1, 2]}', "EMPTY": "", "SPACE": " ", "HASH_ONLY": "#", "SPACE_HASH": "a #b",
    "BRACES": "${X:-y}", "QUOTE_DOLLAR": "it's $HOME", "QUOTES_BACKSLASH": '"\\"', "URL": "postgres://u:p@h/db?a=1&b=2",
    "VERTICAL_TAB": "a\x0bb", "FORM_FEED": "a\x0cb", "NEL": "a\x85b", "LINE_SEPARATOR": "a\u2028b",
    "FILE_SEPARATOR": "a\x1cb", "CR_AT_END": "x\r", "BACKSLASH_N": "\\n", "QUOTE_BACKSLASH_END": "x'\\",
    "LEADING_QUOTE": "'x", "TRAILING_DOUBLE_QUOTE": 'x"',
}
"""34 values that trip one reader or another: quotes, backslashes, `$`, `#`, spaces at the ends,
line breaks and the characters some readers take for one."""


def node_can_read_back(value: str) -> bool:
    """Whether node's dotenv can read `value` back from any quoting: it decodes nothing in double
    quotes but `\\n` and `\\r`, so a value that needs double quotes must hold no `\\` and no `"`."""
    from tui.dotenv import quote_env

    return quote_env(value).startswith("'") or not ("\\" in value or '"' in value)
