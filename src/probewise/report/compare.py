"""Models × tasks leaderboards from sweep results, as HTML, Markdown and LaTeX (booktabs).

Each cell is the test metric of the probe chosen on validation (probe family, layer and hyperparameter all
chosen on val), with the half-width of its 95% bootstrap interval; the best model of each column is bold.

Example:
    >>> from probewise.report.compare import Cell, Leaderboard
    >>> lb = Leaderboard("accuracy", ["bert", "gpt2"], ["negation", "tense"], {
    ...     ("bert", "negation"): Cell(0.9, 0.85, 0.95), ("gpt2", "negation"): Cell(0.8, 0.7, 0.9),
    ...     ("bert", "tense"): Cell(0.7, 0.6, 0.8), ("gpt2", "tense"): Cell(0.75, 0.7, 0.8)})
    >>> print(lb.to_markdown(caption=False))
    | model | negation | tense | mean |
    | :--- | ---: | ---: | ---: |
    | bert | **0.900 ± 0.050** | 0.700 ± 0.100 | **0.800** |
    | gpt2 | 0.800 ± 0.100 | **0.750 ± 0.050** | 0.775 |
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from probewise.errors import ConfigError, DataError
from probewise.metrics import get_metric
from probewise.sweeps.results import FORMAT, SweepResult

__all__ = ["Cell", "Leaderboard", "leaderboard", "load_results", "metric_value", "model_labels", "pick_probe"]


def metric_value(x: object) -> float | None:
    """A number from a metric entry: a float, or a dict with a ``value`` (an interval estimate); else None.

    Example:
        >>> metric_value({"value": 0.8, "low": 0.7, "high": 0.9}), metric_value(0.5), metric_value(None)
        (0.8, 0.5, None)
    """
    if isinstance(x, dict):
        x = x.get("value")
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x)


def load_results(paths: Iterable[str | Path]) -> list[SweepResult]:
    """Load result JSON files, or every probewise results JSON found (recursively) in folders.

    A file named explicitly must be a probewise results file; inside folders, other JSON files (store
    manifests, summaries) are skipped. Errors of a results file (older or newer schema) are raised as is.
    """
    found: list[Path] = []
    paths = [Path(p) for p in paths]
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*.json")):
                try:
                    head = f.read_text(errors="replace")
                except OSError:
                    continue
                if f'"{FORMAT}"' in head:
                    found.append(f)
        elif p.exists():
            found.append(p)
        else:
            raise DataError(f"{p} does not exist; give result JSON files or folders holding them.")
    if not found:
        where = ", ".join(str(p) for p in paths) or "(no path given)"
        raise DataError(f"no probewise results found in {where}: looked for *.json files of format {FORMAT!r}. "
                        "Run `probewise sweep` (or `probewise demo`) first, and point at its results.")
    return [SweepResult.load(f) for f in dict.fromkeys(found)]


def pick_probe(result: SweepResult, probe: str | None = None) -> str:
    """The probe family to report: `probe` if given, else the one with the best validation score (never test)."""
    if not result.selected:
        raise DataError(f"results for {result.store.get('dataset')!r} have no selected probe.")
    if probe is not None:
        if probe not in result.selected:
            raise ConfigError(f"probe {probe!r} is not in the results for {result.store.get('dataset')!r} "
                              f"(probes: {', '.join(result.selected)}).")
        return probe

    def key(item):
        name, sel = item
        m = sel.get("select_metric", "accuracy")
        v = metric_value(sel.get("val", {}).get(m))
        try:
            sign = 1.0 if get_metric(m).greater_is_better else -1.0
        except ConfigError:
            sign = 1.0
        return -sign * v if v is not None and math.isfinite(v) else math.inf

    return min(result.selected.items(), key=key)[0]


def model_labels(results: list[SweepResult]) -> list[str]:
    """A readable model name per result; the pooling or a short fingerprint is added where names collide."""
    keys = [(r.store.get("model") or "?", r.store.get("model_fingerprint"), r.store.get("pooling")) for r in results]
    labels = []
    for name, fp, pool in keys:
        rivals = {k for k in keys if k[0] == name}
        label = name
        if len({k[2] for k in rivals}) > 1:
            label += f" ({pool})"
        if len({k[1] for k in rivals}) > 1:
            label += f" @{str(fp)[:8]}"
        labels.append(label)
    return labels


@dataclass(frozen=True)
class Cell:
    """One leaderboard entry: the test metric with its interval, and what was chosen on val to get it."""

    value: float
    low: float = math.nan
    high: float = math.nan
    n: int | None = None
    probe: str = ""
    layer: str = ""

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}f}" if math.isfinite(x) else "n/a"


def _latex_escape(s: str) -> str:
    table = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
             "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(table.get(c, c) for c in s)


@dataclass
class Leaderboard:
    """Rows = models, columns = tasks (+ mean over tasks). Render with `to_markdown`, `to_latex`, `to_html`.

    `mixed` lists tasks whose results come from different datasets (allowed with ``allow_mixed``); they are
    marked with a dagger. The mean is over all tasks, and left empty for a model missing a task.
    """

    metric: str
    models: list[str]
    tasks: list[str]
    cells: dict[tuple[str, str], Cell]
    greater_is_better: bool = True
    digits: int = 3
    mixed: list[str] = field(default_factory=list)

    def mean(self, model: str) -> float | None:
        vals = [self.cells[(model, t)].value for t in self.tasks if (model, t) in self.cells]
        return sum(vals) / len(vals) if vals and len(vals) == len(self.tasks) else None

    def _best(self, values: dict[str, float | None]) -> set[str]:
        shown = {m: round(v, self.digits) for m, v in values.items() if v is not None and math.isfinite(v)}
        if not shown:
            return set()
        top = max(shown.values()) if self.greater_is_better else min(shown.values())
        return {m for m, v in shown.items() if v == top}

    def best(self, task: str) -> set[str]:
        """Models whose displayed value is the best of the column (ties all bold); ``"mean"`` for the mean."""
        if task == "mean":
            return self._best({m: self.mean(m) for m in self.models})
        return self._best({m: c.value for (m, t), c in self.cells.items() if t == task})

    def _task_name(self, t: str) -> str:
        return t + ("†" if t in self.mixed else "")

    def caption(self, ascii_only: bool = False) -> str:
        pm, dagger = ("+/-", "dagger") if ascii_only else ("±", "†")
        text = (f"Test {self.metric} of the probe chosen on validation (family, layer, hyperparameter); "
                f"{pm} half-width of the 95% bootstrap CI; bold: best per column.")
        if self.mixed:
            text += f" {dagger}: results from different datasets (not comparable)."
        return text

    def _cell_text(self, c: Cell | None, bold: bool, style: str) -> str:
        """`style`: md (whole cell bold), tex or html (the value bold, the ± after it)."""
        if c is None:
            return "—"
        value = _fmt(c.value, self.digits)
        pm = "" if not math.isfinite(c.half_width) else _fmt(c.half_width, self.digits)
        if style == "md":
            txt = f"{value} ± {pm}" if pm else value
            return f"**{txt}**" if bold else txt
        if style == "tex":
            value = rf"\textbf{{{value}}}" if bold else value
            return rf"{value} $\pm$ {pm}" if pm else value
        value = f"<strong>{value}</strong>" if bold else value
        return f'{value} <span class="pm">±&#8239;{pm}</span>' if pm else value

    def _mean_text(self, m: str, bold: bool, style: str) -> str:
        mean = self.mean(m)
        txt = "—" if mean is None else _fmt(mean, self.digits)
        if not bold:
            return txt
        return {"md": f"**{txt}**", "tex": rf"\textbf{{{txt}}}", "html": f"<strong>{txt}</strong>"}[style]

    def _rows(self, style: str) -> list[list[str]]:
        best = {t: self.best(t) for t in [*self.tasks, "mean"]}
        return [[*(self._cell_text(self.cells.get((m, t)), m in best[t], style) for t in self.tasks),
                 self._mean_text(m, m in best["mean"], style)] for m in self.models]

    def to_markdown(self, caption: bool = True) -> str:
        """A GitHub-flavoured Markdown table (bold best per column), with a caption line after it."""
        head = ["model", *(self._task_name(t) for t in self.tasks), "mean"]
        lines = ["| " + " | ".join(head) + " |", "| :--- |" + " ---: |" * (len(head) - 1)]
        for m, row in zip(self.models, self._rows("md"), strict=True):
            lines.append("| " + " | ".join([m.replace("|", "\\|"), *row]) + " |")
        if caption:
            lines += ["", f"*{self.caption()}*"]
        return "\n".join(lines)

    def to_latex(self) -> str:
        r"""A booktabs ``tabular`` (needs ``\usepackage{booktabs}``), preceded by a comment with the caption."""
        head = ["Model", *(_latex_escape(self._task_name(t)).replace("†", r"$^\dagger$") for t in self.tasks),
                "Mean"]
        lines = [f"% {self.caption(ascii_only=True)}", r"\begin{tabular}{l" + "r" * (len(head) - 1) + "}", r"\toprule",
                 " & ".join(head) + r" \\", r"\midrule"]
        for m, row in zip(self.models, self._rows("tex"), strict=True):
            lines.append(" & ".join([_latex_escape(m), *row]).replace("—", "--") + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines)

    def to_html(self) -> str:
        """A plain HTML table (valid without JavaScript); cells carry the CI, probe and layer as a tooltip."""
        out = ['<table class="leaderboard sortable">', f"<caption>{html.escape(self.caption())}</caption>",
               "<thead><tr><th>model</th>"]
        out += [f'<th class="num">{html.escape(self._task_name(t))}</th>' for t in self.tasks]
        out.append('<th class="num">mean</th></tr></thead><tbody>')
        for m, row in zip(self.models, self._rows("html"), strict=True):
            out.append(f"<tr><td>{html.escape(m)}</td>")
            for t, txt in zip(self.tasks, row, strict=False):
                c = self.cells.get((m, t))
                if c is None:
                    out.append(f'<td class="num" data-sort="">{txt}</td>')
                    continue
                tip = f"95% CI [{_fmt(c.low, self.digits)}, {_fmt(c.high, self.digits)}]"
                tip += f", n={c.n}" if c.n else ""
                tip += f"; {c.probe} probe, layer {c.layer}" if c.probe else ""
                out.append(f'<td class="num" data-sort="{c.value!r}" title="{html.escape(tip)}">{txt}</td>')
            mean = self.mean(m)
            out.append(f'<td class="num" data-sort="{"" if mean is None else repr(mean)}">{row[-1]}</td></tr>')
        out.append("</tbody></table>")
        return "".join(out)


def leaderboard(results: list[SweepResult], metric: str = "accuracy", *, probe: str | None = None,
                allow_mixed: bool = False, digits: int = 3) -> Leaderboard:
    """Models × tasks table of the selected test `metric` ± CI.

    Args:
        results: sweep results, one per (model, task).
        metric: a test metric present in the results (accuracy, balanced_accuracy, macro_f1, auroc, ...).
        probe: report this probe family; None = per cell, the family with the best validation score.
        allow_mixed: accept results of one task name computed on different datasets (different
            ``dataset_fingerprint``); they are marked in the output. Refused by default.
        digits: decimals shown.

    Raises:
        DataError: no results; two results for the same model and task; a task from different datasets.
        ConfigError: the metric or probe is not in the results.
    """
    if not results:
        raise DataError("no results to compare; give at least one probewise results file.")
    labels = model_labels(results)
    fps: dict[str, dict[str, list[str]]] = {}
    cells: dict[tuple[str, str], Cell] = {}
    seen: dict[tuple[str, str], object] = {}
    for res, label in zip(results, labels, strict=True):
        task = str(res.store.get("dataset") or "?")
        fps.setdefault(task, {}).setdefault(str(res.store.get("dataset_fingerprint")), []).append(label)
        p = pick_probe(res, probe)
        sel = res.selected[p]
        est = sel.get("test", {}).get(metric)
        if est is None:
            raise ConfigError(f"metric {metric!r} is not in the test results of {task!r}; "
                              f"available: {', '.join(sel.get('test', {}))}.")
        if (label, task) in cells:
            raise DataError(f"two results for model {label!r} on task {task!r} (stores {seen[(label, task)]} and "
                            f"{res.store.get('path')}); give one result per model and task.")
        seen[(label, task)] = res.store.get("path")
        d = est if isinstance(est, dict) else {"value": est}
        value, low, high = (math.nan if d.get(key) is None else float(d[key]) for key in ("value", "low", "high"))
        cells[(label, task)] = Cell(value, low, high, d.get("n"), p, str(sel.get("layer")))
    mixed = [t for t, by_fp in fps.items() if len(by_fp) > 1]
    if mixed and not allow_mixed:
        t = mixed[0]
        desc = " vs ".join(f"dataset_fingerprint {fp} ({', '.join(ms)})" for fp, ms in fps[t].items())
        raise DataError(f"task {t!r} comes from different datasets: {desc}. Scores on different data are not "
                        "comparable; compare results extracted from the same dataset, or pass allow_mixed=True "
                        "(--allow-mixed) to compare anyway.")
    try:
        gib = get_metric(metric).greater_is_better
    except ConfigError:
        gib = True
    return Leaderboard(metric, list(dict.fromkeys(labels)), list(fps), cells, gib, digits, mixed)

