"""The embedded default end to end: built-in tasks → MiniLM store per task → layer sweep → table and plot.

Example:
    $ probewise demo                      # all tasks, 2000 sentences each, a few minutes on 2 CPU cores
    $ probewise demo --tasks negation,bigram_shift --task-size 600
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from probewise.data.tasks import list_tasks
from probewise.errors import ConfigError
from probewise.extract import ExtractConfig, run_extract
from probewise.report.html import write_report
from probewise.report.plots import plot_layer_curves
from probewise.sweeps import SweepConfig, SweepResult, sweep


@dataclass
class DemoConfig:
    out: str = "probewise-demo"
    tasks: tuple[str, ...] | None = None
    task_size: int = 2000
    model: str = "default"
    seed: int = 0
    engine: str = "torch"
    progress: bool = True


def summary_table(results: list[SweepResult], metric: str = "accuracy") -> str:
    """Tasks × layers of test `metric` (val in brackets); `*` marks the layer chosen on val."""
    layers = [r["layer"] for r in results[0].per_layer if r["probe"] == "logistic"]
    head = f"{'task':18s}" + "".join(f"{'L' + lay:>14s}" for lay in layers) + f"{'best (val)':>12s}"
    lines = [f"test {metric} [val] per layer · logistic probe, C chosen on val per layer", head]
    for res in results:
        sel = res.selected["logistic"]["layer"]
        cells = []
        for r in (r for r in res.per_layer if r["probe"] == "logistic"):
            mark = "*" if r["layer"] == sel else " "
            cells.append(f"{r['test'][metric]['value']:.3f} [{r['val'][metric]:.2f}]{mark}".rjust(14))
        lines.append(f"{res.store['dataset']:18s}" + "".join(cells) + f"{'L' + sel:>12s}")
    return "\n".join(lines)


def run_demo(cfg: DemoConfig) -> dict:
    known = [t.name for t in list_tasks()]
    tasks = list(cfg.tasks or known)
    unknown = [t for t in tasks if t not in known]
    if unknown:
        raise ConfigError(f"unknown task {unknown[0]!r}; built-in tasks: {', '.join(known)}.")
    out = Path(cfg.out)
    results: list[SweepResult] = []
    t0 = time.perf_counter()
    for name in tasks:
        store = run_extract(ExtractConfig(out=str(out / "stores" / name), model=cfg.model, task=name,
                                          task_size=cfg.task_size, seed=cfg.seed, progress=cfg.progress))
        res = sweep(store, SweepConfig(probes=("logistic",), engine=cfg.engine, seed=cfg.seed))
        res.save(out / "results" / name)
        results.append(res)
        if cfg.progress:
            sel = res.selected["logistic"]
            print(f"  {name}: layer {sel['layer']} chosen on val, test accuracy "
                  f"{sel['test']['accuracy']['value']:.3f}", file=sys.stderr)
    plot = plot_layer_curves(results, out / "layers.png", probe="logistic")
    report = write_report(results, out / "report.html", title="probewise demo · all-MiniLM-L6-v2 · built-in tasks")
    table = summary_table(results)
    summary = {
        "config": asdict(cfg),
        "seconds": round(time.perf_counter() - t0, 1),
        "tasks": {r.store["dataset"]: {"selected_layer": r.selected["logistic"]["layer"],
                                       "C": r.selected["logistic"]["value"],
                                       "test_accuracy": r.selected["logistic"]["test"]["accuracy"],
                                       "results": str(out / "results" / f"{r.store['dataset']}.json")}
                  for r in results},
        "plot": str(plot),
        "report": str(report),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(table)
    print(f"\nresults: {out / 'results'}/<task>.json · plot: {plot} · summary: {out / 'summary.json'}")
    print(f"report: {report.resolve()}")
    return summary
