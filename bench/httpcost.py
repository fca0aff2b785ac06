"""Row 12 (issue 12): what HTTP framing costs: the server's CPU time per env fetch (one
keep-alive client, requests back to back; the figure least moved by other work on the machine)
and the env fetch's rate under load, through this tree's server next to a baseline tree's (e.g.
the commit before h11), both on the same bench fixtures.

`BENCH_ONLY=http BENCH_BASELINE=/path/to/tree .venv/bin/python -m bench` runs this row alone into
`bench/results-http.json`. The baseline tree is a plain copy of another version of this repository
(`git archive <commit> | tar -x -C /tmp/baseline`); its server runs under this venv, from its own
directory, so its `server` and `shared` are imported instead of ours. The two servers take turns
run by run (as rows 1, 2 and 5 do), so other work on the machine falls on both alike. Without
`BENCH_BASELINE` only this tree is measured.
"""

from __future__ import annotations

import http.client
import os
import statistics
from pathlib import Path

from . import fixtures
from .fixtures import ServerProcess
from .load import Load
from .report import Line
from .targets import _load_line

CONCURRENCY = (1, 4, 16)
CPU_REQUESTS = 3000
"""Env fetches per round of the CPU figure: enough for a second or more of server CPU time."""


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far, from /proc (fields 14 and 15 of `stat`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(server: ServerProcess, load: Load) -> float:
    """The server's CPU microseconds per env fetch, over `CPU_REQUESTS` on one keep-alive connection.

    CPU time rather than a rate: it is what the server spends, whatever else the machine runs."""
    conn = http.client.HTTPConnection(load.host, load.port, timeout=30)
    headers = {"Authorization": f"Bearer {load.token}"}
    try:
        pids = server.pids()  # with workers, the one that holds this connection is among them
        before = sum(map(_cpu_seconds, pids))
        for _ in range(CPU_REQUESTS):
            conn.request("GET", load.paths[0], headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
        return (sum(map(_cpu_seconds, pids)) - before) / CPU_REQUESTS * 1e6
    finally:
        conn.close()


def measure(bench) -> dict:
    """{server name: {"cpu_us": ..., f"env_c{c}": summary}} for this tree and, if set, `BENCH_BASELINE`."""
    trees = {"this tree": fixtures.ROOT}
    if os.environ.get("BENCH_BASELINE"):
        trees["baseline"] = Path(os.environ["BENCH_BASELINE"]).resolve()
    loads, servers = {}, {}
    for name, tree in trees.items():
        key = name.replace(" ", "-")
        admin = fixtures.init_data_dir(bench.base / key)
        server = ServerProcess(bench.base / key, bench.base / f"{key}.log", cwd=tree)
        bench.servers.append(server)
        small = fixtures.load_small(server.url, admin)
        loads[name] = Load(server.host, server.port, small.service_token, "get", (small.env_path,))
        servers[name] = server
    figures: dict[str, dict] = {name: {} for name in trees}
    bench.log(f"row 12: server CPU per env fetch, {bench.runs} rounds of {CPU_REQUESTS} through {', '.join(trees)}")
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(bench.runs):
        for name in trees:
            cpu[name].append(cpu_per_request(servers[name], loads[name]))
    for name, runs in cpu.items():
        figures[name]["cpu_us"] = {"median": statistics.median(runs), "runs": runs}
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
    for name, figures in r12.items():
        cpu = figures["cpu_us"]
        result = f"{cpu['median']:.0f} us"
        if name != "baseline" and "baseline" in r12:
            result += f" ({cpu['median'] - r12['baseline']['cpu_us']['median']:+.0f} us vs baseline)"
        lines.append(Line("12", f"server CPU per env fetch, {name}", result,
                          f"{min(cpu['runs']):.0f}-{max(cpu['runs']):.0f}"))
    for c in CONCURRENCY:
        for name, figures in r12.items():
            line = _load_line("12", f"env c={c}, {name}", figures[f"env_c{c}"])
            if name != "baseline" and "baseline" in r12:
                share = figures[f"env_c{c}"]["rate"] / r12["baseline"][f"env_c{c}"]["rate"]
                line.result += f" ({share:.0%} of baseline)"
            lines.append(line)
    return lines
