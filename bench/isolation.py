"""Row 11 (tenant isolation): another site's env fetch p99 while one site's hostile validations run.

Site `hostile` gets the issue's two reproduced cases and the bound's backstop, each a secret type:
`pattern` (`^(a+)+$` against `"aaa…a!"`), `unique` (`uniqueItems` over a ~60 KB array
`[0, "0", 1, "1", …]` with one repeat at its end) and `blowup` (nested `anyOf` through `$ref`:
2**40 branches, refused by the CPU budget). For each, one client thread posts the hostile value
back to back (each answer is a 422) while the load generator fetches site `bench`'s environment at
c=4; the figure is the env p99 of that run, next to the slowest hostile answer.
A fourth case has site `hostile`'s admin ask for `audit verify` back to back on a log of
`WALKED_EVENTS` events: each walk is CPU-bound Python in a worker that also answers env fetches.
A fifth case sends bad tokens back to back from the same address as the load (127.0.0.1, where
every tenant of a host connects from): they are throttled (401, then 429) while every env fetch
with its valid token must still answer 200.
A sixth case is a flood of allowed requests: site `hostile`'s own service token fetches its own
environment at c=`FLOOD_CONCURRENCY`, back to back, in a process of its own (the raw client, as the
load generator's), during each env run of site `bench`; its rate and answers are printed beside
bench's. Before the cases, bench's env at c=4 alone: the unloaded figure the others compare with.
`BENCH_ONLY=isolation python -m bench` runs this row alone.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import httpx

from .fixtures import fill_audit_log
from .load import Load, Sample, run_in_process, summarise

SITE = "hostile"
CONCURRENCY = 4


def _blowup(depth: int = 40) -> dict:
    levels = {f"l{n}": {"anyOf": [{"$ref": f"#/$defs/l{n + 1}"}, {"$ref": f"#/$defs/l{n + 1}"}]} for n in range(depth)}
    levels[f"l{depth}"] = {"type": "string"}
    return {"$defs": levels, "if": {"type": "array"}, "then": {"$ref": "#/$defs/l0"}}


def _unique_value() -> str:
    items = [x for n in range(4800) for x in (n, str(n))]
    return json.dumps(items, separators=(",", ":"))[:-1] + ",4799.0]"


CASES = {
    "pattern ^(a+)+$": ({"type": "string", "pattern": "^(a+)+$"}, json.dumps("a" * 26 + "!")),
    "uniqueItems, 60 KB array": ({"type": "array", "uniqueItems": True}, _unique_value()),
    "anyOf blow-up (CPU budget)": (_blowup(), "[]"),
}


WALKED_EVENTS = 50_000
"""Events on `hostile`'s chain for the verify case: walks of a few tenths of a second each."""
WALKS = f"audit verify of a {WALKED_EVENTS:,}-event log"
BAD_TOKENS = "bad tokens from the same address"
BAD_TOKEN = "ss_" + "0" * 43  # well formed, never issued
ALONE = "nothing (site bench alone)"
FLOOD_CONCURRENCY = 16
FLOOD = f"its own env at c={FLOOD_CONCURRENCY} (allowed: a flood of valid requests)"


def _hammer(send, stop: threading.Event, out: dict) -> None:
    while not stop.is_set():
        began = time.monotonic()
        response = send()
        out["latencies"].append(time.monotonic() - began)
        out["statuses"][response.status_code] = out["statuses"].get(response.status_code, 0) + 1


def _flood_load(admin: httpx.Client, server) -> Load:
    """Site `hostile`'s own service `fn` (5 secrets) and a service token for it: what the flood sends."""
    for n in range(5):
        admin.post(f"/v1/sites/{SITE}/secrets", json={"name": f"F{n}", "value": f"flood-{n}-" + "x" * 32}).raise_for_status()
    admin.post(f"/v1/sites/{SITE}/services", json={"name": "fn", "secrets": [{"name": f"F{n}"} for n in range(5)]}).raise_for_status()
    token = admin.post("/v1/tokens", json={"name": "hostile-fn", "role": "service", "site": SITE, "service": "fn"})
    token.raise_for_status()
    return Load(server.host, server.port, token.json()["token"], "get", (f"/v1/sites/{SITE}/services/fn/env",))


def _env_under_flood(bench, env: Load, flood: Load, pool: ProcessPoolExecutor) -> tuple[list[Sample], list[Sample]]:
    """Bench's env runs, each with the flood running over the same window (the monotonic clock is
    the machine's, so a start time means the same moment in both processes)."""
    envs, floods = [], []
    for _ in range(bench.runs):
        start = time.monotonic() + 0.3
        hostile = pool.submit(run_in_process, flood, bench.client, 0, FLOOD_CONCURRENCY, start, bench.warmup, bench.duration)
        envs.append(bench.gen.run(env, CONCURRENCY, bench.duration, bench.warmup))
        floods.append(hostile.result())
    return envs, floods


def _statuses(samples: list[Sample]) -> dict[str, int]:
    """How the flood's requests were answered over every run: 2xx, and each error status."""
    statuses = {"2xx": sum(s.count for s in samples)}
    for sample in samples:
        for status, n in sample.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    return statuses


def measure(bench, server, small) -> dict:
    """Per case: the env summary under the hostile load, and the hostile requests' figures."""
    figures = {}
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {small.admin}"}, timeout=60) as admin:
        admin.post("/v1/sites", json={"name": SITE}).raise_for_status()
        for n, (schema, _) in enumerate(CASES.values()):
            admin.post(f"/v1/sites/{SITE}/secret-types", json={"key": f"t{n}", "name": f"t{n}", "schema": schema}).raise_for_status()
        env = Load(server.host, server.port, small.service_token, "get", (small.env_path,))
        bench.log(f"row 11: env at c={CONCURRENCY} alone")
        figures[ALONE] = {"env": summarise([bench.gen.run(env, CONCURRENCY, bench.duration, bench.warmup)
                                            for _ in range(bench.runs)]),
                          "hostile_max_s": 0.0, "hostile_requests": 0, "hostile_statuses": {}}
        flood = _flood_load(admin, server)
        bench.log(f"row 11: env at c={CONCURRENCY} while site {SITE!r} fetches {FLOOD}")
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            pool.submit(time.monotonic).result()  # the process is up (and has imported) before the first run
            envs, floods = _env_under_flood(bench, env, flood, pool)
        figures[FLOOD] = {"env": summarise(envs), "hostile": summarise(floods),
                          "hostile_max_s": max((max(f.latencies, default=0.0) for f in floods), default=0.0),
                          "hostile_requests": sum(f.count + f.errors for f in floods),
                          "hostile_statuses": _statuses(floods)}
        senders = {name: functools.partial(admin.post, f"/v1/sites/{SITE}/secrets",
                                           json={"name": "H", "value": value, "type": f"t{n}"})
                   for n, (name, (_, value)) in enumerate(CASES.items())}
        fill_audit_log(server.data_dir, SITE, WALKED_EVENTS)
        senders[WALKS] = functools.partial(admin.get, f"/v1/sites/{SITE}/audit/verify", timeout=600)
        guesser = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {BAD_TOKEN}"}, timeout=60)
        senders[BAD_TOKENS] = functools.partial(guesser.get, "/v1/whoami")
        for name, send in senders.items():
            bench.log(f"row 11: env at c={CONCURRENCY} while site {SITE!r} sends {name}")
            samples, out, stop = [], {"latencies": [], "statuses": {}}, threading.Event()
            worker = threading.Thread(target=_hammer, args=(send, stop, out))
            worker.start()
            try:
                for _ in range(bench.runs):
                    samples.append(bench.gen.run(env, CONCURRENCY, bench.duration, bench.warmup))
            finally:
                stop.set()
                worker.join()
            figures[name] = {"env": summarise(samples), "hostile_max_s": max(out["latencies"], default=0.0),
                             "hostile_requests": len(out["latencies"]), "hostile_statuses": out["statuses"]}
        guesser.close()
    return figures
