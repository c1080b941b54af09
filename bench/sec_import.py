"""Section 1: `python -c "import X"` wall time and peak memory of the whole process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from bench import clients
from bench.config import Config
from bench.report import Section, Table, Target
from bench.stats import Stat, fmt_ratio, ratio

# What each row imports; `pass` is the interpreter's own floor. Both of our rows are
# held to the startup target: at most 1.15x a bare `import httpx`.
OURS = "together_queue (ours)"
OURS_CLIENT = "QueueClient (ours)"
STATEMENTS = {
    "python (nothing)": "pass",
    "httpx": "import httpx",
    OURS: "import together_queue",
    OURS_CLIENT: "from together_queue import QueueClient",
    "together (official SDK)": "import together",
}
TARGET_VS_HTTPX = 1.15
_DEADLINE = 60.0


def child_env() -> dict[str, str]:
    """The environment of every measured process: ours, with bytecode caching allowed.

    pip compiles an installed package to bytecode, so httpx never pays for compiling;
    a source checkout run under PYTHONDONTWRITEBYTECODE would recompile our modules in
    every run and time the compiler, not the import. The warm-up run writes the cache.
    """
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


_HWM = "; print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"


def httpx_loads_its_cli() -> bool:
    """Whether `import httpx` here also loads its optional CLI (rich, click, pygments).

    httpx imports its command line when those packages are installed (the SDK brings
    them); without them `import httpx` is far cheaper, so every ratio to it is higher.
    """
    out = subprocess.run(
        [sys.executable, "-c", "import httpx, sys; print('httpx._main' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=_DEADLINE,
        check=True,
        env=child_env(),
    )
    return out.stdout.strip() == "True"


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
        env=child_env(),
    )
    elapsed = time.perf_counter() - started
    match = re.search(r"VmHWM:\s+(\d+) kB", out.stdout)
    if not match:
        raise RuntimeError(f"no VmHWM from `python -c {statement!r}`: {out.stdout!r}")
    return elapsed, int(match.group(1)) * 1024


def _importtime(statement: str) -> list[tuple[str, int]]:
    """(module, self µs) for every module `statement` loads (`python -X importtime`)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        timeout=_DEADLINE,
        check=True,
        env=child_env(),
    )
    rows = []
    for line in out.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if match:
            rows.append((match.group(3), int(match.group(1))))
    return rows


def import_profile(statement: str, baseline: str = "import httpx", top: int = 10) -> str:
    """What `statement` loads beyond `baseline`: self time per package and module."""
    floor = {name for name, _ in _importtime(baseline)}
    extra = [(name, micros) for name, micros in _importtime(statement) if name not in floor]
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
        f"Import profile: what `{statement}` loads beyond `{baseline}` "
        f"(`python -X importtime`, one run, {total / 1000:.1f} ms of module execution; "
        "self time, so each module counts once):\n\n"
        f"{packages.markdown()}\n\n{modules.markdown()}"
    )


def run(config: Config) -> Section:
    """Time every statement `config.import_repeats` times, interleaved."""
    httpx_, sdk = "httpx", "together (official SDK)"
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
    goal = f"<= {TARGET_VS_HTTPX:.2f}x"
    targets = []
    for label, what in ((OURS, "import together_queue"), (OURS_CLIENT, "import QueueClient")):
        vs_httpx = ratio(wall[label], wall[httpx_])
        targets.append(
            Target(
                f"{what} wall time, ours / httpx",
                goal,
                fmt_ratio(vs_httpx),
                vs_httpx <= TARGET_VS_HTTPX,
            )
        )
    if sdk in wall:
        # `import together` loads the SDK's client: the like-for-like row is ours that does.
        vs_sdk = ratio(wall[OURS_CLIENT], wall[sdk])
        targets.append(
            Target(
                "import QueueClient wall time, ours / SDK",
                "< 0.4x",
                fmt_ratio(vs_sdk),
                vs_sdk < 0.4,
            )
        )
    notes = []
    for label in (OURS, OURS_CLIENT):
        delta = (wall[label].median - wall[httpx_].median) * 1000
        notes.append(f"`{STATEMENTS[label]}`: {delta:+.0f} ms (median) against `import httpx`.")
    notes.append(
        "`import together_queue` loads no httpx, attrs, client or generated module: each "
        "public name is imported when first used."
    )
    cli = "loads" if httpx_loads_its_cli() else "does not load"
    notes.append(
        f"Here `import httpx` {cli} httpx's optional CLI (rich, click, pygments), which "
        "makes it much slower than in an environment without those packages."
    )
    section = Section(
        key="import",
        title="1. Import",
        intro=(
            f'`python -c "import X"` in a fresh process, {config.import_repeats} runs each, '
            "interleaved, after one warm-up run each; wall time measured by the parent around "
            "the whole process, peak RSS is the child's own VmHWM. Median (min-max). "
            "Bytecode caching is on for every child (the warm-up run writes ours), as it is "
            "for an installed package. `import together_queue` loads its public names on "
            "first use; `from together_queue import QueueClient` loads what the client "
            "needs to be built, and the generated layer on the first request."
        ),
        tables=[table],
        targets=targets,
        notes=notes,
        data={
            "wall_s": {k: v.values for k, v in wall.items()},
            "peak_rss": {k: v.values for k, v in mem.items()},
        },
    )
    if not all(t.holds for t in targets) or config.always_profile:
        section.profiles.append(import_profile(STATEMENTS[OURS_CLIENT]))
    return section
