"""tools/unasync.py: the sync half is written from the async source, and drift fails."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import unasync  # noqa: E402


def _copy_halves(dest: Path) -> Path:
    """The async source and the committed sync half, copied under `dest`."""
    for half in (unasync.SOURCE, unasync.TARGET):
        shutil.copytree(ROOT / half, dest / half)
    return dest


def test_the_committed_sync_half_is_up_to_date() -> None:
    assert unasync.check(ROOT) == []


def test_a_sync_method_edited_by_hand_fails_the_check_with_a_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _copy_halves(tmp_path)
    client = root / unasync.TARGET / "client.py"
    text = client.read_text(encoding="utf-8")
    edited = text.replace('"""The current status of a job."""', '"""The status."""')
    assert edited != text
    client.write_text(edited, encoding="utf-8")

    assert unasync.main(["--check", "--root", str(root)]) == 1

    out = capsys.readouterr().out
    assert (
        "overlay/together_queue/_sync/client.py: edited by hand or stale: run `nox -s unasync`"
        in out
    )
    assert '-        """The status."""' in out
    assert '+        """The current status of a job."""' in out
    assert "_sync/jobs.py" not in out


def test_writing_restores_the_edited_file(tmp_path: Path) -> None:
    root = _copy_halves(tmp_path)
    jobs = root / unasync.TARGET / "jobs.py"
    committed = jobs.read_text(encoding="utf-8")
    jobs.write_text(committed + "\nEXTRA = 1\n", encoding="utf-8")

    assert unasync.write(root) == [jobs]
    assert jobs.read_text(encoding="utf-8") == committed
    assert unasync.check(root) == []


def test_every_generated_file_names_its_source_and_how_to_regenerate() -> None:
    for name in unasync.MODULES:
        text = (ROOT / unasync.TARGET / name).read_text(encoding="utf-8")
        assert "asyncio" not in text
        assert text.splitlines()[:2] == [
            f"# Generated from overlay/together_queue/_async/{name} by tools/unasync.py: "
            "do not edit.",
            "# Edit the async source, then run `nox -s unasync`.",
        ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("async def f(self) -> None:", "def f(self) -> None:"),
        ("    x = await self._http.request()", "    x = self._http.request()"),
        ("async for chunk in r.aiter_bytes(8):", "for chunk in r.iter_bytes(8):"),
        ("async with AsyncQueueClient() as c:", "with QueueClient() as c:"),
        ("await response.aclose()", "response.close()"),
        ("-> Callable[[Item], Awaitable[AsyncJob]]:", "-> Callable[[Item], Job]:"),
        ("Awaitable[dict[str, list[int]]]", "dict[str, list[int]]"),
        ("httpx.AsyncClient", "httpx.Client"),
        (
            "from together_queue._async._io import sleep",
            "from together_queue._sync._io import sleep",
        ),
        (
            '"""Asynchronous client; an async download."""',
            '"""Synchronous client; a sync download."""',
        ),
        ("import asyncio", "import asyncio"),
    ],
)
def test_rules(source: str, expected: str) -> None:
    assert unasync.rewrite(source) == expected


def test_unbalanced_brackets_are_a_clear_error() -> None:
    with pytest.raises(unasync.UnasyncError, match="unbalanced brackets"):
        unasync.rewrite("Awaitable[int")


def test_a_missing_async_source_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert unasync.main(["--check", "--root", str(tmp_path)]) == 2
    assert "cannot read the async source overlay/together_queue/_async/client.py" in (
        capsys.readouterr().err
    )
