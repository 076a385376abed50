"""The PNG bar chart: one panel per metric, one bar per contender, targets drawn as lines."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from .report import ROW_ORDER, columns
from .targets import Medians

COLORS = {"flash": "#e4572e", "dash-quart": "#4c72b0", "dash45": "#8172b2", "dash-flask": "#55a868", "raw": "#999999"}
# Absolute target lines; relative targets (x Dash quart) are in the table instead.
LINES = {("W3", "total_ms"): 250.0, ("W4", "msg_s"): 20000.0, ("W5", "kb_per_stream"): 20.0, ("W5", "heartbeat_pct"): 99.0}


def _charted(workloads: list[ModuleType], name: str, key: str) -> bool:
    """A workload with a `CHART` list (W12: 9 figures x 3 set-ups) gets panels for those figures only."""
    chart = next((getattr(w, "CHART", None) for w in workloads if w.NAME == name), None)
    return chart is None or key.removeprefix("bus_").rsplit("_", 1)[0] in chart


def draw(medians: Medians, workloads: list[ModuleType], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(w, m) for w, m in columns(workloads) if medians.get(w, {}).get(m.key) and _charted(workloads, w, m.key)]
    if not panels:
        return
    ncols = 3
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 3.6 * nrows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, (workload, metric) in zip(axes.flat, panels, strict=False):
        values = medians[workload][metric.key]
        names = [c for c in ROW_ORDER if c in values]
        bars = ax.barh(names, [values[c] for c in names], color=[COLORS[c.split("/")[0]] for c in names])
        ax.bar_label(
            bars, labels=[f"{values[c]:,.0f}" if values[c] >= 100 else f"{values[c]:.1f}" for c in names], fontsize=7, padding=2
        )
        ax.invert_yaxis()
        better = "higher" if metric.higher_is_better else "lower"
        ax.set_title(f"{workload} {metric.label} ({metric.unit}, {better} is better)", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.margins(x=0.2)
        line = LINES.get((workload, metric.key))
        if line is not None:
            ax.axvline(line, color="black", linestyle="--", linewidth=1)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))  # room for the title
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
