"""The README is the front page: short, opening with the two commands, its links alive."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = [
    "python -m pip install nox && nox -s demo",
    "python -m pip install nox && nox ",
]


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```", 2)[1].splitlines()[1:]
    assert len(first_block) == 2
    for line, command in zip(first_block, COMMANDS, strict=True):
        assert line.startswith(command), line


def test_readme_is_a_front_page_not_a_manual() -> None:
    assert len(README) < 6000


def test_every_relative_link_in_the_readme_exists() -> None:
    # mkdocs --strict checks the site's own links; the README is not part of the site.
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if "://" not in t and not t.startswith("mailto:")]
    assert local, "the README links into the docs"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert missing == []
