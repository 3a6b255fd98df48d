"""Running one sweep job: fit the grid on train, score validation, choose per layer, then score test.

Example:
    >>> # ctx = JobContext(cfg, Features(store), probe_layers); result = run_job(jobs[0], ctx)

The order inside a job is the integrity contract: every grid point is scored on validation, each
layer's choice is made from those validation rows alone (`selection.select_on_val`), and only then is
the test split read, to score the chosen model of each layer (the layer curve) and its control task.
Choosing among layers happens later, over validation rows only, when the sweep gathers the jobs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from probewise.store.ragged import Ragged
from probewise.sweeps import selection
from probewise.sweeps.families import get_family
from probewise.sweeps.features import Features
from probewise.sweeps.jobs import Job
from probewise.sweeps.selection import VAL_METRICS, point_metrics, probs_2d, score_on_test


@dataclass
class JobContext:
    """What every job of one sweep shares: the config, the features, the labels and each probe's layer order."""

    cfg: object  # SweepConfig
    feats: Features
    probe_layers: Mapping[str, Sequence[str]]
    _control: dict | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.classes = self.feats.classes
        self.k = len(self.classes)
        self.y_tr, self.y_va = self.feats.labels("train"), self.feats.labels("val")

    def control_labels(self) -> dict[str, np.ndarray]:
        if self._control is None:
            self._control = self.feats.control_labels(self.cfg.seed)
        return self._control


def run_job(job: Job, ctx: JobContext) -> dict:
    """The job's result: `rows` (train/val per grid point), `per_layer` (choice, test, control), `test_probs`."""
    cfg, feats = ctx.cfg, ctx.feats
    family = get_family(job.probe, cfg.engine)
    kind = family.input_kind
    values = cfg.grid_for(job.probe)
    order = sorted(range(len(values)), key=lambda g: values[g], reverse=(family.param != "C"))
    reg_rank = {g: r for r, g in enumerate(order)}
    layer_rank = {name: i for i, name in enumerate(ctx.probe_layers[job.probe])}

    t0 = time.perf_counter()
    fitted = family.fit_grid([feats.get(n, "train", kind) for n in job.layers], ctx.y_tr, values, ctx.k, cfg.seed)
    fit_seconds = time.perf_counter() - t0

    rows: list[dict] = []
    for name, gm in zip(job.layers, fitted, strict=True):
        for g, v in enumerate(values):
            p_va = probs_2d(gm.predict_proba(feats.get(name, "val", kind), g))
            p_tr = probs_2d(gm.predict_proba(feats.get(name, "train", kind), g))
            rows.append({
                "probe": job.probe, "layer": name, "param": family.param, "value": v, "g": g,
                "reg_rank": reg_rank[g], "layer_rank": layer_rank[name],
                "train": {"accuracy": float((p_tr.argmax(1) == ctx.y_tr).mean())},
                "val": point_metrics(ctx.y_va, p_va, VAL_METRICS),
            })
    # Each layer's choice sees its validation rows only ...
    choices = {name: selection.select_on_val([r for r in rows if r["layer"] == name], cfg.select)
               for name in job.layers}
    # ... and the test split is read after it, to score what was chosen.
    per_layer, test_probs = [], {}
    for name, gm in zip(job.layers, fitted, strict=True):
        row = choices[name]
        test, probs = _score_test(ctx, family, name, gm, row)
        entry = {"probe": job.probe, "layer": name, "param": row["param"], "value": row["value"],
                 "val": row["val"], "train": row["train"], "test": test}
        if cfg.control:
            entry["control"] = {"accuracy": _control(ctx, family, name, row)}
            entry["selectivity"] = entry["test"]["accuracy"]["value"] - entry["control"]["accuracy"]
        per_layer.append(entry)
        test_probs[name] = np.round(probs, 6).tolist()
    for r in rows:
        r.pop("g")
    return {"rows": rows, "per_layer": per_layer, "test_probs": test_probs, "fit_seconds": fit_seconds}


def _score_test(ctx: JobContext, family, name: str, gm, row: dict) -> tuple[dict, np.ndarray]:
    cfg, feats, kind = ctx.cfg, ctx.feats, family.input_kind
    if cfg.refit:
        Xtv = _concat(feats.get(name, "train", kind), feats.get(name, "val", kind))
        gm = family.fit_grid([Xtv], np.concatenate([ctx.y_tr, ctx.y_va]), [row["value"]], ctx.k, cfg.seed)[0]
        p = gm.predict_proba(feats.get(name, "test", kind), 0)
    else:
        p = gm.predict_proba(feats.get(name, "test", kind), row["g"])
    p = probs_2d(p)
    return score_on_test(feats.labels("test"), p, cfg.n_boot, cfg.seed), p


def _control(ctx: JobContext, family, name: str, row: dict) -> float:
    """Test accuracy of the same probe and value trained on control-task labels (Hewitt & Liang)."""
    cfg, feats, kind = ctx.cfg, ctx.feats, family.input_kind
    yc = ctx.control_labels()
    gm = family.fit_grid([feats.get(name, "train", kind)], yc["train"], [row["value"]], ctx.k, cfg.seed)[0]
    p = gm.predict_proba(feats.get(name, "test", kind), 0)
    return float((np.asarray(p).argmax(1) == yc["test"]).mean())


def _concat(a, b):
    if isinstance(a, Ragged):
        return Ragged.from_list([a[i] for i in range(len(a))] + [b[i] for i in range(len(b))])
    return torch.cat([a, b])
