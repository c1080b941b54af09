"""CLI bulk memory is flat in the number of lines.

Measured as the peak resident set (VmHWM, Linux) of the CLI process itself, at N and
4N lines against the same emulator: before the streaming rewrite the CLI held about
3 KB per line (a dict of states, a list of lines, a list of final records).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from together_queue.emulator import EmulatorHandle

from .conftest import RUN_TIMEOUT, cli_env

MIB = 1024 * 1024
# Runs the CLI in this process, then reports the process's own peak RSS on stderr.
_MEASURED = """
import sys
from pathlib import Path
from together_queue.cli import main
code = main(sys.argv[1:])
hwm = [l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:")]
print("PEAK", int(hwm[0].split()[1]) * 1024, file=sys.stderr)
raise SystemExit(code)
"""


def _peak(emulator: EmulatorHandle, tmp_path: Path, model: str, lines: int) -> int:
    jobs = tmp_path / f"jobs-{lines}.jsonl"
    jobs.write_text("".join(f'{{"n": {n}}}\n' for n in range(lines)))
    out = tmp_path / f"results-{lines}.jsonl"
    result = subprocess.run(
        [sys.executable, "-c", _MEASURED, "submit", "--file", str(jobs), "--model", model,
         "--concurrency", "16", "--output", str(out)],
        env=cli_env(emulator.url),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT * 4,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert out.read_text().count('"submitted"') == lines
    return int(result.stderr.rsplit("PEAK ", 1)[1].split()[0])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_cli_bulk_peak_memory_does_not_grow_with_the_lines(
    emulator: EmulatorHandle, tmp_path: Path, model: str
) -> None:
    small = _peak(emulator, tmp_path, model, 1_500)
    large = _peak(emulator, tmp_path, model, 6_000)
    # 4,500 more lines at ~3 KB each would be ~13 MiB; flat is within allocator noise.
    assert large - small < 5 * MIB, (small / MIB, large / MIB)
