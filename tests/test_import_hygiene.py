"""The house's boundaries: `shared` is the contract only, and the server never loads the TUI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def loaded_after_import(*modules: str) -> set[str]:
    code = f"import sys; import {', '.join(modules)}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return set(out.split())


def imported_names(package: str) -> dict[str, set[str]]:
    found = {}
    for path in (REPO / package).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(REPO))] = names
    return found


def test_server_and_shared_never_load_textual():
    loaded = loaded_after_import("server.cli", "server.app", "server.handlers", "server.embedded", "shared.models")
    assert not {m for m in loaded if m.split(".")[0] in ("textual", "tui", "rich")}


def test_shared_imports_neither_half():
    for path, names in imported_names("shared").items():
        assert not names & {"server", "tui", "textual", "httpx"}, path


def test_server_never_imports_the_client_half():
    for path, names in imported_names("server").items():
        assert not names & {"tui", "textual"}, path


def test_only_the_local_launcher_imports_the_server():
    importers = {path for path, names in imported_names("tui").items() if "server" in names}
    assert importers <= {"tui/local.py"}, importers
