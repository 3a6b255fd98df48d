"""Figures of sweep results: layer curves, reliability diagram, ROC, confusion matrix, data-efficiency curve.

Figures are plain ``matplotlib.figure.Figure`` objects (no pyplot state, no display needed); `export_figures`
writes each one to its own file for papers, `svg_markup` turns one into inline SVG for the HTML report.

Example:
    >>> from probewise.report.figures import roc_points
    >>> fpr, tpr = roc_points([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
"""

from __future__ import annotations

import io
import math
import re
import zlib
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from probewise.errors import ConfigError
from probewise.metrics import ece, reliability_curve, tpr_at_fpr
from probewise.metrics.classification import binary_clf_curve
from probewise.report import FIGURE_FORMATS
from probewise.report.compare import metric_value, model_labels, pick_probe
from probewise.sweeps.results import SweepResult

__all__ = ["FIGURE_FORMATS", "export_figures", "few_shot_points", "probe_color", "roc_points", "svg_markup",
           "task_figures"]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
KNOWN_PROBES = ("logistic", "ridge", "meandiff", "mlp", "attention", "knn", "moment", "multimax")
STYLE = {
    "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9,
    "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "grid.linewidth": 0.6,
    "axes.edgecolor": "#555555", "legend.frameon": True, "legend.framealpha": 0.85,
    "legend.edgecolor": "none", "svg.fonttype": "path", "svg.hashsalt": "probewise",
}
_SIZE_KEYS = {"n_per_class": "training examples per class", "shots": "shots per class", "k": "shots per class",
              "n_train": "training examples", "train_size": "training examples", "n": "training examples",
              "size": "training examples"}


def probe_color(probe: str) -> str:
    """A fixed colour per probe family, the same in every figure."""
    if probe in KNOWN_PROBES:
        return PALETTE[KNOWN_PROBES.index(probe) % len(PALETTE)]
    return PALETTE[zlib.crc32(probe.encode()) % len(PALETTE)]


def _est(x: object, metric: str) -> tuple[float, float, float] | None:
    """(value, low, high) from a float, an estimate dict, or a dict of metrics holding `metric`."""
    if isinstance(x, dict) and metric in x:
        x = x[metric]
    v = metric_value(x)
    if v is None:
        return None
    lo = metric_value(x.get("low")) if isinstance(x, dict) else None
    hi = metric_value(x.get("high")) if isinstance(x, dict) else None
    return v, math.nan if lo is None else lo, math.nan if hi is None else hi


def _g(v: object) -> str:
    return f"{v:g}" if isinstance(v, int | float) else str(v)


def control_value(row: dict, metric: str) -> float | None:
    """The control-task score of a per-layer or selected row (``row["control"]``), if any."""
    e = _est(row.get("control"), metric) if row.get("control") is not None else None
    return None if e is None else e[0]


def chance_level(result: SweepResult, metric: str) -> float | None:
    k = len(result.store.get("classes") or []) or 2
    return {"accuracy": 1.0 / k, "balanced_accuracy": 1.0 / k, "auroc": 0.5}.get(metric)


def _title(result: SweepResult) -> str:
    return f"{result.store.get('dataset', '?')} · {result.store.get('model', '?')}"


def layer_rows(result: SweepResult, probe: str) -> list[dict]:
    """The per-layer rows of `probe`, single layers only (combined layers like ``4+5`` are left out)."""
    return [r for r in result.per_layer if r.get("probe") == probe and "+" not in str(r.get("layer"))]


def layer_figure(result: SweepResult, metric: str = "accuracy") -> Figure:
    """Test `metric` vs layer, one colour per probe family: test line with its 95% CI band, val line (dashed),
    control-task line (dotted) when present, the layer chosen on val starred, chance in grey."""
    fig = Figure(figsize=(7.6, 3.2))
    ax = fig.add_subplot()
    handles, has_control, labels = [], False, []
    for probe, sel in result.selected.items():
        rows = layer_rows(result, probe)
        if not rows:
            continue
        labels = [str(r["layer"]) for r in rows]
        numeric = all(re.fullmatch(r"-?\d+", s) for s in labels)
        xs = np.array([int(s) for s in labels] if numeric else range(len(labels)), dtype=float)
        est = [(_est(r.get("test", {}), metric) or (math.nan,) * 3) for r in rows]
        v, lo, hi = (np.array(a, dtype=float) for a in zip(*est, strict=True))
        c = probe_color(probe)
        ax.fill_between(xs, lo, hi, color=c, alpha=0.15 if len(result.selected) == 1 else 0.09, linewidth=0)
        ax.plot(xs, v, "-o", color=c, markersize=3.5, linewidth=1.7)
        val = [metric_value(r.get("val", {}).get(metric)) for r in rows]
        if any(x is not None for x in val):
            ax.plot(xs, [math.nan if x is None else x for x in val], "--", color=c, linewidth=1.1, alpha=0.8)
        ctrl = [control_value(r, metric) for r in rows]
        if any(x is not None for x in ctrl):
            has_control = True
            ax.plot(xs, [math.nan if x is None else x for x in ctrl], ":", color=c, linewidth=1.5)
        if str(sel.get("layer")) in labels:
            i = labels.index(str(sel["layer"]))
            ax.plot(xs[i], v[i], "*", markersize=14, color=c, markeredgecolor="black", markeredgewidth=0.7,
                    zorder=5)
        handles.append(Line2D([], [], color=c, linewidth=2.5,
                              label=f"{probe}: layer {sel.get('layer')}, {sel.get('param')}={_g(sel.get('value'))}"))
        if numeric and len(xs) <= 16:
            ax.set_xticks(xs)
        elif not numeric:
            ax.set_xticks(xs, labels, rotation=90 if len(labels) > 8 else 0)
    grey = "#444444"
    handles += [Line2D([], [], color=grey, marker="o", markersize=3.5, label="test (band: 95% CI)"),
                Line2D([], [], color=grey, linestyle="--", label="validation")]
    if has_control:
        handles.append(Line2D([], [], color=grey, linestyle=":", linewidth=1.5, label="control task"))
    handles.append(Line2D([], [], color=grey, marker="*", markersize=11, linestyle="none",
                          markeredgecolor="black", label="chosen on validation"))
    base = getattr(result, "baselines", None) or {}
    maj = _est((base.get("majority") or {}).get("test", {}), metric)
    if maj is not None:
        ax.axhline(maj[0], color="#777777", linewidth=1.0, linestyle="-.", zorder=0)
        handles.append(Line2D([], [], color="#777777", linestyle="-.", label=f"majority class ({maj[0]:.2f})"))
    rd = [(str(k).partition("@")[2], _est(b.get("test", {}), metric)) for k, b in base.items()
          if str(k).startswith("random_direction@") and isinstance(b, dict)]
    rd = [(lay, e[0]) for lay, e in rd if e is not None and lay in labels]
    if rd:
        pos = dict(zip(labels, xs, strict=True))
        ax.plot([pos[lay] for lay, _ in rd], [v for _, v in rd], "X", color="#555555", markersize=7, zorder=4)
        handles.append(Line2D([], [], color="#555555", marker="X", linestyle="none", markersize=7,
                              label="random direction"))
    ch = chance_level(result, metric)
    if ch is not None:
        ax.axhline(ch, color="#aaaaaa", linewidth=0.9, zorder=0)
        handles.append(Line2D([], [], color="#aaaaaa", label=f"chance ({ch:.2g})"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
              title="probe (chosen on val)", title_fontsize=8, alignment="left")
    ax.set_xlabel("layer")
    ax.set_ylabel(f"{metric}")
    ax.set_title(_title(result), loc="left")
    return fig


def _predictions(result: SweepResult, probe: str) -> tuple[np.ndarray, np.ndarray] | None:
    tp = result.selected[probe].get("test_predictions") or {}
    try:
        y = np.asarray(tp["y"], dtype=np.int64)
        p = np.asarray(tp["probs"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return None
    if p.ndim != 2 or p.shape[0] != y.shape[0] or p.shape[0] == 0 or p.shape[1] < 2:
        return None
    return y, p


def _sub(result: SweepResult, probe: str) -> str:
    sel = result.selected[probe]
    return f"{probe}, layer {sel.get('layer')}"


def reliability_figure(result: SweepResult, probe: str, n_bins: int = 10) -> Figure | None:
    """Reliability diagram of the top-label confidence on test, with the count per bin below it."""
    pred = _predictions(result, probe)
    if pred is None:
        return None
    y, p = pred
    prob = p[:, 1] if p.shape[1] == 2 else p
    curve = reliability_curve(y, prob, n_bins=n_bins)
    e = ece(y, prob, n_bins=n_bins)
    fig = Figure(figsize=(3.7, 3.9))
    gs = fig.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.1)
    ax = fig.add_subplot(gs[0])
    axh = fig.add_subplot(gs[1], sharex=ax)
    left, width, ok = curve.edges[:-1], np.diff(curve.edges), curve.count > 0
    c = probe_color(probe)
    ax.bar(left[ok], curve.accuracy[ok], width=width[ok], align="edge", color=c, alpha=0.7, edgecolor="white")
    ax.plot([0, 1], [0, 1], "--", color="#666666", linewidth=0.9)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("fraction correct")
    ax.tick_params(labelbottom=False)
    ax.set_title(f"Calibration · {_sub(result, probe)}\nECE {e:.3f} ({n_bins} bins) · dashed: calibrated", loc="left")
    axh.bar(left, curve.count, width=width, align="edge", color="#9a9a9a", edgecolor="white")
    axh.set_ylabel("count")
    axh.set_xlabel("top-label confidence")
    k = p.shape[1]
    lo = curve.edges[max(0, int(np.searchsorted(curve.edges, 1.0 / k, side="right")) - 1)]
    ax.set_xlim(lo, 1.0)
    return fig


def roc_points(y_true: Sequence[int], score: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """ROC curve (fpr, tpr) of binary labels and scores, starting at (0, 0)."""
    y = np.asarray(y_true).astype(np.int64)
    fps, tps, _ = binary_clf_curve(y, np.asarray(score, dtype=np.float64))
    return np.r_[0.0, fps / max(1, (y == 0).sum())], np.r_[0.0, tps / max(1, y.sum())]


def roc_figure(result: SweepResult, probe: str) -> Figure | None:
    """ROC on test with a log-scale FPR axis, so the low-FPR region is visible. Binary: the positive class
    (``classes[1]``); multiclass: micro-average over one-vs-rest problems."""
    pred = _predictions(result, probe)
    if pred is None:
        return None
    y, p = pred
    k = p.shape[1]
    classes = result.store.get("classes") or [str(i) for i in range(k)]
    if k == 2:
        yy, s, what = (y == 1).astype(np.int64), p[:, 1], f"positive class: {classes[1]}"
    else:
        yy, s, what = np.eye(k, dtype=np.int64)[y].ravel(), p.ravel(), f"micro-avg one-vs-rest, {k} classes"
    n_neg, n_pos = int((yy == 0).sum()), int(yy.sum())
    if n_neg == 0 or n_pos == 0:
        return None
    fpr, tpr = roc_points(yy, s)
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    xmin = min(10.0 ** math.floor(math.log10(0.5 / n_neg)), 1e-2)
    fig = Figure(figsize=(3.7, 3.4))
    ax = fig.add_subplot()
    ax.axvspan(xmin, 1.0 / n_neg, color="#ececec", linewidth=0, label=f"FPR < 1/{n_neg}: not resolved")
    grid = np.logspace(math.log10(xmin), 0, 100)
    ax.plot(grid, grid, "--", color="#888888", linewidth=0.9, label="chance")
    c = probe_color(probe)
    ax.plot(np.maximum(fpr, xmin), tpr, color=c, linewidth=1.8, label=f"AUROC {auc:.3f}")
    if n_neg >= 100:
        t = tpr_at_fpr(yy, s, 0.01)
        ax.plot([0.01], [t], "o", color=c, markeredgecolor="black", markersize=5, label=f"TPR at 1% FPR {t:.3f}")
    ax.set_xscale("log")
    ax.set_xlim(xmin, 1.0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false positive rate (log scale)")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), fontsize=7.5)
    ax.set_title(f"ROC · {_sub(result, probe)}\n{what}", loc="left")
    return fig


def confusion_figure(result: SweepResult, probe: str) -> Figure | None:
    """Confusion matrix on test (rows: true class, colour: fraction of the row), binary tasks included."""
    pred = _predictions(result, probe)
    if pred is None:
        return None
    y, p = pred
    k = p.shape[1]
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y, p.argmax(1)), 1)
    frac = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    names = [str(c)[:14] for c in (result.store.get("classes") or range(k))]
    fig = Figure(figsize=(max(3.1, 0.45 * k + 1.9), max(3.1, 0.42 * k + 1.9)))
    ax = fig.add_subplot()
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    ax.grid(False)
    if k <= 25:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8 if k <= 10 else 6,
                        color="white" if frac[i, j] > 0.55 else "#222222")
    long = max(len(n) for n in names) > 4
    ax.set_xticks(range(k), names, rotation=35 if long else 0, ha="right" if long else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    ax.set_title(f"Confusion · {_sub(result, probe)}\ntest, n={len(y)}", loc="left")
    return fig


def few_shot_points(curve: object, metric: str = "accuracy") -> tuple[str, list[tuple[float, ...]]] | None:
    """(x label, [(size, value, low, high), ...]) from a few-shot curve, or None if it cannot be read.

    Accepted: a list of rows holding a size key (``n_per_class``, ``shots``, ``k``, ``n_train``, ``train_size``,
    ``n``, ``size``) and the metric (``row["test"][metric]``, ``row[metric]`` or ``row["value"]``, each a float or
    an estimate dict); a ``{size: metric}`` mapping; or a dict holding such a list under ``points``/``curve``.

    Example:
        >>> few_shot_points([{"shots": 4, "test": {"accuracy": 0.6}}, {"shots": 16, "test": {"accuracy": 0.8}}])
        ('shots per class', [(4.0, 0.6, nan, nan), (16.0, 0.8, nan, nan)])
    """
    if isinstance(curve, dict):
        for key in ("points", "curve"):
            if isinstance(curve.get(key), list):
                return few_shot_points(curve[key], metric)
        try:
            rows = [{"n": float(k), "value": v} for k, v in curve.items()]
        except (TypeError, ValueError):
            return None
        return few_shot_points(rows, metric)
    if not isinstance(curve, list):
        return None
    pts, label = [], None
    for row in curve:
        if not isinstance(row, dict):
            return None
        key = next((k for k in _SIZE_KEYS if metric_value(row.get(k)) is not None), None)
        src = row.get("test", row)
        e = _est(src, metric) if isinstance(src, dict) and metric in src else _est(row.get("value"), metric)
        if key is None or e is None:
            return None
        label = label or _SIZE_KEYS[key]
        pts.append((float(row[key]), *e))
    return (label, sorted(pts)) if pts else None


def few_shot_figure(result: SweepResult, metric: str = "accuracy") -> Figure | None:
    """Data-efficiency curves (test `metric` vs training size), one line per probe, when the results carry them."""
    extra = getattr(result, "few_shot", None)
    curves = {}
    for probe, sel in result.selected.items():
        raw = sel.get("few_shot")
        if raw is None and isinstance(extra, dict):
            raw = extra.get(probe)
        parsed = few_shot_points(raw, metric) if raw is not None else None
        if parsed:
            curves[probe] = parsed
    if not curves:
        return None
    fig = Figure(figsize=(3.7, 3.9))
    ax = fig.add_subplot()
    sizes = []
    for probe, (xlabel, pts) in curves.items():
        x, v, lo, hi = (np.array(a, dtype=float) for a in zip(*pts, strict=True))
        c = probe_color(probe)
        ax.fill_between(x, lo, hi, color=c, alpha=0.15, linewidth=0)
        ax.plot(x, v, "-o", color=c, markersize=3.5, label=probe)
        ax.set_xlabel(xlabel)
        sizes += list(x)
    if min(sizes) > 0 and max(sizes) / min(sizes) >= 8:
        ax.set_xscale("log")
    ch = chance_level(result, metric)
    if ch is not None:
        ax.axhline(ch, color="#999999", linewidth=0.9, zorder=0, label="chance")
    ax.set_ylabel(f"test {metric}")
    ax.legend(loc="best")
    ax.set_title(f"Data efficiency · {result.store.get('dataset', '?')}", loc="left")
    return fig


def task_figures(result: SweepResult, metric: str = "accuracy", probe: str | None = None) -> dict[str, Figure]:
    """Every figure of one result, by name: ``layers``, ``reliability``, ``roc``, ``confusion``, ``few_shot``
    (those without data left out). Prediction plots are of `probe` (default: the family best on val)."""
    with matplotlib.rc_context(STYLE):
        p = pick_probe(result, probe)
        figs = {"layers": layer_figure(result, metric), "reliability": reliability_figure(result, p),
                "roc": roc_figure(result, p), "confusion": confusion_figure(result, p),
                "few_shot": few_shot_figure(result, metric)}
    return {k: f for k, f in figs.items() if f is not None}


def svg_markup(fig: Figure, prefix: str, label: str = "") -> str:
    """Inline ``<svg>`` markup of `fig`: no XML header or metadata, ids prefixed so many can share one page."""
    buf = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    s = buf.getvalue()
    s = s[s.index("<svg"):]
    s = re.sub(r"<metadata>.*?</metadata>\s*", "", s, flags=re.S)
    s = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', s)
    s = re.sub(r'(href=")#([^"]+)"', lambda m: f'{m.group(1)}#{prefix}-{m.group(2)}"', s)
    s = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", s)
    return s.replace("<svg ", f'<svg role="img" aria-label="{label or prefix}" ', 1)


def result_slugs(results: Sequence[SweepResult]) -> list[str]:
    """A file-name-safe, unique name per result: the task, plus the model where tasks repeat."""
    labels = model_labels(list(results))
    tasks = [str(r.store.get("dataset") or "results") for r in results]
    names = [t if tasks.count(t) == 1 else f"{t}__{m}" for t, m in zip(tasks, labels, strict=True)]
    slugs: list[str] = []
    for n in names:
        s = re.sub(r"[^A-Za-z0-9._-]+", "-", n).strip("-") or "results"
        slugs.append(s if s not in slugs else f"{s}-{len(slugs)}")
    return slugs


def export_figures(results: Sequence[SweepResult], outdir: str | Path, fmt: str = "png", *,
                   metric: str = "accuracy", dpi: int = 200) -> list[Path]:
    """Write each plot of each result to its own file, ``<outdir>/<task>_<plot>.<fmt>``; returns the paths.

    `fmt`: png (at `dpi`), svg or pdf. Plots: layers, reliability, roc, confusion, few_shot (when
    the results have few-shot curves).
    """
    if fmt not in FIGURE_FORMATS:
        raise ConfigError(f"figure format {fmt!r}: choose one of {', '.join(FIGURE_FORMATS)}.")
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for res, slug in zip(results, result_slugs(results), strict=True):
        for name, fig in task_figures(res, metric).items():
            path = out / f"{slug}_{name}.{fmt}"
            with matplotlib.rc_context(STYLE):
                fig.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight",
                            metadata={"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt))
            written.append(path)
    return written
