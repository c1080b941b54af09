"""The benchmark figures as SVG, drawn from the numbers the sections already produce.

Hand-written SVG rather than matplotlib: three simple charts do not justify a plotting
stack (and its numpy) in the bench environment, the output is byte-for-byte the same
for the same numbers (so a committed figure changes only when a figure changes), and
labels stay real text that is small, searchable and scales with the page.

Figures (each drawn only when its section ran):
- ``bench-overhead.svg``: µs per `status` call, sync and async, per client;
- ``bench-bulk.svg``: bulk submit throughput (jobs/s) per client;
- ``bench-wait.svg``: waiting, detection lag against status requests per job.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from bench.stats import Stat

__all__ = ["FIGURES", "bar_chart", "nice_ticks", "scatter_chart", "write_figures"]

FIGURES = {
    "overhead": "bench-overhead.svg",
    "bulk": "bench-bulk.svg",
    "wait": "bench-wait.svg",
}
"""Section key -> the file its figure is written to."""

_WIDTH = 640
_FONT = "font-family:system-ui,-apple-system,'Segoe UI',sans-serif"
_COLORS = {"ours": "#2f6fde", "raw": "#8a8f98", "sdk": "#e07b39", "fixed": "#8a8f98"}
_OTHER = "#b9a4e0"


def _color(label: str) -> str:
    # "ours sync", "ours: wait_all", "raw-pool-32": the first word names the client.
    word = re.match(r"[a-z]*", label)
    return _COLORS.get(word.group() if word else "", _OTHER)


def _num(value: float) -> str:
    # Fixed precision: the same numbers always give the same bytes.
    return f"{value:.1f}".rstrip("0").rstrip(".")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)) or high < low:
        raise ValueError(f"nice_ticks needs finite low <= high, got {low}, {high}")
    if high == low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _tick_label(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"


def _svg(height: int, title: str, body: list[str]) -> str:
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
            f'viewBox="0 0 {_WIDTH} {height}" role="img" aria-label="{escape(title)}">',
            f"<title>{escape(title)}</title>",
            f'<rect width="{_WIDTH}" height="{height}" fill="#ffffff"/>',
            f'<text x="16" y="24" style="{_FONT};font-size:15px;font-weight:600" '
            f'fill="#1f2328">{escape(title)}</text>',
            *body,
            "</svg>",
            "",
        ]
    )


def bar_chart(title: str, unit: str, bars: Sequence[tuple[str, Stat]], note: str = "") -> str:
    """Horizontal bars at each median, a min-max whisker, the median written at the end."""
    if not bars:
        raise ValueError("bar_chart needs at least one bar")
    left, right, top, row = 150, _WIDTH - 80, 44, 30
    plot_bottom = top + row * len(bars)
    ticks = nice_ticks(0.0, max(stat.max for _, stat in bars))
    scale = (right - left) / ticks[-1]
    body: list[str] = []
    for tick in ticks:
        x = left + tick * scale
        body.append(
            f'<line x1="{_num(x)}" y1="{top}" x2="{_num(x)}" y2="{plot_bottom}" stroke="#e6e8eb"/>'
        )
        body.append(
            f'<text x="{_num(x)}" y="{plot_bottom + 16}" text-anchor="middle" '
            f'style="{_FONT};font-size:11px" fill="#57606a">{_tick_label(tick)}</text>'
        )
    for i, (label, stat) in enumerate(bars):
        y = top + i * row
        mid = y + row / 2
        width = stat.median * scale
        body += [
            f'<text x="{left - 8}" y="{_num(mid + 4)}" text-anchor="end" '
            f'style="{_FONT};font-size:12px" fill="#1f2328">{escape(label)}</text>',
            f'<rect x="{left}" y="{y + 6}" width="{_num(width)}" height="{row - 12}" '
            f'fill="{_color(label)}"><title>{escape(label)}: {stat.fmt(1)} {unit}</title></rect>',
            f'<line x1="{_num(left + stat.min * scale)}" y1="{_num(mid)}" '
            f'x2="{_num(left + stat.max * scale)}" y2="{_num(mid)}" stroke="#1f2328"/>',
            f'<text x="{_num(left + max(width, stat.max * scale) + 6)}" y="{_num(mid + 4)}" '
            f'style="{_FONT};font-size:11px" fill="#1f2328">{_tick_label(round(stat.median))}'
            "</text>",
        ]
    body.append(
        f'<text x="{(left + right) // 2}" y="{plot_bottom + 34}" text-anchor="middle" '
        f'style="{_FONT};font-size:12px" fill="#57606a">{escape(unit)}'
        f"{' · ' + escape(note) if note else ''}</text>"
    )
    return _svg(plot_bottom + 46, title, body)


def scatter_chart(
    title: str,
    x_label: str,
    y_label: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    hollow: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    note: str = "",
) -> str:
    """Points per series (filled), optional second points per series (hollow), a legend."""
    points = [p for values in series.values() for p in values]
    points += [p for values in (hollow or {}).values() for p in values]
    if not points:
        raise ValueError("scatter_chart needs at least one point")
    left, right, top, bottom = 64, _WIDTH - 170, 44, 300
    x_ticks = nice_ticks(0.0, max(x for x, _ in points))
    y_ticks = nice_ticks(0.0, max(y for _, y in points))

    def at(x: float, y: float) -> tuple[str, str]:
        return (
            _num(left + x / x_ticks[-1] * (right - left)),
            _num(bottom - y / y_ticks[-1] * (bottom - top)),
        )

    body: list[str] = []
    for tick in x_ticks:
        x, _ = at(tick, 0)
        body.append(f'<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" stroke="#e6e8eb"/>')
        body.append(
            f'<text x="{x}" y="{bottom + 16}" text-anchor="middle" '
            f'style="{_FONT};font-size:11px" fill="#57606a">{_tick_label(tick)}</text>'
        )
    for tick in y_ticks:
        _, y = at(0, tick)
        body.append(f'<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" stroke="#e6e8eb"/>')
        body.append(
            f'<text x="{left - 6}" y="{_num(float(y) + 4)}" text-anchor="end" '
            f'style="{_FONT};font-size:11px" fill="#57606a">{_tick_label(tick)}</text>'
        )
    legend_y = top + 6
    for name, values in series.items():
        color = _color(name)
        for x_value, y_value in values:
            x, y = at(x_value, y_value)
            body.append(
                f'<circle cx="{x}" cy="{y}" r="5" fill="{color}"><title>{escape(name)}: '
                f"{x_value:.2f}, {y_value:.3f}</title></circle>"
            )
        for x_value, y_value in (hollow or {}).get(name, ()):
            x, y = at(x_value, y_value)
            body.append(
                f'<circle cx="{x}" cy="{y}" r="5" fill="none" stroke="{color}" '
                f'stroke-width="2"><title>{escape(name)} (p95): {x_value:.2f}, {y_value:.3f}'
                "</title></circle>"
            )
        body += [
            f'<circle cx="{right + 20}" cy="{legend_y}" r="5" fill="{color}"/>',
            f'<text x="{right + 32}" y="{legend_y + 4}" style="{_FONT};font-size:12px" '
            f'fill="#1f2328">{escape(name)}</text>',
        ]
        legend_y += 20
    if hollow:
        body += [
            f'<circle cx="{right + 20}" cy="{legend_y}" r="5" fill="none" stroke="#57606a" '
            'stroke-width="2"/>',
            f'<text x="{right + 32}" y="{legend_y + 4}" style="{_FONT};font-size:12px" '
            'fill="#57606a">hollow: p95</text>',
        ]
    body += [
        f'<text x="{(left + right) // 2}" y="{bottom + 34}" text-anchor="middle" '
        f'style="{_FONT};font-size:12px" fill="#57606a">{escape(x_label)}</text>',
        f'<text x="16" y="{(top + bottom) // 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {(top + bottom) // 2})" style="{_FONT};font-size:12px" '
        f'fill="#57606a">{escape(y_label)}</text>',
    ]
    if note:
        body.append(
            f'<text x="{left}" y="{bottom + 54}" style="{_FONT};font-size:11px" '
            f'fill="#57606a">{escape(note)}</text>'
        )
    return _svg(bottom + 66, title, body)


def _overhead(data: Mapping[str, Any]) -> str:
    wall = {k: Stat.of(v) for k, v in data["wall_s"].items()}
    order = sorted(wall, key=lambda k: (k.split()[1] != "sync", k.split()[0] != "ours", k))
    bars = [(key, Stat.of([v * 1e6 for v in wall[key].values])) for key in order]
    return bar_chart(
        "Per-call overhead: one status call (lower is better)",
        "µs per call",
        bars,
        "bar: median, line: min-max over rounds",
    )


def _bulk(data: Mapping[str, Any]) -> str:
    rate = {k: Stat.of(v) for k, v in data["jobs_per_s"].items()}
    order = sorted(rate, key=lambda k: (k != "ours", k))
    return bar_chart(
        "Bulk submit throughput (higher is better)",
        "jobs per second",
        [(key, rate[key]) for key in order],
        "bar: median, line: min-max over rounds",
    )


def _wait(data: Mapping[str, Any]) -> str:
    names = {
        key: key.replace("fixed", "fixed polling, equal requests") for key in data["median_lag_s"]
    }
    requests = data["requests_per_job"]
    median = data["median_lag_s"]
    p95 = data["p95_lag_s"]
    return scatter_chart(
        "Waiting: lag against status requests per job (lower-left is better)",
        "status requests per job",
        "seconds from done to seen",
        {names[k]: list(zip(requests[k], median[k], strict=True)) for k in names},
        {names[k]: list(zip(requests[k], p95[k], strict=True)) for k in names},
        "one point per round: filled the median lag, hollow the 95th percentile",
    )


_DRAW = {"overhead": _overhead, "bulk": _bulk, "wait": _wait}


def write_figures(sections: Sequence[Mapping[str, Any]], out_dir: Path) -> dict[str, Path]:
    """Draw the figure of every section that has one (from `Section.to_json()`); key -> path."""
    written: dict[str, Path] = {}
    for section in sections:
        key = section["key"]
        if key not in _DRAW:
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / FIGURES[key]
        path.write_text(_DRAW[key](section["data"]), encoding="utf-8")
        written[key] = path
    return written
