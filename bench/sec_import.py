"""Section 1: `python -c "import X"` wall time and peak memory of the whole process."""

from __future__ import annotations

import re
import subprocess
import sys
import time

from bench import clients
from bench.config import Config
from bench.report import Section, Table, Target
from bench.stats import Stat, fmt_ratio, ratio

# What each row imports; `pass` is the interpreter's own floor.
STATEMENTS = {
    "python (nothing)": "pass",
    "httpx": "import httpx",
    "together_queue (ours)": "import together_queue",
    "together (official SDK)": "import together",
}
_DEADLINE = 60.0


_HWM = "; print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"


def measure_once(statement: str) -> tuple[float, int]:
    """Wall seconds and peak RSS bytes of a fresh `python -c statement`.

    The peak is the child's own VmHWM, printed by the child as it ends: the parent's
    `wait4()` figure would include the memory of the forked parent before `exec`.
    """
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", statement + _HWM],
        capture_output=True,
        text=True,
        timeout=_DEADLINE,
        check=True,
    )
    elapsed = time.perf_counter() - started
    match = re.search(r"VmHWM:\s+(\d+) kB", out.stdout)
    if not match:
        raise RuntimeError(f"no VmHWM from `python -c {statement!r}`: {out.stdout!r}")
    return elapsed, int(match.group(1)) * 1024


def _importtime(module: str) -> list[tuple[str, int]]:
    """(module, self µs) for every module `import module` loads (`python -X importtime`)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=_DEADLINE,
        check=True,
    )
    rows = []
    for line in out.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if match:
            rows.append((match.group(3), int(match.group(1))))
    return rows


def import_profile(module: str, baseline: str = "httpx", top: int = 10) -> str:
    """What `import module` loads beyond `import baseline`: self time per package and module."""
    floor = {name for name, _ in _importtime(baseline)}
    extra = [(name, micros) for name, micros in _importtime(module) if name not in floor]
    per_package: dict[str, int] = {}
    for name, micros in extra:
        package = name.split(".")[0]
        per_package[package] = per_package.get(package, 0) + micros
    total = sum(per_package.values()) or 1
    packages = Table(["Package (modules httpx does not load)", "self ms", "share"])
    for package, micros in sorted(per_package.items(), key=lambda kv: -kv[1])[:top]:
        packages.add(package, f"{micros / 1000:.1f}", f"{micros / total:.0%}")
    modules = Table(["Module", "self ms"])
    for name, micros in sorted(extra, key=lambda row: -row[1])[:top]:
        modules.add(name, f"{micros / 1000:.1f}")
    return (
        f"Import profile: what `import {module}` loads beyond `import {baseline}` "
        f"(`python -X importtime`, one run, {total / 1000:.1f} ms of module execution; "
        "self time, so each module counts once):\n\n"
        f"{packages.markdown()}\n\n{modules.markdown()}"
    )


def run(config: Config) -> Section:
    """Time every statement `config.import_repeats` times, interleaved."""
    ours, httpx_, sdk = "together_queue (ours)", "httpx", "together (official SDK)"
    statements = {k: v for k, v in STATEMENTS.items() if k != sdk or clients.sdk_available()}
    times: dict[str, list[float]] = {label: [] for label in statements}
    peaks: dict[str, list[float]] = {label: [] for label in statements}
    for statement in statements.values():
        measure_once(statement)  # warm the file cache: every row starts equal
    for _ in range(config.import_repeats):
        for label, statement in statements.items():
            elapsed, peak = measure_once(statement)
            times[label].append(elapsed)
            peaks[label].append(peak)
    wall = {label: Stat.of(v) for label, v in times.items()}
    mem = {label: Stat.of(v) for label, v in peaks.items()}
    table = Table(["Import", "wall ms", "peak RSS MiB", "wall vs httpx", "wall vs SDK"])
    for label in statements:
        table.add(
            label,
            wall[label].fmt(1, 1000),
            mem[label].fmt(1, 1 / 1024 / 1024),
            fmt_ratio(ratio(wall[label], wall[httpx_])),
            fmt_ratio(ratio(wall[label], wall[sdk])) if sdk in wall else "n/a",
        )
    vs_httpx = ratio(wall[ours], wall[httpx_])
    targets = [
        Target("import wall time, ours / httpx", "< 1.5x", fmt_ratio(vs_httpx), vs_httpx < 1.5)
    ]
    if sdk in wall:
        vs_sdk = ratio(wall[ours], wall[sdk])
        targets.append(
            Target("import wall time, ours / SDK", "< 0.4x", fmt_ratio(vs_sdk), vs_sdk < 0.4)
        )
    added = (wall[ours].median - wall[httpx_].median) * 1000
    section = Section(
        key="import",
        title="1. Import",
        intro=(
            f'`python -c "import X"` in a fresh process, {config.import_repeats} runs each, '
            "interleaved, after one warm-up run each; wall time measured by the parent around "
            "the whole process, peak RSS is the child's own VmHWM. Median (min-max)."
        ),
        tables=[table],
        targets=targets,
        notes=[f"together_queue adds {added:.0f} ms (median) to a bare `import httpx`."],
        data={
            "wall_s": {k: v.values for k, v in wall.items()},
            "peak_rss": {k: v.values for k, v in mem.items()},
        },
    )
    if not all(t.holds for t in targets) or config.always_profile:
        section.profiles.append(import_profile("together_queue"))
    return section
