"""Stacked-bar charts of the latency breakdown (median ms per stage), one bar per configuration.

    python benchmarks/plot.py benchmarks/results/latency.json benchmarks/results/compare.json

redraws ``latency.png`` / ``compare.png`` beside each JSON file written by ``latency.py`` or
``compare.py`` (the scripts also draw them when they finish).  Needs matplotlib.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

# drawn stages, bottom to top (postprocess is ~0 ms and is left out; total is the bar's height)
PARTS = ("load", "preprocess", "inference", "fusion", "decode")
COLORS = ("#8c8c8c", "#4c72b0", "#dd8452", "#55a868", "#c44e52")

Bar = Tuple[str, Mapping[str, float]]  # label, {stage: median ms}


def stacked_bars(bars: Sequence[Bar], path: Path, title: str,
                 groups: Optional[Sequence[Tuple[str, int]]] = None) -> Path:
    """Draw horizontal stacked bars (seconds), write a PNG to ``path``.

    Args:
        bars: (label, {stage: median ms}) in display order, top to bottom.
        groups: optional (caption, number of bars) to separate consecutive bars with a gap.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    positions: List[float] = []
    y = 0.0
    sizes = [n for _, n in groups] if groups else [len(bars)]
    for size in sizes:
        for _ in range(size):
            positions.append(y)
            y += 1.0
        y += 0.6
    height = max(2.5, 0.42 * y + 1.2)
    fig, ax = plt.subplots(figsize=(10, height))
    for part, color in zip(PARTS, COLORS):
        lefts = [sum(ms.get(p, 0.0) for p in PARTS[:PARTS.index(part)]) / 1e3 for _, ms in bars]
        widths = [ms.get(part, 0.0) / 1e3 for _, ms in bars]
        ax.barh(positions, widths, left=lefts, color=color, label=part, height=0.8)
    for pos, (_, ms) in zip(positions, bars):
        total = ms.get("total", sum(ms.get(p, 0.0) for p in PARTS))
        ax.text(sum(ms.get(p, 0.0) for p in PARTS) / 1e3, pos, f"  {total / 1e3:.2f} s",
                va="center", fontsize=8)
    ax.set_yticks(positions)
    ax.set_yticklabels([label for label, _ in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("median latency per image (s)")
    ax.set_title(title, fontsize=10, pad=22)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, ncol=len(PARTS),
              frameon=False)
    ax.margins(x=0.12)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def medians(stages: Mapping[str, Mapping[str, float]]) -> Dict[str, float]:
    """{stage: median ms} from a result's ``stages`` block."""
    return {name: float(s["median_ms"]) for name, s in stages.items()}


def plot_latency(result: Mapping, path: Path) -> Path:
    """Bars of ``latency.py``'s rows (one per architecture and image size)."""
    bars = [(f"{r['config']['arch']} {r['config']['precision']} "
             f"{r['config']['image_size'][0]}x{r['config']['image_size'][1]}",
             medians(r["stages"])) for r in result["rows"]]
    meta = result.get("meta", {})
    title = (f"swahr-infer latency by stage (random weights, flip "
             f"{'on' if result['rows'][0]['config']['flip'] else 'off'}, "
             f"{meta.get('threads', '?')} threads) - {_machine(meta)}")
    return stacked_bars(bars, path, title)


def plot_compare(result: Mapping, path: Path) -> Path:
    """Two bars per measured pair of ``compare.py``."""
    bars: List[Bar] = []
    groups: List[Tuple[str, int]] = []
    for row in result["rows"]:
        if "skipped" in row:
            continue
        bars.append((f"{row['pair']}: {row['a']}", medians(row["a_ms"])))
        bars.append((f"{row['pair']}: {row['b']}", medians(row["b_ms"])))
        groups.append((row["pair"], 2))
    meta = result.get("meta", {})
    title = (f"side by side, {meta.get('arch', '')} on {meta.get('image_size', '')} - "
             f"{_machine(meta)}")
    return stacked_bars(bars, path, title, groups)


def _machine(meta: Mapping) -> str:
    """'2-core x86_64, load 4.3-7.8' from a result's meta block."""
    text = f"{meta.get('cpu_count', '?')}-core {meta.get('processor', '')}"
    loads = [v[0] for v in (meta.get("loadavg_at_start"), meta.get("loadavg")) if v]
    if loads:
        text += f", load {min(loads):.1f}-{max(loads):.1f}" if len(set(loads)) > 1 else \
            f", load {loads[0]:.1f}"
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, nargs="+", help="latency.json / compare.json")
    args = parser.parse_args(argv)
    for path in args.results:
        result = json.loads(path.read_text())
        draw = plot_compare if result.get("kind") == "compare" else plot_latency
        print(f"wrote {draw(result, path.with_suffix('.png'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
