"""The benchmark harness runs end to end in --quick mode and reports every section.

It asserts what the harness produces and how the clients behaved (counts, not timings):
never a speed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# The harness profiles with pyinstrument (requirements/bench.txt); the official SDK's rows
# appear only when `together` is installed too.
pytest.importorskip("pyinstrument")

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = {
    "import": "## 1. Import",
    "overhead": "## 2. Per-call overhead",
    "bulk": "## 3. Bulk submit",
    "wait": "## 4. Waiting",
    "emulator": "## 5. Emulator",
    "faults": "## 6. Faults",
    "scale": "## 7. Bulk at scale",
    "dashboard": "## 8. Dashboard",
}
_DEADLINE = 110


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOGETHER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            "--out",
            str(out / "B.md"),
            "--json",
            str(out / "B.json"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=_DEADLINE,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sections = {s["key"]: s for s in json.loads((out / "B.json").read_text())}
    return (out / "B.md").read_text(), sections


pytestmark = pytest.mark.slow


def test_every_section_is_written_in_order(quick_run: tuple[str, dict[str, Any]]) -> None:
    text, sections = quick_run
    positions = [text.index(heading) for heading in SECTIONS.values()]
    assert positions == sorted(positions)
    assert set(sections) == set(SECTIONS)
    assert "## Machine and versions" in text and "| Python | CPython" in text
    assert "python -m bench.run --quick" in text


def test_headline_lists_every_target_with_a_verdict(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    text, sections = quick_run
    targets = [t for s in sections.values() for t in s["targets"]]
    assert len(targets) >= 7
    for target in targets:
        verdict = "holds" if target["holds"] else "MISSED"
        assert f"| {target['name']} | {target['measured']} | {target['goal']} | {verdict} |" in text


def test_figures_come_from_repeated_runs_with_ratios(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    _, sections = quick_run
    overhead = sections["overhead"]["data"]["wall_s"]
    assert {"ours sync", "ours async", "raw sync", "raw async"} <= set(overhead)
    if importlib.util.find_spec("together") is not None:
        assert {"sdk sync", "sdk async"} <= set(overhead)
        assert sections["faults"]["data"]["tallies"]["sdk"]
    assert all(len(v) >= 1 and min(v) > 0 for v in overhead.values())
    imports = sections["import"]["data"]["peak_rss"]
    # Each process reports its own peak: importing httpx costs more memory than nothing.
    assert min(imports["httpx"]) > max(imports["python (nothing)"])


def test_bulk_submits_every_job_once(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, sections = quick_run
    data = sections["bulk"]["data"]
    assert {"ours", "raw", "raw-reuse", "raw-fair", "ours-sync", "raw-threads"} <= set(data["held"])
    for variant, held in data["held"].items():
        assert data["errors"][variant] == [0] * len(held)
        assert len(set(held)) == 1 and held[0] > 0
    # Our pool keeps its connections: no more opened than requests in flight.
    assert max(data["connections"]["ours"]) <= 8  # the quick run's concurrency


def test_wait_counts_requests_and_sees_every_job(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, sections = quick_run
    data = sections["wait"]["data"]
    # At least one status request per job, and every lag is measured (a job was seen done).
    assert set(data["requests_per_job"]) == {
        f"{workload} {strategy}"
        for workload in ("progress", "quiet")
        for strategy in ("ours", "fixed")
    }
    assert all(min(v) >= 1 for v in data["requests_per_job"].values())
    assert all(min(v) >= 0 for v in data["median_lag_s"].values())
    assert all(min(v) > 0 for v in data["fixed_interval_s"].values())


def test_emulator_depth_is_reached(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, sections = quick_run
    data = sections["emulator"]["data"]
    assert data["pending"] == data["fill"]["submitted"] + 1  # the probe job too
    assert all(min(v) > 0 for v in data["echo_jobs_per_s"].values())


def test_faults_ours_creates_no_duplicate_and_flags_every_unknown(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    _, sections = quick_run
    tallies = sections["faults"]["data"]["tallies"]
    for tally in tallies["ours"]:
        assert tally["duplicates"] == 0
        assert tally["unknown_ids"] == 0
        # Every job held without an id was reported to the caller as outcome-unknown.
        assert tally["orphans"] == tally["actionable"] == tally["errors"] > 0
        assert tally["held"] == tally["ids_returned"] + tally["orphans"]


def test_scale_runs_submit_every_line_and_count_429s(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    _, sections = quick_run
    data = sections["scale"]["data"]
    rates = data["jobs_per_s"]
    assert all(min(v) > 0 for v in rates.values())
    # The CLI's ratios pair each round's runs: the median of the rounds' own ratios.
    sizes = {key.split("-")[1] for key in rates}
    assert set(data["cli_vs"]) == {f"{who}-{n}" for who in ("library", "sync") for n in sizes}
    for key, value in data["cli_vs"].items():
        who, size = key.split("-")
        rounds = zip(rates[f"cli-{size}"], rates[f"{who}-{size}"], strict=True)
        assert value == pytest.approx(statistics.median(cli / other for cli, other in rounds))
    assert set(data["ratelimit_429s"]) == {"adaptive", "fixed"}
    # The token bucket holds at most half the submits: every run meets the limit.
    assert min(min(v) for v in data["ratelimit_429s"].values()) > 0
    assert set(data["random429_429s"]) == {"adaptive", "fixed"}
