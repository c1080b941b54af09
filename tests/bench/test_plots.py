"""bench/plots.py: the SVG figures drawn from the sections' numbers (no benchmark is run)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from bench import plots
from bench.stats import Stat

SVG = "{http://www.w3.org/2000/svg}"

SECTIONS: list[dict[str, Any]] = [
    {"key": "import", "data": {"peak_rss": {}}},
    {
        "key": "overhead",
        "data": {
            "wall_s": {
                "ours sync": [539e-6, 520e-6],
                "raw sync": [495e-6, 480e-6],
                "ours async": [657e-6, 640e-6],
                "raw async": [620e-6, 600e-6],
            }
        },
    },
    {"key": "bulk", "data": {"jobs_per_s": {"raw": [1290.0], "ours": [1241.0]}}},
    {
        "key": "wait",
        "data": {
            "requests_per_job": {"quiet ours": [1.6, 1.7], "quiet fixed": [3.4, 3.4]},
            "median_lag_s": {"quiet ours": [0.18, 0.17], "quiet fixed": [0.61, 0.6]},
            "p95_lag_s": {"quiet ours": [0.45, 0.4], "quiet fixed": [0.96, 0.95]},
        },
    },
]


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_a_figure_per_section_that_has_one_and_only_those(tmp_path: Path) -> None:
    written = plots.write_figures(SECTIONS, tmp_path / "img")
    assert set(written) == {"overhead", "bulk", "wait"}
    assert sorted(p.name for p in (tmp_path / "img").iterdir()) == sorted(plots.FIGURES.values())
    assert plots.write_figures(SECTIONS[:1], tmp_path / "none") == {}
    assert not (tmp_path / "none").exists()


def test_bars_are_proportional_to_the_medians_and_labelled(tmp_path: Path) -> None:
    path = plots.write_figures(SECTIONS, tmp_path)["overhead"]
    root = ET.parse(path).getroot()
    bars = {
        (r.findtext(f"{SVG}title") or "").split(":")[0]: float(r.attrib["width"])
        for r in root.iter(f"{SVG}rect")
        if r.find(f"{SVG}title") is not None
    }
    assert set(bars) == {"ours sync", "raw sync", "ours async", "raw async"}
    # Medians 529.5 and 487.5 µs: the bars keep that proportion.
    assert bars["ours sync"] / bars["raw sync"] == pytest.approx(529.5 / 487.5, rel=1e-3)
    texts = _texts(root)
    assert "ours sync" in texts and "530" in texts  # label and rounded median
    assert any("µs per call" in t for t in texts)


def test_wait_figure_has_one_point_per_round_and_a_p95_point(tmp_path: Path) -> None:
    root = ET.parse(plots.write_figures(SECTIONS, tmp_path)["wait"]).getroot()
    titled = [c.findtext(f"{SVG}title") or "" for c in root.iter(f"{SVG}circle")]
    points = [t for t in titled if t]
    assert len(points) == 8  # 2 strategies x 2 rounds x (median, p95)
    assert "quiet ours: 1.60, 0.180" in points
    assert "quiet fixed polling, equal requests (p95): 3.40, 0.960" in points


def test_same_numbers_give_the_same_bytes(tmp_path: Path) -> None:
    first = plots.write_figures(SECTIONS, tmp_path / "a")
    second = plots.write_figures(SECTIONS, tmp_path / "b")
    for key, path in first.items():
        assert path.read_bytes() == second[key].read_bytes()


def test_labels_are_escaped() -> None:
    svg = plots.bar_chart("a < b & c", "unit", [("<ours>", Stat.of([1.0]))])
    root = ET.fromstring(svg)
    assert "<ours>" in _texts(root)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 940.0, [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]),
        (0.0, 0.97, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0.0, 1290.0, [0.0, 500.0, 1000.0, 1500.0]),
        (0.0, 0.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    ],
)
def test_nice_ticks_cover_the_range_with_round_steps(
    low: float, high: float, expected: list[float]
) -> None:
    assert plots.nice_ticks(low, high) == pytest.approx(expected)


def test_nice_ticks_refuses_a_reversed_or_infinite_range() -> None:
    with pytest.raises(ValueError, match="finite low <= high"):
        plots.nice_ticks(2.0, 1.0)
    with pytest.raises(ValueError, match="finite low <= high"):
        plots.nice_ticks(0.0, float("inf"))


def test_the_report_embeds_each_figure_relative_to_itself(tmp_path: Path) -> None:
    from bench import run
    from bench.report import Section

    sections = [
        Section(key=s["key"], title=f"Title {s['key']}", intro="", data=s["data"]) for s in SECTIONS
    ]
    run._draw_figures(sections, tmp_path / "docs" / "img", tmp_path)
    by_key = {s.key: s.markdown() for s in sections}
    assert "![Title overhead](docs/img/bench-overhead.svg)" in by_key["overhead"]
    assert "![Title wait](docs/img/bench-wait.svg)" in by_key["wait"]
    assert "![" not in by_key["import"]
    assert (tmp_path / "docs" / "img" / "bench-bulk.svg").is_file()
