"""Row 12 (issue 12): what HTTP framing costs, as the env fetch's rate through this tree's server
next to a baseline tree's (e.g. the commit before h11), both on the same bench fixtures.

`BENCH_ONLY=http BENCH_BASELINE=/path/to/tree .venv/bin/python -m bench` runs this row alone into
`bench/results-http.json`. The baseline tree is a plain copy of another version of this repository
(`git archive <commit> | tar -x -C /tmp/baseline`); its server runs under this venv, from its own
directory, so its `server` and `shared` are imported instead of ours. The two servers take turns
run by run (as rows 1, 2 and 5 do), so other work on the machine falls on both alike. Without
`BENCH_BASELINE` only this tree is measured.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import fixtures
from .fixtures import ServerProcess
from .load import Load
from .report import Line
from .targets import _load_line

CONCURRENCY = (1, 4, 16)


def measure(bench) -> dict:
    """{server name: {f"env_c{c}": summary}} for this tree and, if set, `BENCH_BASELINE`."""
    trees = {"this tree": fixtures.ROOT}
    if os.environ.get("BENCH_BASELINE"):
        trees["baseline"] = Path(os.environ["BENCH_BASELINE"]).resolve()
    loads = {}
    for name, tree in trees.items():
        key = name.replace(" ", "-")
        admin = fixtures.init_data_dir(bench.base / key)
        server = ServerProcess(bench.base / key, bench.base / f"{key}.log", cwd=tree)
        bench.servers.append(server)
        small = fixtures.load_small(server.url, admin)
        loads[name] = Load(server.host, server.port, small.service_token, "get", (small.env_path,))
    figures: dict[str, dict] = {name: {} for name in trees}
    for c in CONCURRENCY:
        bench.log(f"row 12: env at c={c} through {', '.join(trees)}")
        for name, summary in bench.measure(loads, c).items():
            figures[name][f"env_c{c}"] = summary
    return figures


def row_12(r12: dict | None) -> list[Line]:
    """The env rate per server and concurrency, and this tree's rate as a share of the baseline's."""
    if not r12:
        return []
    lines = []
    for c in CONCURRENCY:
        for name, figures in r12.items():
            line = _load_line("12", f"env c={c}, {name}", figures[f"env_c{c}"])
            if name != "baseline" and "baseline" in r12:
                share = figures[f"env_c{c}"]["rate"] / r12["baseline"][f"env_c{c}"]["rate"]
                line.result += f" ({share:.0%} of baseline)"
            lines.append(line)
    return lines
