"""Check that each requirement is installed exactly at its `>=` floor (nox -s lowest).

Usage: python tools/check_floors.py "httpx>=0.27,<1" "attrs>=23.1" ...

Prints one line per requirement (what the floor is, what is installed) and exits 1
naming every package that is not at its floor, so the `lowest` session cannot pass
on versions newer than the ones pyproject.toml promises to work with.
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Callable, Iterable

from packaging.requirements import Requirement
from packaging.version import Version


def floor_of(requirement: Requirement) -> Version:
    """The version named by the requirement's `>=` clause; ValueError without one."""
    floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    if len(floors) != 1:
        raise ValueError(f"{requirement} needs exactly one '>=' floor")
    return floors[0]


def off_floor(
    requirements: Iterable[str],
    installed: Callable[[str], str] = importlib.metadata.version,
) -> list[str]:
    """Print each floor and what is installed; return the packages not at their floor."""
    wrong = []
    for text in requirements:
        requirement = Requirement(text)
        floor = floor_of(requirement)
        try:
            got = Version(installed(requirement.name))
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{requirement.name} not installed (floor {floor})")
            print(f"floor {requirement.name}>={floor}: not installed")
            continue
        print(f"floor {requirement.name}>={floor}: installed {got}")
        if got != floor:
            wrong.append(f"{requirement.name} {got} (floor {floor})")
    return wrong


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 when every requirement given is installed at its floor."""
    wrong = off_floor(sys.argv[1:] if argv is None else argv)
    if wrong:
        print("not at the floor: " + ", ".join(wrong), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
