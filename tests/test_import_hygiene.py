"""The house's boundaries: `shared` is the contract only, the server never loads the TUI, and the
client half keeps Textual inside `tui/ui/`, has no import cycles, and keeps `run` standard-library only."""

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


# ---------------------------------------------------------------- the client half's own shape


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, *, top_level_only: bool = False) -> set[str]:
    """Every module `path` imports (inside functions too, unless `top_level_only`), with
    `from package import module` resolved to the module and relative imports made absolute."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names if source_of(f"{base}.{alias.name}")}
    return found


def source_of(module: str) -> Path | None:
    """The file of one of the repository's modules, or None (a name imported from a module, or
    a module from elsewhere)."""
    base = REPO / module.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def tui_graph() -> dict[str, set[str]]:
    """tui's modules and the tui modules each imports (at any level)."""
    modules = {module_name(path): path for path in (REPO / "tui").rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_tui_has_no_import_cycles():
    assert cycles(tui_graph()) == []


def is_ui(module: str) -> bool:
    return module.split(".")[0] == "textual" or module == "tui.ui" or module.startswith("tui.ui.")


def test_the_client_the_data_layer_the_commands_and_run_never_import_textual_or_the_ui():
    """Outside tui/ui/, only the launcher (tui/cli.py) may open the UI, and only from inside a
    function, so `sitesecrets ls` or `--help` never pay for Textual."""
    for path in (REPO / "tui").rglob("*.py"):
        name = module_name(path)
        if is_ui(name):
            continue
        imported = imports_of(path, top_level_only=name == "tui.cli")
        assert not {m for m in imported if is_ui(m)}, name


def test_run_reaches_neither_httpx_nor_pydantic_nor_textual_through_any_import():
    """`sitesecrets run` starts every service: what it imports, and what those import in turn,
    is the standard library and tui's own stdlib-only modules."""
    seen, pending, third_party = set(), ["tui.run"], set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for imported in imports_of(source_of(name)):
            root = imported.split(".")[0]
            if root in ("tui", "shared"):
                pending.append(imported)
            else:
                third_party.add(root)
    assert not third_party & {"httpx", "pydantic", "textual", "rich", "h11"}, third_party
    assert not {m for m in seen if m.startswith("shared.models") or m == "tui.client"}, seen
