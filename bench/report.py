"""What a section produces (tables, targets, notes) and how it is written as Markdown."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.define
class Table:
    """A Markdown table: a header row and rows of already formatted cells."""

    headers: list[str]
    rows: list[list[str]] = attrs.field(factory=list)

    def add(self, *cells: object) -> None:
        """Append a row; cells are turned into text."""
        self.rows.append([str(cell) for cell in cells])

    def markdown(self) -> str:
        """The table as GitHub-flavoured Markdown."""
        lines = ["| " + " | ".join(self.headers) + " |"]
        lines.append("|" + "|".join("---" for _ in self.headers) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


@attrs.define
class Target:
    """One target of the issue: what was compared, the measured figure, and whether it holds."""

    name: str
    goal: str
    measured: str
    holds: bool

    @property
    def verdict(self) -> str:
        """`holds` or `MISSED`."""
        return "holds" if self.holds else "MISSED"


@attrs.define
class Section:
    """One benchmark's results: tables, targets, notes, profiles and the raw numbers."""

    key: str
    title: str
    intro: str
    tables: list[Table] = attrs.field(factory=list)
    targets: list[Target] = attrs.field(factory=list)
    notes: list[str] = attrs.field(factory=list)
    profiles: list[str] = attrs.field(factory=list)
    figures: list[str] = attrs.field(factory=list)
    data: dict[str, Any] = attrs.field(factory=dict)
    seconds: float = 0.0

    def markdown(self) -> str:
        """The section as Markdown (heading, intro, tables, figures, targets, notes, profiles)."""
        parts = [f"## {self.title}", self.intro]
        parts += [table.markdown() for table in self.tables]
        parts += self.figures
        if self.targets:
            lines = [
                f"- {t.verdict}: {t.name}: {t.measured} (target: {t.goal})" for t in self.targets
            ]
            parts.append("Targets:\n\n" + "\n".join(lines))
        if self.notes:
            parts.append("\n".join(f"- {note}" for note in self.notes))
        for profile in self.profiles:
            parts.append(profile)
        parts.append(f"_Section time: {self.seconds:.0f} s._")
        return "\n\n".join(parts)

    def to_json(self) -> dict[str, Any]:
        """Everything measured, for machines (`--json`)."""
        return {
            "key": self.key,
            "title": self.title,
            "targets": [attrs.asdict(t) for t in self.targets],
            "data": self.data,
            "seconds": self.seconds,
        }


def headline(sections: list[Section]) -> Table:
    """One row per target across all sections."""
    table = Table(["Section", "Target", "Measured", "Goal", "Verdict"])
    for section in sections:
        for target in section.targets:
            table.add(section.title, target.name, target.measured, target.goal, target.verdict)
    return table
