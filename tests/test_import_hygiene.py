"""The house's boundaries: `shared` is the contract only, the server never loads the TUI, neither
half has an import cycle, the server's low layers (store, crypto, keys, datadir) never import the
HTTP layer, and the client half keeps Textual inside `tui/ui/` and `run` standard-library only."""

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


def import_graph(*packages: str) -> dict[str, set[str]]:
    """Each module of `packages` with the modules of `packages` it imports anywhere in its body
    (a lazy import inside a function is a dependency too: it only hides a cycle)."""
    paths = {module_name(path): path for package in packages for path in (REPO / package).rglob("*.py")}
    return {module: {m for m in imports_of(path) if m in paths and m != module} for module, path in paths.items()}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def on_cycles(graph: dict[str, set[str]]) -> list[str]:
    return sorted(module for module in graph if module in reachable(graph, module))


# ---------------------------------------------------------------- the server half's own shape


def test_server_and_shared_modules_import_each_other_in_no_cycle():
    assert not on_cycles(import_graph("server", "shared"))


HTTP_LAYER = {"server.app", "server.openapi", "server.handlers", "server.wsgi", "server.embedded", "server.cli"}


def test_store_crypto_keys_and_datadir_never_import_the_http_layer():
    graph = import_graph("server", "shared")
    low = [m for m in graph if m.startswith("server.store")] + ["server.crypto", "server.keys", "server.datadir"]
    for module in low:
        reached = reachable(graph, module)
        assert not {m for m in reached if m in HTTP_LAYER or m.startswith("server.handlers.")}, module


def test_only_the_entry_point_imports_the_command_line():
    importers = {module for module, targets in import_graph("server", "shared").items() if "server.cli" in targets}
    assert importers <= {"server.__main__"}, importers


def test_the_graph_sees_relative_lazy_and_package_imports():
    graph = import_graph("server")
    assert {"server.handlers.meta", "server.auth"} <= graph["server.handlers"]  # `from . import meta`
    assert "server.handlers" in graph["server.app"]  # imported inside `create_app`
    assert "server.store.sqlite" in graph["server.store"]


def test_no_module_takes_another_of_ours_private_names():
    for package in ("server", "shared"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in ("server", "shared")):
                    private = [a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")]
                    assert not private, f"{path.relative_to(REPO)} imports {private}"


def test_each_store_dialect_builds_on_the_neutral_queries_not_on_the_other():
    from server.store.postgres_tx import PostgresTx
    from server.store.sql_tx import SqlTx
    from server.store.sqlite_tx import SqliteTx

    assert SqliteTx.__bases__ == (SqlTx,) and PostgresTx.__bases__ == (SqlTx,)


# ---------------------------------------------------------------- the client half's own shape


def test_tui_has_no_import_cycles():
    assert not on_cycles(import_graph("tui"))


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
