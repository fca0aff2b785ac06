"""The bench's output: the machine, one table (each row next to its target, PASS/FAIL), a JSON file."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Line:
    row: str
    measure: str
    result: str
    spread: str = ""
    latency: str = ""
    target: str = ""
    ok: bool | None = None
    """True/False against `target`; None where the issue sets no target."""
    note: str = ""
    """Printed under the table (what the errors were)."""

    @property
    def mark(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "FAIL")


def _mount_of(path: Path) -> str:
    """The filesystem type holding `path` (fsync on tmpfs would make durability free)."""
    best, kind = "", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) >= len(best):
                best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def machine(data_dir: Path) -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError):
        mem_gib = 0.0
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_gib, 1),
            "python": platform.python_version(), "implementation": platform.python_implementation(),
            "os": f"{platform.system()} {platform.release()}", "data_dir_fs": _mount_of(data_dir)}


def load_average() -> str:
    """The 1-minute load average: other work on the machine moves every figure."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def render(lines: list[Line], info: dict, notes: list[str]) -> str:
    head = ("row", "measure", "result", "spread (min-max)", "p50/p99 ms", "target", "")
    table = [head] + [(l.row, l.measure, l.result, l.spread, l.latency, l.target, l.mark) for l in lines]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]

    def fmt(r: tuple) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"

    out = [f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
           f"{info['implementation']} {info['python']}; {info['os']}; data dir on {info['data_dir_fs']}"]
    out += notes
    out += ["", fmt(head), "| " + " | ".join("-" * w for w in widths) + " |"]
    out += [fmt(r) for r in table[1:]]
    out += [f"  row {l.row}, {l.measure}: {l.note}" for l in lines if l.note]
    failed = [l for l in lines if l.ok is False]
    out += ["", f"{sum(1 for l in lines if l.ok)} PASS, {len(failed)} FAIL"]
    return "\n".join(out)


def write_json(path: Path, info: dict, config: dict, raw: dict, lines: list[Line]) -> None:
    data = {"machine": info, "config": config, "rows": [asdict(l) | {"mark": l.mark} for l in lines], "raw": raw}
    path.write_text(json.dumps(data, indent=2) + "\n")
