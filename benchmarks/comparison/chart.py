"""Draw a scenario's bar chart: ``python chart.py RESULT.json OUT.png`` (needs matplotlib).

Run with the ``plot`` environment's interpreter, so that the comparison itself
needs nothing beyond the standard library. One horizontal bar per runner (one
panel per suite size): the median wall time, whiskers from min to max, on a
log scale since runners differ by orders of magnitude. Bars of runners that
failed or crashed are hatched and labelled, estimated ones are drawn lighter.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

COLOURS = {"ours": "#1f77b4", "other": "#8c8c8c", "broken": "#d62728"}


def draw(data: dict[str, Any], out: Path) -> None:
    variants = data["variants"]
    rows_max = max(len([r for r in v["rows"] if r["median"] is not None]) for v in variants)
    figure, axes = plt.subplots(
        len(variants),
        1,
        figsize=(9, 0.45 * rows_max * len(variants) + 1.4),
        squeeze=False,
    )
    for axis, variant in zip(axes[:, 0], variants, strict=True):
        _panel(axis, variant)
    figure.suptitle(data["title"], fontsize=11)
    figure.tight_layout()
    figure.savefig(out, dpi=110)


def _minor_label(value: float, _: object) -> str:
    """Label 2 and 5 between the powers of ten: enough to read a narrow axis."""
    return f"{value:g}" if f"{value:.0e}"[0] in "25" else ""


def _panel(axis: Any, variant: dict[str, Any]) -> None:
    rows = [r for r in variant["rows"] if r["median"] is not None]
    labels = [r["runner"] for r in rows]
    medians = [r["median"] for r in rows]
    low = [r["median"] - r["min"] for r in rows]
    high = [r["max"] - r["median"] for r in rows]
    positions = range(len(rows))
    for y, row in zip(positions, rows, strict=True):
        broken = row["status"] != "ok"
        colour = COLOURS["ours"] if row["ours"] else COLOURS["broken" if broken else "other"]
        axis.barh(
            y,
            row["median"],
            color=colour,
            alpha=0.45 if row["estimated"] else 0.9,
            hatch="//" if broken else None,
            edgecolor="black",
            linewidth=0.4,
        )
        text = f" {row['median']:.1f} s"
        if row["estimated"]:
            text = f" ~{row['median']:.1f} s (estimated)"
        if broken:
            text += f" - {row['status']}"
        axis.text(row["max"] * 1.04, y, text, va="center", fontsize=8)
    axis.errorbar(medians, list(positions), xerr=[low, high], fmt="none", ecolor="black", lw=0.8)
    axis.set_yticks(list(positions), labels, fontsize=8)
    axis.invert_yaxis()
    axis.set_xscale("log")
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.xaxis.set_minor_formatter(FuncFormatter(_minor_label))
    axis.set_xlim(min(medians) * 0.5, max(r["max"] for r in rows) * 4)
    axis.set_xlabel("wall time of the whole pytest command (s, log scale)", fontsize=8)
    axis.set_title(variant["label"], fontsize=9)
    axis.grid(axis="x", which="both", alpha=0.3)


def main() -> None:
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    draw(json.loads(source.read_text()), out)


if __name__ == "__main__":
    main()
