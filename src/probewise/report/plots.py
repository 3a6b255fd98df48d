"""Plots of sweep results (matplotlib, headless).

Example:
    >>> # plot_layer_curves([result_a, result_b], "layers.png")
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from probewise.sweeps.results import SweepResult


def plot_layer_curves(results: Sequence[SweepResult], path: str | Path, metric: str = "accuracy",
                      probe: str | None = None) -> Path:
    """One panel per result: val and test `metric` vs layer (test with its CI band); the val-selected layer marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(results)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False, sharey=True)
    for ax, res in zip(axes.flat, results, strict=False):
        p = probe or next(iter(res.selected))
        layer_rows = [r for r in res.per_layer if r["probe"] == p and "+" not in r["layer"]]
        xs = [int(r["layer"]) if r["layer"].lstrip("-").isdigit() else i for i, r in enumerate(layer_rows)]
        val = [r["val"][metric] for r in layer_rows]
        test, lo, hi = ([math.nan if r["test"][metric][key] is None else r["test"][metric][key] for r in layer_rows]
                        for key in ("value", "low", "high"))  # None: undefined on the test split
        ax.fill_between(xs, lo, hi, alpha=0.2, color="C0", linewidth=0)
        ax.plot(xs, test, "o-", color="C0", label="test (95% CI)")
        ax.plot(xs, val, "s--", color="C1", label="val", markersize=4)
        sel = res.selected[p]["layer"]
        if sel in [r["layer"] for r in layer_rows]:
            ax.axvline(xs[[r["layer"] for r in layer_rows].index(sel)], color="grey", linestyle=":", linewidth=1)
        k = len(res.store.get("classes", [])) or 2
        ax.axhline(1.0 / k, color="grey", linewidth=0.8)
        ax.set_title(res.store.get("dataset", ""), fontsize=10)
        ax.set_xlabel("layer")
        ax.set_xticks(xs)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes[0][0].set_ylabel(metric)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{probe or 'probe'} {metric} by layer · dotted line: layer chosen on val · grey line: chance",
                 fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
