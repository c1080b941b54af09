"""Write the emulator's route list and rule syntaxes into docs/guides/emulator.md.

Each block sits between `<!-- generated: NAME -->` and `<!-- end: NAME -->` and is made
from the code: the route table (`together_queue.emulator.routes.route_list`), the fault
syntax (`faults.FAULT_SYNTAX`) and the rate-limit syntax (`ratelimit.RATE_LIMIT_SYNTAX`).
`python tools/emulator_docs.py` rewrites the blocks; `--check` fails when they differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

from together_queue.emulator.faults import FAULT_SYNTAX
from together_queue.emulator.ratelimit import RATE_LIMIT_SYNTAX
from together_queue.emulator.routes import route_list

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guides" / "emulator.md"


def blocks() -> dict[str, str]:
    """The generated text of each block, by name."""
    return {
        "routes": route_list(),
        "fault-syntax": f"```text\n{FAULT_SYNTAX}\n```\n",
        "rate-limit-syntax": f"```text\n{RATE_LIMIT_SYNTAX}\n```\n",
    }


def render(text: str) -> str:
    """`text` with every generated block replaced by its current content."""
    for name, content in blocks().items():
        start, end = f"<!-- generated: {name} -->\n", f"<!-- end: {name} -->"
        before, found, rest = text.partition(start)
        if not found or end not in rest:
            raise ValueError(f"{GUIDE.name} has no block {name!r}")
        text = before + start + content + end + rest.partition(end)[2]
    return text


def main(argv: list[str]) -> int:
    """Rewrite the guide's blocks, or with `--check` report whether they are current."""
    text = GUIDE.read_text(encoding="utf-8")
    fresh = render(text)
    if "--check" in argv:
        if fresh != text:
            print(f"{GUIDE} is out of date: run python tools/emulator_docs.py", file=sys.stderr)
            return 1
        return 0
    GUIDE.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
