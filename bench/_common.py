"""Shared helpers for the benchmark scripts: machine facts, load, timing statistics, --out."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from pathlib import Path


def machine() -> dict:
    """The facts docs/benchmarks.md reports for every number."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        import torch

        torch_version, torch_threads = torch.__version__, torch.get_num_threads()
    except ImportError:
        torch_version, torch_threads = None, None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gb": ram_gb,
        "python": platform.python_version(),
        "torch": torch_version,
        "torch_threads": torch_threads,
        "platform": platform.platform(),
    }


def load_average() -> float | None:
    """1-minute load average: other processes on a shared machine skew every timing here."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def process_memory_mb(pid: int, *names: str) -> dict[str, float]:
    """Memory figures of a running process from /proc/PID/status ("VmRSS", "VmHWM", "RssAnon",
    ...), in MB; those it does not report are left out."""
    found = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in names:
                found[name] = int(value.split()[0]) / 1024
    return found


def spread(values: list[float]) -> dict:
    return {
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
        "runs": values,
    }


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        return float("nan")
    position = (len(sorted_values) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def print_machine(facts: dict) -> None:
    print(
        f"machine: {facts['cpu']}, {facts['cores']} cores ({facts['usable_cores']} usable), "
        f"{facts['ram_gb']} GB RAM, Python {facts['python']}, torch {facts['torch']} "
        f"({facts['torch_threads']} intra-op threads)"
    )


def write_out(path: str | None, result: dict) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
