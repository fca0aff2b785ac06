"""`python -m bench` (`make bench`): every row of issue 6, in an order that keeps each fair.

1. a fresh data directory, a real server on a loopback port, idle RSS (row 9);
2. the small store: rows 1 and 2 interleaved run by run (so drift hits both alike), then 4, then 3;
3. rows 7 and 8 against that store;
4. 1,000 sites of 100 secrets loaded, rows 1 and 4 again (row 5), RSS again (row 9);
5. the server stopped, `rotate-master-key` on that store (row 6).

Options via the environment: BENCH_DURATION (seconds counted per run, default 3), BENCH_WARMUP
(default 1), BENCH_RUNS (default 3), BENCH_CLIENT (`raw` or `httpx`, default raw),
BENCH_DIR (where the temporary data directory goes; must not be tmpfs), BENCH_KEEP=1 keeps it.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from . import fixtures, startup
from .fixtures import PYTHON, ROOT, ServerProcess
from .load import Load, LoadGenerator, summarise
from .report import Line, machine, ms, render, write_json
from .targets import judge

RESULTS = Path(__file__).resolve().parent / "results.json"
CONCURRENCY = (1, 4, 16)


class Bench:
    def __init__(self) -> None:
        self.duration = float(os.environ.get("BENCH_DURATION", "3"))
        self.warmup = float(os.environ.get("BENCH_WARMUP", "1"))
        self.runs = int(os.environ.get("BENCH_RUNS", "3"))
        self.client = os.environ.get("BENCH_CLIENT", "raw")
        self.base = Path(tempfile.mkdtemp(prefix="sitesecrets-bench-", dir=os.environ.get("BENCH_DIR")))
        self.raw: dict = {}
        self.gen: LoadGenerator | None = None

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    def measure(self, loads: dict[str, Load], concurrency: int) -> dict[str, dict]:
        """Each named load `self.runs` times, interleaved run by run; their summaries."""
        samples: dict[str, list] = {name: [] for name in loads}
        for _ in range(self.runs):
            for name, load in loads.items():
                samples[name].append(self.gen.run(load, concurrency, self.duration, self.warmup))
        return {name: summarise(s) for name, s in samples.items()}

    def read_rows(self, server: ServerProcess, small: fixtures.Small, floor_port: int | None, key: str) -> None:
        """Rows 1 (and 2 when `floor_port`) at every concurrency, then row 4; stored under `key`."""
        loads = {
            "env": Load(server.host, server.port, small.service_token, "get", (small.env_path,)),
            "reveal": Load(server.host, server.port, small.admin, "post", small.reveal_paths),
        }
        if floor_port is not None:
            loads["floor"] = Load(server.host, floor_port, "unused", "get", tuple(f"/S{n}" for n in range(100)))
        for c in CONCURRENCY:
            self.log(f"{key}: {', '.join(loads)} at c={c}")
            for name, summary in self.measure(loads, c).items():
                self.raw.setdefault(key, {})[f"{name}_c{c}"] = summary
        self.log(f"{key}: list a site of 100 secrets at c=1")
        listing = Load(server.host, server.port, small.admin, "get", (small.list_path,))
        self.raw[key]["list_c1"] = self.measure({"list": listing}, 1)["list"]

    def write_rows(self, server: ServerProcess, small: fixtures.Small) -> None:
        """Row 3: creates (each in a new per-thread site, 100 per site) and updates at c=1 and 16."""
        for c in (1, 16):
            self.log(f"row 3: creates and updates at c={c}")
            loads = {
                "create": Load(server.host, server.port, small.admin, "create", site_prefix=f"w{c}"),
                "update": Load(server.host, server.port, small.admin, "patch", small.update_paths,
                               body={"value": fixtures.value_for("upd", 0) + "-new"}),
            }
            # distinct site prefixes per run, so no run finds the last one's sites
            samples = {name: [] for name in loads}
            for run in range(self.runs):
                for name, load in loads.items():
                    if name == "create":
                        load = Load(load.host, load.port, load.token, "create", site_prefix=f"w{c}r{run}")
                    samples[name].append(self.gen.run(load, c, self.duration, self.warmup))
            for name, s in samples.items():
                self.raw.setdefault("row3", {})[f"{name}_c{c}"] = summarise(s)

    def rotation(self, data_dir: Path) -> None:
        """Row 6: wall seconds of `sitesecrets-server rotate-master-key` (a whole process), per run."""
        times = []
        for _ in range(self.runs):
            began = time.monotonic()
            subprocess.run([PYTHON, "-m", "server", "rotate-master-key", "--data-dir", str(data_dir)],
                           cwd=ROOT, check=True, capture_output=True)
            times.append(time.monotonic() - began)
        self.raw["row6"] = {"seconds": statistics.median(times), "min": min(times), "max": max(times),
                            "runs": self.runs}

    def run(self) -> list[str]:
        data_dir = self.base / "data"
        admin = fixtures.init_data_dir(data_dir)
        server = ServerProcess(data_dir, self.base / "server.log")
        floor = None
        try:
            time.sleep(0.5)
            self.raw["row9"] = {"idle": server.rss_kib()}
            self.log(f"server at {server.url}; loading the small store")
            small = fixtures.load_small(server.url, admin)
            floor = subprocess.Popen([PYTHON, "-m", "bench.floor", str(self.base / "floor.db")], cwd=ROOT,
                                     stdout=subprocess.PIPE, text=True)
            floor_port = int(fixtures.start_line(floor, "the floor server").rsplit(":", 1)[1])
            self.gen = LoadGenerator(self.client)
            self.read_rows(server, small, floor_port, "small")
            self.write_rows(server, small)
            self.log("row 7: sitesecrets run, 20 times; python -c pass, 20 times")
            self.raw["row7"] = startup.run_command(server.url, small.service_token, fixtures.SITE, fixtures.SERVICE)
            self.log("row 8: TUI first frame, 5 fresh processes")
            self.raw["row8"] = startup.tui_first_frame(server.url, admin, fixtures.SITE)
            self.log("row 5: loading 1,000 sites x 100 secrets through the store layer")
            self.raw["scale_load_seconds"] = fixtures.load_scale(data_dir)
            self.read_rows(server, small, None, "scale")
            self.raw["row9"]["after_row5"] = server.rss_kib()
        finally:
            if self.gen is not None:
                self.gen.close()
            if floor is not None:
                floor.kill()
                floor.wait()
            server.stop()
        self.log("row 6: rotate-master-key on the 1,000-site store")
        self.rotation(data_dir)
        return [f"Load: {self.gen.describe()}; {self.runs} runs of {self.duration:g} s after "
                f"{self.warmup:g} s warm-up per figure, median (spread = min-max of runs)."]

    def cleanup(self) -> None:
        if os.environ.get("BENCH_KEEP") == "1":
            self.log(f"kept {self.base}")
        else:
            shutil.rmtree(self.base, ignore_errors=True)


def main() -> int:
    bench = Bench()
    info = machine(bench.base)
    began = time.monotonic()
    try:
        notes = bench.run()
    finally:
        bench.cleanup()
    notes.append(f"Bench took {time.monotonic() - began:.0f} s; set-up of the 1,000-site store "
                 f"{bench.raw.get('scale_load_seconds', 0):.1f} s.")
    lines = judge(bench.raw)
    print()
    print(render(lines, info, notes))
    config = {"duration": bench.duration, "warmup": bench.warmup, "runs": bench.runs, "client": bench.client,
              "load_processes": bench.gen.processes}
    write_json(RESULTS, info, config, bench.raw, lines)
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0
