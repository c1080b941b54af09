"""Every public name of together_queue has a place in the API reference (docs/reference/)."""

from __future__ import annotations

import re
from pathlib import Path

import together_queue

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
# Modules whose reference page renders every public member (their own page).
WHOLE_MODULE_PAGES = {
    "together_queue.client": "client.md",
    "together_queue.jobs": "jobs.md",
    "together_queue.errors": "errors.md",
}


def _listed_members(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    members = text.split("members:", 1)[1]
    return set(re.findall(r"^\s+- (\S+)$", members, re.MULTILINE))


def test_every_name_in_all_is_on_a_reference_page() -> None:
    listed = _listed_members(REFERENCE / "together_queue.md")
    missing = []
    for name in together_queue.__all__:
        module = getattr(getattr(together_queue, name), "__module__", None)
        if name in listed or module in WHOLE_MODULE_PAGES:
            continue
        missing.append(f"{name} (from {module})")
    assert not missing, (
        "add these to the members list of docs/reference/together_queue.md: " + ", ".join(missing)
    )


def test_whole_module_pages_render_their_module() -> None:
    for module, page in WHOLE_MODULE_PAGES.items():
        assert f"::: {module}\n" in (REFERENCE / page).read_text(encoding="utf-8")
