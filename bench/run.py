"""`python -m bench` (`make bench`): every row of issue 6, in an order that keeps each fair.

1. two fresh data directories, each with a real server on a loopback port:
   `small` holds site `bench` (100 secrets, service `fn` binding 5); `scale` holds the same plus
   1,000 sites of 100 secrets each; idle RSS of both (row 9);
2. rows 1, 2 and 5 interleaved run by run (1-site server, 1,000-site server, bare floor take
   turns, so drift and other work on the machine hit all alike), then rows 4 and 5 the same way;
   RSS of the 1,000-site server (row 9);
3. rows 7 and 8, then row 3 (writes), against the 1-site server; row 10 (issue 7: one vs two
   replicas on PostgreSQL, where one answers);
4. servers stopped, `rotate-master-key` on the 1,000-site store (row 6).

Options via the environment: BENCH_DURATION (seconds counted per run, default 3), BENCH_WARMUP
(default 1), BENCH_RUNS (default 3), BENCH_CLIENT (`raw` or `httpx`, default raw),
BENCH_DIR (where the temporary data directory goes; must not be tmpfs), BENCH_KEEP=1 keeps it,
BENCH_ONLY=isolation runs row 11 (tenant isolation) alone, into `bench/results-isolation.json`;
BENCH_ONLY=http runs row 12 (the env fetch through this tree's server and through BENCH_BASELINE's,
to price a change of the HTTP layer) alone, into `bench/results-http.json`; BENCH_ONLY=serving runs
rows 1, 2, 3 and 10 (the serving layer's rows) alone, into `bench/results-serving.json`;
BENCH_ONLY=replicas runs row 10 (PostgreSQL's env c=16 next to SQLite's, same rounds) alone, into
`bench/results-replicas.json`;
BENCH_WORKERS (`serve --workers` of every server; default the server's own, one per core),
BENCH_WRK=0 leaves wrk out;
BENCH_ONLY=watch runs row 13 (1,000 idle waiting env fetches; update-to-answer and update-to-restarted-command
latency) alone, into `bench/results-watch.json`;
BENCH_ONLY=audit runs row 14 (the audit log at 3,000,000 events: filtered pages, env fetch with and without
the filter indexes, retention's batches, export) alone, into `bench/results-audit.json` (BENCH_AUDIT_EVENTS,
BENCH_AUDIT_REPEAT, BENCH_AUDIT_RETAIN size it); BENCH_ONLY=startup runs row 8 (the TUI's first frame next to a minimal
Textual app's) alone, into `bench/results-startup.json`.
Apart from these, `python -m bench.instructions [TREE ...]` (valgrind) counts the server's
instructions per env fetch, the figure the machine's load does not move (see instructions.py).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import audit, fixtures, httpcost, isolation, replicas, startup, watchers, wrk
from .fixtures import PYTHON, ROOT, ServerProcess
from .load import Load, LoadGenerator, summarise
from .report import load_average, machine, render, write_json
from .targets import judge, row_8, row_10, row_11, serving_rows

RESULTS = Path(__file__).resolve().parent / "results.json"
CONCURRENCY = (1, 4, 16)
ROWS_1_2_WRK = ("small/env", "small/reveal", "small/floor")
"""The loads that wrk runs too: every HTTP figure of rows 1 and 2."""


class Bench:
    def __init__(self) -> None:
        self.duration = float(os.environ.get("BENCH_DURATION", "3"))
        self.warmup = float(os.environ.get("BENCH_WARMUP", "1"))
        self.runs = int(os.environ.get("BENCH_RUNS", "3"))
        self.client = os.environ.get("BENCH_CLIENT", "raw")
        self.base = Path(tempfile.mkdtemp(prefix="sitesecrets-bench-", dir=os.environ.get("BENCH_DIR")))
        self.raw: dict = {}
        self.gen: LoadGenerator | None = None
        self.servers: list[ServerProcess] = []
        self.wrk: wrk.Wrk | None = None
        if os.environ.get("BENCH_WRK", "1") != "0":
            found = wrk.ensure()
            self.wrk = wrk.Wrk(found, self.base) if found else None
            self.raw["wrk"] = found or "missing: install the Debian package wrk to add its figures"

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    def measure(self, loads: dict[str, Load], concurrency: int, with_wrk: tuple[str, ...] = ()) -> dict[str, dict]:
        """Each named load `self.runs` times, interleaved run by run; their summaries. The loads
        named in `with_wrk` are also run by wrk (where it is installed), in the same rounds, as
        `NAME@wrk`."""
        runs = [(name, load, self.gen) for name, load in loads.items()]
        if self.wrk is not None:
            runs += [(f"{name}@wrk", loads[name], self.wrk) for name in with_wrk]
        samples: dict[str, list] = {name: [] for name, _, _ in runs}
        for _ in range(self.runs):
            for name, load, generator in runs:
                samples[name].append(generator.run(load, concurrency, self.duration, self.warmup))
        return {name: summarise(s) for name, s in samples.items()}

    def read_rows(self, targets: dict[str, tuple[ServerProcess, fixtures.Small]], floor_port: int) -> None:
        """Rows 1, 2 and 4 (and 5: the same loads on the 1,000-site server), interleaved run by run.

        `targets` maps a result key (`small`, `scale`) to its server; every load of every server
        and the floor takes its turn within each round, so background noise falls on all alike.
        """
        host = next(iter(targets.values()))[0].host
        loads, lists = {}, {}
        for key, (server, fix) in targets.items():
            loads[f"{key}/env"] = Load(server.host, server.port, fix.service_token, "get", (fix.env_path,))
            loads[f"{key}/reveal"] = Load(server.host, server.port, fix.admin, "post", fix.reveal_paths)
            lists[f"{key}/list"] = Load(server.host, server.port, fix.admin, "get", (fix.list_path,))
        loads["small/floor"] = Load(host, floor_port, "unused", "get", tuple(f"/S{n}" for n in range(100)))
        for c in CONCURRENCY:
            self.log(f"rows 1, 2, 5: {', '.join(loads)} at c={c}{' (rows 1, 2 with wrk too)' if self.wrk else ''}")
            for name, summary in self.measure(loads, c, with_wrk=ROWS_1_2_WRK).items():
                key, what = name.split("/")
                self.raw.setdefault(key, {})[f"{what}_c{c}"] = summary
        self.log(f"rows 4, 5: {', '.join(lists)} at c=1")
        for name, summary in self.measure(lists, 1).items():
            key, what = name.split("/")
            self.raw[key][f"{what}_c1"] = summary

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

    def guarded(self, probe, *args) -> dict:
        """A probe's figures, or `{"error": ...}`: a CLI or TUI that changed under the bench costs
        its own row, not the whole run."""
        try:
            return probe(*args)
        except (subprocess.SubprocessError, RuntimeError, ValueError, KeyError, OSError) as error:
            detail = getattr(error, "stderr", None) or ""
            self.log(f"{probe.__name__} failed: {error} {str(detail)[-500:]}")
            return {"error": f"{type(error).__name__}: {str(error)[:200]}"}

    def start_servers(self) -> dict[str, tuple[ServerProcess, fixtures.Small]]:
        """Two servers on fresh data directories: `small` (the 1-site figures) and `scale`, which
        also holds 1,000 sites of 100 secrets; idle RSS of each once loaded, before any bench load (row 9)."""
        servers: dict[str, tuple[ServerProcess, fixtures.Small]] = {}
        for key in ("small", "scale"):
            admin = fixtures.init_data_dir(self.base / key)
            server = ServerProcess(self.base / key, self.base / f"{key}.log")
            self.servers.append(server)
            self.log(f"{key} server at {server.url}; loading site {fixtures.SITE!r} over the API")
            servers[key] = (server, fixtures.load_small(server.url, admin))
        self.log("row 5: loading 1,000 sites x 100 secrets into the scale server's store")
        self.raw["scale_load_seconds"] = fixtures.load_scale(self.base / "scale")
        time.sleep(0.5)
        self.raw["row9"] = {f"{key}_idle": server.rss_kib() for key, (server, _) in servers.items()}
        return servers

    def run(self) -> list[str]:
        floor = None
        try:
            targets = self.start_servers()
            floor = subprocess.Popen([PYTHON, "-m", "bench.floor", str(self.base / "floor.db")], cwd=ROOT,
                                     stdout=subprocess.PIPE, text=True)
            floor_port = int(fixtures.start_line(floor, "the floor server").rsplit(":", 1)[1])
            self.gen = LoadGenerator(self.client)
            self.read_rows(targets, floor_port)
            self.raw["row9"]["scale_after_row5"] = targets["scale"][0].rss_kib()
            server, small = targets["small"]
            # rows 7 and 8 before row 3, whose creates leave the server holding hundreds of sites
            self.log("row 7: sitesecrets run, 20 times; python -c pass, 20 times")
            self.raw["row7"] = self.guarded(startup.run_command, server.url, small.service_token,
                                            fixtures.SITE, fixtures.SERVICE)
            self.log("row 8: TUI first frame, 5 fresh processes")
            self.raw["row8"] = self.guarded(startup.tui_first_frame, server.url, small.admin, fixtures.SITE)
            self.write_rows(server, small)
            self.log("row 10: one vs two replicas on PostgreSQL, env at c=16")
            self.raw["row10"] = self.guarded(replicas.measure, self, self.base)
            self.raw["row11"] = self.guarded(isolation.measure, self, server, small)
        finally:
            self.stop_everything(floor)
        self.log("row 6: rotate-master-key on the 1,000-site store")
        self.rotation(self.base / "scale")
        return [f"{self.load_note()} Rows 1, 2 and 5 (and 4 and 5) are measured in the same rounds: the 1-site "
                f"server, the 1,000-site server and the floor take turns."]

    def run_serving_only(self) -> list[str]:
        """Rows 1, 2, 3 and 10 alone (`BENCH_ONLY=serving`): the serving layer's figures, with no
        1,000-site store (row 5), probes (7, 8) or rotation (6)."""
        floor = None
        try:
            admin = fixtures.init_data_dir(self.base / "small")
            server = ServerProcess(self.base / "small", self.base / "small.log")
            self.servers.append(server)
            small = fixtures.load_small(server.url, admin)
            floor = subprocess.Popen([PYTHON, "-m", "bench.floor", str(self.base / "floor.db")], cwd=ROOT,
                                     stdout=subprocess.PIPE, text=True)
            floor_port = int(fixtures.start_line(floor, "the floor server").rsplit(":", 1)[1])
            self.gen = LoadGenerator(self.client)
            self.read_rows({"small": (server, small)}, floor_port)
            self.write_rows(server, small)
            self.log("row 10: one vs two replicas on PostgreSQL, env at c=16")
            self.raw["row10"] = self.guarded(replicas.measure, self, self.base)
        finally:
            self.stop_everything(floor)
        return [self.load_note()]

    def run_replicas_only(self) -> list[str]:
        """Row 10 alone (`BENCH_ONLY=replicas`): see replicas.py."""
        try:
            self.gen = LoadGenerator(self.client)
            self.raw["row10"] = self.guarded(replicas.measure, self, self.base)
        finally:
            self.stop_everything()
        return [self.load_note()]

    def stop_everything(self, floor: subprocess.Popen | None = None) -> None:
        """Close the load generator, the floor server if one was started, and every server this run
        started: the end of every run, whole or one row alone."""
        if self.gen is not None:
            self.gen.close()
        if floor is not None:
            floor.kill()
            floor.wait()
        for server in self.servers:
            server.stop()

    def load_note(self) -> str:
        gens = self.gen.describe() + (f"; and {self.wrk.describe()} for rows 1 and 2" if self.wrk else
                                      f"; wrk {self.raw.get('wrk', 'left out (BENCH_WRK=0)')}")
        return (f"Load: {gens}; {self.runs} runs of {self.duration:g} s after {self.warmup:g} s warm-up per figure, "
                f"median (spread = min-max of runs). Servers: `serve --workers {fixtures.WORKERS or 'default (one per core)'}`.")

    def run_isolation_only(self) -> list[str]:
        """Row 11 alone (`BENCH_ONLY=isolation`): one server holding site `bench`, and site `hostile`."""
        try:
            admin = fixtures.init_data_dir(self.base / "small")
            server = ServerProcess(self.base / "small", self.base / "small.log")
            self.servers.append(server)
            small = fixtures.load_small(server.url, admin)
            self.gen = LoadGenerator(self.client)
            self.raw["row11"] = self.guarded(isolation.measure, self, server, small)
        finally:
            self.stop_everything()
        return [f"Row 11 alone: {self.runs} runs of {self.duration:g} s after {self.warmup:g} s warm-up per case."]

    def run_startup_only(self) -> list[str]:
        """Row 8 alone (`BENCH_ONLY=startup`): the TUI's first frame on a 100-secret site next to a
        minimal Textual app's, without the load rows."""
        try:
            admin = fixtures.init_data_dir(self.base / "small")
            server = ServerProcess(self.base / "small", self.base / "small.log")
            self.servers.append(server)
            small = fixtures.load_small(server.url, admin)
            self.log("row 8: TUI first frame and a minimal Textual app's, 7 fresh processes each, taking turns")
            self.raw["row8"] = self.guarded(startup.tui_first_frame, server.url, small.admin, fixtures.SITE)
        finally:
            self.stop_everything()
        return ["Row 8 alone: each process timed from spawn to its first frame with 100 rows painted."]

    def run_http_only(self) -> list[str]:
        """Row 12 alone (`BENCH_ONLY=http`): see httpcost.py."""
        try:
            self.gen = LoadGenerator(self.client)
            self.raw["row12"] = httpcost.measure(self)
        finally:
            self.stop_everything()
        return [f"Row 12 alone: {self.runs} runs of {self.duration:g} s after {self.warmup:g} s warm-up per figure, "
                f"the servers taking turns run by run."]

    def run_watch_only(self) -> list[str]:
        """Row 13 alone (`BENCH_ONLY=watch`): see watchers.py."""
        try:
            self.raw["row13"] = watchers.measure(self)
        finally:
            self.stop_everything()
        return ["Row 13 alone: 1,000 watchers on one server, 20 update rounds to a waiting fetch, "
                f"{watchers.RESTART_ROUNDS} to a command restarted by run --watch."]

    def run_audit_only(self) -> list[str]:
        """Row 14 alone (`BENCH_ONLY=audit`): see audit.py."""
        try:
            self.gen = LoadGenerator(self.client)
            self.raw["row14"] = audit.measure(self)
        finally:
            self.stop_everything()
        return [f"Row 14 alone: {audit.EVENTS:,} events in one site; pages timed {audit.REPEAT} times after one warm-up; "
                f"env figures {self.runs} runs of {self.duration:g} s after {self.warmup:g} s warm-up, servers taking turns."]

    def cleanup(self) -> None:
        if os.environ.get("BENCH_KEEP") == "1":
            self.log(f"kept {self.base}")
        else:
            shutil.rmtree(self.base, ignore_errors=True)


ROWS_ALONE = ("isolation", "http", "serving", "replicas", "watch", "audit", "startup")
"""What BENCH_ONLY may name; unset or empty, every row runs."""


def main() -> int:
    only = os.environ.get("BENCH_ONLY", "")
    if only and only not in ROWS_ALONE:
        # before anything is made or installed: a misspelt row would otherwise run the whole bench
        print(f"bench: BENCH_ONLY={only} names no row; it may be one of {', '.join(ROWS_ALONE)} "
              f"(unset: every row)", file=sys.stderr)
        return 2
    bench = Bench()
    info = machine(bench.base)
    info["load_average_start"] = load_average()
    began = time.monotonic()
    try:
        notes = {"isolation": bench.run_isolation_only, "http": bench.run_http_only,
                 "serving": bench.run_serving_only, "replicas": bench.run_replicas_only, "watch": bench.run_watch_only,
                 "audit": bench.run_audit_only,
                 "startup": bench.run_startup_only}.get(only, bench.run)()
    finally:
        bench.cleanup()
    info["load_average_end"] = load_average()
    notes.append(f"Bench took {time.monotonic() - began:.0f} s; set-up of the 1,000-site store "
                 f"{bench.raw.get('scale_load_seconds', 0):.1f} s; 1-min load average "
                 f"{info['load_average_start']} at start, {info['load_average_end']} at end "
                 f"(above ~0.5 other work shares the cores).")
    busiest = max(float(info[k]) for k in ("load_average_start", "load_average_end") if info[k] != "?")
    if busiest > 1.0:
        notes.append(f"WARNING: a load average of {busiest:.1f} on {info['cores']} cores means other processes "
                     f"took much of the CPU; these figures understate this code. Re-run on a quiet machine.")
    lines = {"isolation": lambda: row_11(bench.raw.get("row11")),
             "http": lambda: httpcost.row_12(bench.raw.get("row12")),
             "serving": lambda: serving_rows(bench.raw),
             "replicas": lambda: row_10(bench.raw.get("row10")),
             "watch": lambda: watchers.row_13(bench.raw.get("row13")),
             "audit": lambda: audit.row_14(bench.raw.get("row14")),
             "startup": lambda: row_8(bench.raw.get("row8"))}.get(only, lambda: judge(bench.raw))()
    print()
    print(render(lines, info, notes))
    config = {"duration": bench.duration, "warmup": bench.warmup, "runs": bench.runs, "client": bench.client,
              "load_processes": bench.gen.processes if bench.gen else 0, "workers": fixtures.WORKERS or "default",
              "wrk": bench.raw.get("wrk", "left out")}
    results = RESULTS.with_name(f"results-{only}.json") if only else RESULTS
    write_json(results, info, config, bench.raw, lines)
    print(f"\nwrote {results.relative_to(ROOT)}")
    return 0
