"""The sweep: every probe × layer × hyperparameter, chosen on validation, scored once on test.

Example:
    >>> # from probewise import open_store, sweep, SweepConfig
    >>> # result = sweep(open_store("runs/reviews"), SweepConfig(probes=("logistic", "ridge")))
    >>> # print(result.table())

Integrity by construction: `select_on_val` receives validation rows only; the test split is read
after selection, to score the chosen configurations.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from probewise.errors import ConfigError, DataError
from probewise.evaluation.controls import majority_baseline, random_direction_baseline, tfidf_baseline
from probewise.evaluation.geometry import layer_geometry
from probewise.metrics import evaluate_classification, get_metric
from probewise.store.ragged import Ragged
from probewise.store.reader import Store
from probewise.sweeps.families import default_grid, get_family
from probewise.sweeps.features import Features
from probewise.sweeps.results import SweepResult

VAL_METRICS = ("accuracy", "balanced_accuracy", "log_loss", "auroc")
TEST_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "auroc", "log_loss", "ece")


@dataclass
class SweepConfig:
    """What to sweep. Flags of `probewise sweep` map onto these fields.

    Attributes:
        probes: probe families: logistic, ridge, meandiff (batched solvers); mlp, knn (pooled); efficient,
            attentive, moment, mean_linear, ema_max, attention, multimax, rolling (token stores).
        layers: store layers to sweep (None = all).
        C_grid / alpha_grid / shrinkage_grid: the grid of each family (None = its default).
        select: validation metric that chooses (accuracy | balanced_accuracy | log_loss | auroc).
        refit: refit the chosen configuration on train+val before scoring test.
        combine: layers concatenated into one extra feature set (multi-block linear evaluation).
        grids: probe → grid values for the zoo probes (e.g. {"mlp": (1e-3, 1e-1), "knn": (10, 20)}).
        token_pooling: how pooled probes read a tokens store (mean | max | first | last).
        level: example (one label per example) | token (per-token labels of a word-labelled tokens store:
            every labelled token is one example; the control task assigns a random label per word type).
        engine: torch (batched, fast) | sklearn (the reference loop); zoo probes are torch either way.
        n_boot: bootstrap resamples for test intervals.
        seed: seed of everything random (solvers, bootstrap, control labels).
        control: train each layer's chosen probe on permuted labels too (Hewitt & Liang's control
            task) and report selectivity = accuracy − control accuracy.
        baselines: report majority-class, random-direction and (text stores) TF-IDF bag-of-words baselines,
            and per-layer geometry.
    """

    probes: tuple[str, ...] = ("logistic",)
    layers: tuple[str, ...] | None = None
    C_grid: tuple[float, ...] | None = None
    alpha_grid: tuple[float, ...] | None = None
    shrinkage_grid: tuple[float, ...] | None = None
    select: str = "accuracy"
    refit: bool = False
    combine: tuple[str, ...] | None = None
    engine: str = "torch"
    n_boot: int = 1000
    seed: int = 0
    control: bool = True
    baselines: bool = True
    token_pooling: str = "mean"
    grids: dict | None = None
    level: str = "example"

    def grid_for(self, probe: str) -> tuple[float, ...]:
        given = {"logistic": self.C_grid, "ridge": self.alpha_grid, "meandiff": self.shrinkage_grid}.get(probe)
        if given is None and self.grids:
            given = self.grids.get(probe)
        values = tuple(float(v) for v in (given if given is not None else default_grid(probe)))
        if not values:
            raise ConfigError(f"the {probe} grid is empty.")
        if probe != "meandiff" and any(not v > 0 for v in values):
            raise ConfigError(f"{probe} grid values must be > 0 (got {[v for v in values if not v > 0]}).")
        if probe == "meandiff" and any(not 0 <= v <= 1 for v in values):
            raise ConfigError("meandiff shrinkage values must be in [0, 1].")
        return values


def _probs_2d(p: np.ndarray) -> np.ndarray:
    return np.stack([1 - p, p], 1) if p.ndim == 1 else p


def _point_metrics(y: np.ndarray, probs: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """Point estimates (no bootstrap) of `names` from class probabilities `[n, k]`."""
    x = probs[:, 1] if probs.shape[1] == 2 else probs
    return {m: e.value for m, e in evaluate_classification(y, x, names, n_boot=0).items()}


def select_on_val(rows: Sequence[dict], metric: str) -> dict:
    """Choose the best row by its validation metric. Rows hold validation numbers only.

    Ties (common on accuracy) go to the stronger regularization (first grid value in the order the
    family lists from most to least regularized), then to the lower layer: the simpler model wins.
    """
    spec = get_metric(metric)
    sign = 1.0 if spec.greater_is_better else -1.0

    def key(r):
        v = r["val"][metric]
        return (-(sign * v) if np.isfinite(v) else np.inf, r["reg_rank"], r["layer_rank"])

    return min(rows, key=key)


def sweep(store: Store, config: SweepConfig | None = None, *, progress: bool = False) -> SweepResult:
    """Run the sweep on a pooled store. See `SweepConfig`."""
    cfg = config or SweepConfig()
    if cfg.select not in VAL_METRICS:
        raise ConfigError(f"select={cfg.select!r}: choose one of {', '.join(VAL_METRICS)}.")
    layers = [store.resolve_layer(x) for x in (cfg.layers or store.layers)]
    for probe in cfg.probes:  # every config check before any data is read
        get_family(probe, cfg.engine)
        cfg.grid_for(probe)
    if cfg.level not in ("example", "token"):
        raise ConfigError(f"level={cfg.level!r}: use 'example' or 'token'.")
    feats = Features(store, cfg.token_pooling, level=cfg.level)
    classes = feats.classes
    k = len(classes)
    y_tr, y_va = feats.labels("train"), feats.labels("val")
    if len(y_va) == 0:
        raise DataError("the store has no validation examples; selection needs a val split.")
    for split, yy in (("train", y_tr), ("val", y_va)):
        present = np.unique(yy)
        if len(present) < 2:
            raise DataError(f"the {split} split has a single class ({classes[present[0]]!r}); re-split the data.")
    if len(y_va) < k:
        raise DataError(f"the val split has {len(y_va)} examples for {k} classes; give it more examples.")

    names = list(layers)
    if cfg.combine:
        names.append("+".join(store.resolve_layer(x) for x in cfg.combine))

    grid_rows: list[dict] = []
    models: dict[tuple[str, str], object] = {}
    timing: dict[str, float] = {}
    probe_names: dict[str, list[str]] = {}
    for probe in cfg.probes:
        family = get_family(probe, cfg.engine)
        kind = family.input_kind
        probe_names[probe] = [n for n in names if kind == "pooled" or "+" not in n]
        values = cfg.grid_for(probe)
        order = sorted(range(len(values)), key=lambda g: values[g], reverse=(family.param != "C"))
        reg_rank = {g: r for r, g in enumerate(order)}
        t0 = time.perf_counter()
        groups: dict[object, list[str]] = {}
        for name in probe_names[probe]:
            X = feats.get(name, "train", kind)
            groups.setdefault(X.shape[1] if kind == "pooled" else name, []).append(name)
        for group in groups.values():
            fitted = family.fit_grid([feats.get(n, "train", kind) for n in group], y_tr, values, k, cfg.seed)
            for name, gm in zip(group, fitted, strict=True):
                models[(probe, name)] = gm
        timing[f"{probe}_fit_seconds"] = round(time.perf_counter() - t0, 4)
        for li, name in enumerate(probe_names[probe]):
            gm = models[(probe, name)]
            for g, v in enumerate(values):
                p_va = _probs_2d(gm.predict_proba(feats.get(name, "val", kind), g))
                p_tr = _probs_2d(gm.predict_proba(feats.get(name, "train", kind), g))
                grid_rows.append({
                    "probe": probe, "layer": name, "param": family.param, "value": v, "g": g,
                    "reg_rank": reg_rank[g], "layer_rank": li,
                    "train": {"accuracy": float((p_tr.argmax(1) == y_tr).mean())},
                    "val": _point_metrics(y_va, p_va, VAL_METRICS),
                })

    # Selection sees validation rows only.
    per_layer_choice = {}
    selected_choice = {}
    for probe in cfg.probes:
        rows = [r for r in grid_rows if r["probe"] == probe]
        for name in probe_names[probe]:
            per_layer_choice[(probe, name)] = select_on_val([r for r in rows if r["layer"] == name], cfg.select)
        selected_choice[probe] = select_on_val([r for r in rows if "+" not in r["layer"]], cfg.select)

    # The test split is read now, once, to score what was chosen.
    y_te = feats.labels("test")
    per_layer, selected = [], {}
    preds: dict[tuple[str, str], np.ndarray] = {}

    def score(probe, row):
        family = get_family(probe, cfg.engine)
        kind, name = family.input_kind, row["layer"]
        if cfg.refit:
            Xtv = _concat(feats.get(name, "train", kind), feats.get(name, "val", kind))
            gm = family.fit_grid([Xtv], np.concatenate([y_tr, y_va]), [row["value"]], k, cfg.seed)[0]
            p = gm.predict_proba(feats.get(name, "test", kind), 0)
        else:
            p = models[(probe, name)].predict_proba(feats.get(name, "test", kind), row["g"])
        p = _probs_2d(p)
        preds[(probe, name)] = p
        est = evaluate_classification(y_te, p if k > 2 else p[:, 1], TEST_METRICS, n_boot=cfg.n_boot,
                                      seed=cfg.seed)
        return {m: e.to_dict() for m, e in est.items()}

    y_control = feats.control_labels(cfg.seed) if cfg.control else None

    def control(probe, row):
        family = get_family(probe, cfg.engine)
        kind, name = family.input_kind, row["layer"]
        gm = family.fit_grid([feats.get(name, "train", kind)], y_control["train"], [row["value"]], k, cfg.seed)[0]
        p = gm.predict_proba(feats.get(name, "test", kind), 0)
        return float((np.asarray(p).argmax(1) == y_control["test"]).mean())

    for (probe, name), row in per_layer_choice.items():
        entry = {"probe": probe, "layer": name, "param": row["param"], "value": row["value"],
                 "val": row["val"], "train": row["train"], "test": score(probe, row)}
        if cfg.control:
            entry["control"] = {"accuracy": control(probe, row)}
            entry["selectivity"] = entry["test"]["accuracy"]["value"] - entry["control"]["accuracy"]
        per_layer.append(entry)
    for probe, row in selected_choice.items():
        chosen = next(p for p in per_layer if p["probe"] == probe and p["layer"] == row["layer"])
        selected[probe] = {"layer": row["layer"], "param": row["param"], "value": row["value"],
                           "select_metric": cfg.select, "val": row["val"], "test": chosen["test"],
                           "control": chosen.get("control"), "selectivity": chosen.get("selectivity"),
                           "refit": cfg.refit,
                           "test_predictions": {"y": y_te.tolist(),
                                                "probs": np.round(preds[(probe, row["layer"])], 6).tolist()}}
    for r in grid_rows:
        r.pop("g")
    m = store.manifest
    provenance = {
        "path": str(store.root), "model": m["identity"]["source"].get("model"),
        "model_fingerprint": m["identity"]["source"].get("fingerprint"),
        "dataset": m["dataset"]["name"], "dataset_fingerprint": m["identity"]["dataset_fingerprint"],
        "pooling": store.pooling, "classes": classes,
        "split_sizes": {"train": len(y_tr), "val": len(y_va), "test": len(y_te)}, "level": cfg.level,
        "split_seed": m["dataset"].get("split_seed", m["dataset"].get("task_seed")),
    }
    baselines, geometry = {}, []
    if cfg.baselines:
        baselines["majority"] = _baseline_dict(majority_baseline(y_tr, y_te, n_boot=cfg.n_boot, seed=cfg.seed))
        for lay in sorted({sel["layer"] for sel in selected.values()}):
            baselines[f"random_direction@{lay}"] = _baseline_dict(random_direction_baseline(
                feats.get(lay, "train").double().numpy(), y_tr, feats.get(lay, "test").double().numpy(), y_te,
                seed=cfg.seed, n_boot=cfg.n_boot))
        texts = store.texts("train") if cfg.level == "example" else None
        if texts is not None:
            baselines["tfidf"] = _baseline_dict(tfidf_baseline(
                texts, y_tr, store.texts("val"), y_va, store.texts("test"), y_te, n_boot=cfg.n_boot, seed=cfg.seed))
        geometry = [layer_geometry(feats.get(n, "train").double().numpy(), y_tr, layer=n).to_dict() for n in layers]
    return SweepResult(grid_rows, per_layer, selected, provenance, asdict(cfg), timing, baselines=baselines,
                       geometry=geometry)


def _concat(a, b):
    if isinstance(a, Ragged):
        return Ragged.from_list([a[i] for i in range(len(a))] + [b[i] for i in range(len(b))])
    return torch.cat([a, b])


def _baseline_dict(b) -> dict:
    return {"name": b.name, "test": {m: e.to_dict() for m, e in b.metrics.items()}, "chosen": b.chosen,
            "n_test": b.n_test}
